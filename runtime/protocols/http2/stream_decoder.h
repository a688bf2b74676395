// Decodes the header blocks in the captured plaintext of one direction of one HTTP/2
// connection (client→server or server→client), buffer after buffer, in order.
//
//   Http2StreamDecoder requests;               // one per connection and direction
//   auto blocks = requests.decode(buffer);     // each buffer starts at a frame header
//   for (const Http2Block& b : *blocks) ...    // b.stream_id, b.headers, b.end_stream
//
// What it returns for imperfect captures:
// - A header block cut by the capture limit (its HEADERS or CONTINUATION frame is the
//   truncated last frame) comes back with the fields that are complete and truncated = true.
//   The HPACK table then forgets its entries (see DynamicTable); later blocks still decode,
//   except fields naming a forgotten entry, which are left out (and mark that block
//   truncated too).
// - A header block whose CONTINUATION frames are missing from the next buffer is returned
//   the same way, when that buffer arrives.
// - Malformed frames or HPACK data are an error, and the decoder is then desynchronised:
//   every later call fails until reset().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/protocols/http2/frames.h"
#include "runtime/protocols/http2/hpack_decoder.h"

namespace probe::http2 {

enum class BlockType { kHeaders, kPushPromise, kRstStream, kGoaway };

// "headers", "push_promise", "rst_stream", "goaway".
std::string_view block_type_name(BlockType type);

struct Http2Block {
  BlockType type = BlockType::kHeaders;
  // The frame's stream; for GOAWAY, the last stream id the sender may have processed.
  uint32_t stream_id = 0;
  uint32_t promised_stream_id = 0;  // PUSH_PROMISE: the stream the promised response uses
  bool end_stream = false;          // HEADERS with END_STREAM: no body follows
  bool truncated = false;           // some fields are missing (see the file comment)
  uint32_t error_code = 0;          // RST_STREAM and GOAWAY
  HeaderList headers;               // in wire order; HEADERS and PUSH_PROMISE only
};

class Http2StreamDecoder {
 public:
  // A header block (HEADERS + CONTINUATIONs) waiting for its end may hold at most this much.
  static constexpr size_t kMaxPendingFragment = 128 * 1024;

  explicit Http2StreamDecoder(HpackLimits limits = {}, FrameLimits frame_limits = {});

  // Decodes one captured buffer; a client preface at its start is skipped.
  Result<std::vector<Http2Block>> decode(std::span<const uint8_t> buffer);
  // Forgets everything, as for a new connection.
  void reset();
  bool desynchronised() const { return desynchronised_; }

 private:
  Result<std::vector<Http2Block>> decode_frames(std::span<const uint8_t> buffer);
  Status on_frame(const Frame& frame, bool first_in_buffer, std::vector<Http2Block>& out);
  Status on_header_frame(const Frame& frame, std::vector<Http2Block>& out);
  Status finish_block(bool truncated, std::vector<Http2Block>& out);

  HpackDecoder hpack_;
  FrameLimits frame_limits_;
  // The header block being assembled from HEADERS/PUSH_PROMISE and CONTINUATION frames.
  bool pending_ = false;
  Http2Block pending_block_;
  std::string pending_fragment_;
  bool desynchronised_ = false;
};

}  // namespace probe::http2
