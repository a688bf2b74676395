// Builds HTTP/2 test input: hex strings (RFC 7541 Appendix C is printed in hex) and frames.
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace probe::test {

// "8286 8441" → bytes; whitespace is ignored.
inline std::string from_hex(std::string_view hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

// A 9-byte frame header followed by `payload`; `length` overrides the declared length.
inline std::string h2_frame(uint8_t type, uint8_t flags, uint32_t stream,
                            const std::string& payload, int64_t length = -1) {
  const auto n = static_cast<uint32_t>(length >= 0 ? length : static_cast<int64_t>(payload.size()));
  std::string f = {static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8),
                   static_cast<char>(n),
                   static_cast<char>(type),
                   static_cast<char>(flags),
                   static_cast<char>(stream >> 24),
                   static_cast<char>(stream >> 16),
                   static_cast<char>(stream >> 8),
                   static_cast<char>(stream)};
  return f + payload;
}

inline std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace probe::test
