// Decodes HPACK Huffman-coded strings (RFC 7541 section 5.2, code in Appendix B).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"

namespace probe::http2 {

// Appends the decoded octets of `in` to `out`. Fails on the EOS symbol, on padding longer than
// 7 bits or not made of 1 bits, and when `out` would grow beyond `max_out` bytes.
Status huffman_decode(std::span<const uint8_t> in, std::string& out, size_t max_out);

}  // namespace probe::http2
