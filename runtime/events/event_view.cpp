#include "runtime/events/event_view.h"

#include <cstring>

namespace probe {

std::optional<int64_t> EventView::integer(const FieldLayout& f) const {
  if (f.is_variable() || f.offset + f.size > size_) return std::nullopt;
  const uint8_t* p = data_ + f.offset;
  switch (f.type) {
    case plan::FieldType::kI8: return static_cast<int8_t>(p[0]);
    case plan::FieldType::kU8:
    case plan::FieldType::kBool: return p[0];
    case plan::FieldType::kI16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case plan::FieldType::kU16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case plan::FieldType::kI32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case plan::FieldType::kU32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case plan::FieldType::kI64:
    case plan::FieldType::kU64:
    case plan::FieldType::kPtr: { int64_t v; std::memcpy(&v, p, 8); return v; }
    default: return std::nullopt;
  }
}

std::optional<BytesValue> EventView::bytes(const FieldLayout& f) const {
  if (!f.is_variable()) {
    if (f.type != plan::FieldType::kString || f.offset + f.size > size_) return std::nullopt;
    const char* s = reinterpret_cast<const char*>(data_ + f.offset);
    size_t n = strnlen(s, f.size);
    return BytesValue{std::string_view(s, n), static_cast<uint32_t>(n)};
  }
  size_t off = probe_->fixed_size;
  for (int i = 0;; ++i) {
    if (off + sizeof(pk_var) > size_) return std::nullopt;
    pk_var v;
    std::memcpy(&v, data_ + off, sizeof v);
    if (off + sizeof v + v.captured > size_) return std::nullopt;
    if (i == f.var_index)
      return BytesValue{std::string_view(reinterpret_cast<const char*>(data_ + off + sizeof v), v.captured),
                        v.original};
    off = (off + sizeof v + v.captured + 7) & ~size_t{7};
  }
}

std::optional<EventView> EventDecoder::decode(const void* data, size_t size) const {
  if (size < sizeof(pk_event_header)) return std::nullopt;
  pk_event_header h;
  std::memcpy(&h, data, sizeof h);
  const ProbeManifest* p = manifest_.probe(h.probe_id);
  if (!p || h.size > size || h.size < p->fixed_size) return std::nullopt;
  return EventView(*p, static_cast<const uint8_t*>(data), h.size);
}

}  // namespace probe
