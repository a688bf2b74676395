// Protocol-buffers wire format, the few pieces OTLP needs: varints, fixed64, doubles, bytes and
// nested messages (written in place, then prefixed with their length). Fields that hold their
// default value are left out, as proto3 encoders do, unless written with `always` (oneof
// members such as AnyValue's, whose presence is the information).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace probe::otlp {

class ProtoWriter {
 public:
  explicit ProtoWriter(std::string& out) : out_(out) {}

  void varint_field(uint32_t field, uint64_t v, bool always = false) {
    if (!v && !always) return;
    tag(field, 0);
    varint(v);
  }
  void int64_field(uint32_t field, int64_t v, bool always = false) {
    varint_field(field, static_cast<uint64_t>(v), always);  // two's complement, 10 bytes if negative
  }
  void bool_field(uint32_t field, bool v, bool always = false) { varint_field(field, v ? 1 : 0, always); }
  void fixed64_field(uint32_t field, uint64_t v, bool always = false) {
    if (!v && !always) return;
    tag(field, 1);
    fixed64(v);
  }
  void double_field(uint32_t field, double v, bool always = false) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (!bits && !always) return;
    tag(field, 1);
    fixed64(bits);
  }
  void bytes_field(uint32_t field, std::string_view v, bool always = false) {
    if (v.empty() && !always) return;
    tag(field, 2);
    varint(v.size());
    out_.append(v.data(), v.size());
  }
  void packed_fixed64(uint32_t field, const std::vector<uint64_t>& values) {
    if (values.empty()) return;
    tag(field, 2);
    varint(values.size() * 8);
    for (uint64_t v : values) fixed64(v);
  }
  void packed_double(uint32_t field, const std::vector<double>& values) {
    if (values.empty()) return;
    tag(field, 2);
    varint(values.size() * 8);
    for (double d : values) {
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      fixed64(bits);
    }
  }
  // A nested message: `body` writes its fields through this writer.
  template <typename Body>
  void message(uint32_t field, Body&& body) {
    tag(field, 2);
    size_t start = out_.size();
    body();
    size_t len = out_.size() - start;
    char prefix[10];
    size_t n = 0;
    uint64_t v = len;
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      prefix[n++] = static_cast<char>(v ? b | 0x80 : b);
    } while (v);
    out_.insert(start, prefix, n);
  }

 private:
  void tag(uint32_t field, uint32_t wire_type) { varint((static_cast<uint64_t>(field) << 3) | wire_type); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void fixed64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    out_.append(b, 8);
  }
  std::string& out_;
};

// Reads the few response fields OTLP needs (partial success). Unknown fields are skipped.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}
  // Next field: number, wire type, and its varint value or its bytes. False at the end or on
  // malformed input.
  bool next(uint32_t* field, uint32_t* wire_type, uint64_t* value, std::string_view* bytes);

 private:
  bool varint(uint64_t* v);
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace probe::otlp
