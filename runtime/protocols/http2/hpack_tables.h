// The fixed data of HPACK (RFC 7541): the static table (Appendix A) and the Huffman code
// (Appendix B). The decoder and the Huffman reader look values up here; nothing else does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace probe::http2 {

struct StaticEntry {
  std::string_view name;
  std::string_view value;
};

// Indices 1..kStaticTableSize address the static table; dynamic entries follow them.
inline constexpr size_t kStaticTableSize = 61;

// `index` must be in 1..kStaticTableSize.
const StaticEntry& static_entry(size_t index);

struct HuffmanCode {
  uint32_t bits;   // the code, right-aligned
  uint8_t length;  // in bits, 5..30
};

// Symbols 0..255 are octets; 256 is EOS, which never appears inside a valid string.
inline constexpr size_t kHuffmanSymbols = 257;
inline constexpr uint16_t kHuffmanEos = 256;

// `symbol` must be below kHuffmanSymbols.
const HuffmanCode& huffman_code(uint16_t symbol);

}  // namespace probe::http2
