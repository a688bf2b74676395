#include "runtime/sinks/otlp/otlp_model.h"

#include <algorithm>

#include "runtime/sinks/otlp/proto_writer.h"

namespace probe::otlp {

size_t span_bytes(const Span& span) {
  size_t n = sizeof(Span) + span.name.capacity() + span.status_message.capacity() +
             span.attributes.capacity() * sizeof(Attribute);
  for (const auto& a : span.attributes) {
    n += a.key.capacity();
    if (auto* s = std::get_if<std::string>(&a.value)) n += s->capacity();
    if (auto* list = std::get_if<std::vector<Scalar>>(&a.value))
      for (const auto& item : *list)
        n += sizeof(Scalar) + (std::holds_alternative<std::string>(item) ? std::get<std::string>(item).size() : 0);
  }
  return n;
}

std::string hex(const uint8_t* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xf];
  }
  return out;
}

std::vector<uint64_t> bucket_counts(const SeriesSnapshot& series, size_t bounds) {
  std::vector<uint64_t> out(bounds + 1, 0);
  uint64_t previous = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t cumulative = i < series.buckets.size() ? series.buckets[i] : previous;
    if (i == bounds && series.buckets.size() <= bounds) cumulative = std::max(previous, series.count);
    // Maps are read while the kernel updates them; a bucket never counts below zero.
    out[i] = cumulative > previous ? cumulative - previous : 0;
    previous = std::max(previous, cumulative);
  }
  return out;
}

bool ProtoReader::varint(uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool ProtoReader::next(uint32_t* field, uint32_t* wire_type, uint64_t* value, std::string_view* bytes) {
  if (pos_ >= data_.size()) return false;
  uint64_t tag;
  if (!varint(&tag)) return false;
  *field = static_cast<uint32_t>(tag >> 3);
  *wire_type = static_cast<uint32_t>(tag & 7);
  switch (*wire_type) {
    case 0: return varint(value);
    case 1:
    case 5: {
      size_t n = *wire_type == 1 ? 8 : 4;
      if (pos_ + n > data_.size()) return false;
      *value = 0;
      for (size_t i = 0; i < n; ++i) *value |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
      pos_ += n;
      return true;
    }
    case 2: {
      uint64_t len;
      if (!varint(&len) || len > data_.size() - pos_) return false;
      *bytes = data_.substr(pos_, len);
      pos_ += len;
      return true;
    }
    default: return false;
  }
}

}  // namespace probe::otlp
