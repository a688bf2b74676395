#include "runtime/protocols/http2/hpack_huffman.h"

#include <array>
#include <vector>

#include "runtime/protocols/http2/hpack_tables.h"

namespace probe::http2 {
namespace {

// A binary tree over the code, walked one bit at a time. The code is canonical and complete,
// so every path ends at a symbol; -1 marks "no child", which only a corrupt table could leave.
struct Node {
  std::array<int16_t, 2> child{-1, -1};
  int16_t symbol = -1;
};

std::vector<Node> build_tree() {
  std::vector<Node> nodes(1);
  for (uint16_t sym = 0; sym < kHuffmanSymbols; ++sym) {
    const HuffmanCode& code = huffman_code(sym);
    size_t at = 0;
    for (int bit = code.length - 1; bit >= 0; --bit) {
      int b = (code.bits >> bit) & 1;
      if (nodes[at].child[b] < 0) {
        nodes[at].child[b] = static_cast<int16_t>(nodes.size());
        nodes.emplace_back();
      }
      at = static_cast<size_t>(nodes[at].child[b]);
    }
    nodes[at].symbol = static_cast<int16_t>(sym);
  }
  return nodes;
}

const std::vector<Node>& tree() {
  static const std::vector<Node> nodes = build_tree();
  return nodes;
}

}  // namespace

Status huffman_decode(std::span<const uint8_t> in, std::string& out, size_t max_out) {
  const std::vector<Node>& nodes = tree();
  size_t at = 0;
  int pending_bits = 0;      // bits read since the last complete symbol
  bool pending_ones = true;  // ... and whether they were all 1 (valid padding)
  for (uint8_t byte : in) {
    for (int bit = 7; bit >= 0; --bit) {
      int b = (byte >> bit) & 1;
      int16_t next = nodes[at].child[b];
      if (next < 0) return make_error("invalid Huffman code");
      at = static_cast<size_t>(next);
      ++pending_bits;
      pending_ones = pending_ones && b == 1;
      int16_t sym = nodes[at].symbol;
      if (sym < 0) continue;
      if (sym == kHuffmanEos) return make_error("Huffman string contains EOS");
      if (out.size() >= max_out) return make_error("Huffman string longer than {} bytes", max_out);
      out.push_back(static_cast<char>(sym));
      at = 0;
      pending_bits = 0;
      pending_ones = true;
    }
  }
  if (pending_bits > 7) return make_error("Huffman padding longer than 7 bits");
  if (!pending_ones) return make_error("Huffman padding is not a prefix of EOS");
  return {};
}

}  // namespace probe::http2
