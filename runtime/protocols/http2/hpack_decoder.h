// HPACK header block decoder (RFC 7541) for one direction of one HTTP/2 connection. The
// dynamic table carries over from block to block, so blocks must be fed in wire order.
//
//   HpackDecoder dec;
//   auto block = dec.decode(fragment_bytes, /*whole=*/true);
//   if (!block) ...block.error().message...
//   for (const HeaderField& h : block->headers) ...
//
// Never throws on bad input and never reads outside `block`; every length and count is
// bounded by HpackLimits, so a decoder holds at most about table_size_cap bytes of entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "runtime/protocols/http2/hpack_dynamic_table.h"

namespace probe::http2 {

using HeaderList = std::vector<HeaderField>;

struct HpackLimits {
  size_t initial_table_size = 4096;  // SETTINGS_HEADER_TABLE_SIZE's initial value
  // Size updates above this fail. Peers may advertise more than 4096 (browsers send 65536)
  // and we cannot see their SETTINGS, so accept what a real peer would plausibly allow.
  size_t table_size_cap = 64 * 1024;
  size_t max_list_bytes = 64 * 1024;  // sum of name + value + 32 per field, as in RFC 9113
  size_t max_headers = 256;
};

struct HpackBlock {
  HeaderList headers;
  // False when the block was cut short (see decode) and `headers` holds only its first fields.
  bool complete = true;
};

class HpackDecoder {
 public:
  explicit HpackDecoder(HpackLimits limits = {});

  // Decodes one header block. `whole` says whether `block` is the entire block; when it is
  // not (a capture cut it short), the fields that are complete are returned with
  // complete = false and the dynamic table forgets its entries (DynamicTable::forget). The
  // same happens when a field refers to an entry lost that way. Malformed input and
  // exceeded limits are errors; the table may then be out of step and the caller should
  // stop using this decoder.
  Result<HpackBlock> decode(std::span<const uint8_t> block, bool whole = true);

  // Back to the state of a new connection.
  void reset();
  // Some of the encoder's entries went by unseen (a lost buffer); see DynamicTable::forget.
  void forget_table() { table_.forget(); }

  const DynamicTable& table() const { return table_; }

 private:
  HpackLimits limits_;
  DynamicTable table_;
};

}  // namespace probe::http2
