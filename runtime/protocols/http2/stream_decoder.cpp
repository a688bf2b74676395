#include "runtime/protocols/http2/stream_decoder.h"

#include <utility>

namespace probe::http2 {
namespace {

uint32_t read_u32(std::span<const uint8_t> p, size_t at) {
  return (uint32_t{p[at]} << 24) | (uint32_t{p[at + 1]} << 16) | (uint32_t{p[at + 2]} << 8) |
         p[at + 3];
}

Http2Block control_block(BlockType type, uint32_t stream_id, uint32_t error_code) {
  Http2Block b;
  b.type = type;
  b.stream_id = stream_id;
  b.error_code = error_code;
  return b;
}

}  // namespace

std::string_view block_type_name(BlockType type) {
  switch (type) {
    case BlockType::kHeaders:
      return "headers";
    case BlockType::kPushPromise:
      return "push_promise";
    case BlockType::kRstStream:
      return "rst_stream";
    case BlockType::kGoaway:
      return "goaway";
  }
  return "unknown";
}

Http2StreamDecoder::Http2StreamDecoder(HpackLimits limits, FrameLimits frame_limits)
    : hpack_(limits), frame_limits_(frame_limits) {}

void Http2StreamDecoder::reset() {
  hpack_.reset();
  pending_ = false;
  pending_block_ = {};
  pending_fragment_.clear();
  desynchronised_ = false;
}

Result<std::vector<Http2Block>> Http2StreamDecoder::decode(std::span<const uint8_t> buffer) {
  if (desynchronised_) return make_error("desynchronised");
  auto blocks = decode_frames(skip_preface(buffer));
  if (!blocks) desynchronised_ = true;
  return blocks;
}

Result<std::vector<Http2Block>> Http2StreamDecoder::decode_frames(std::span<const uint8_t> buffer) {
  PROBE_ASSIGN_OR_RETURN(FrameWalk walk, walk_frames(buffer, frame_limits_));
  std::vector<Http2Block> out;
  for (size_t i = 0; i < walk.frames.size(); ++i) PROBE_TRY(on_frame(walk.frames[i], i == 0, out));
  // The block's remaining frames were in the part of the buffer that was cut off.
  if (pending_ && walk.truncated) PROBE_TRY(finish_block(/*truncated=*/true, out));
  return out;
}

Status Http2StreamDecoder::on_frame(const Frame& f, bool first_in_buffer,
                                    std::vector<Http2Block>& out) {
  const bool continues_pending =
      pending_ && f.type == FrameType::kContinuation && f.stream_id == pending_block_.stream_id;
  if (pending_ && !continues_pending) {
    // Within a buffer this breaks RFC 9113 6.10; at a buffer's start, a buffer was lost.
    if (!first_in_buffer)
      return make_error("HTTP/2 header block on stream {} interrupted by a frame of type {}",
                        pending_block_.stream_id, static_cast<unsigned>(f.type));
    PROBE_TRY(finish_block(/*truncated=*/true, out));
  }
  switch (f.type) {
    case FrameType::kHeaders:
    case FrameType::kPushPromise:
    case FrameType::kContinuation:
      return on_header_frame(f, out);
    case FrameType::kRstStream:
      if (!f.truncated())
        out.push_back(control_block(BlockType::kRstStream, f.stream_id, read_u32(f.payload, 0)));
      return {};
    case FrameType::kGoaway:  // last stream id, error code, debug data (ignored)
      if (f.payload.size() >= 8)
        out.push_back(control_block(BlockType::kGoaway, read_u32(f.payload, 0) & 0x7fffffff,
                                    read_u32(f.payload, 4)));
      return {};
    default:
      return {};
  }
}

Status Http2StreamDecoder::on_header_frame(const Frame& f, std::vector<Http2Block>& out) {
  if (f.type == FrameType::kContinuation && !pending_) {
    // Its block began in a buffer we never saw: the fields it added to the table are lost.
    hpack_.forget_table();
    return {};
  }
  PROBE_ASSIGN_OR_RETURN(Fragment frag, header_fragment(f));
  if (f.type != FrameType::kContinuation) {
    pending_ = true;
    pending_block_ = {};
    pending_block_.type =
        f.type == FrameType::kHeaders ? BlockType::kHeaders : BlockType::kPushPromise;
    pending_block_.stream_id = f.stream_id;
    pending_block_.promised_stream_id = frag.promised_stream_id;
    pending_block_.end_stream = f.type == FrameType::kHeaders && f.has(kFlagEndStream);
    pending_fragment_.clear();
  }
  if (pending_fragment_.size() + frag.bytes.size() > kMaxPendingFragment)
    return make_error("HTTP/2 header block on stream {} larger than {} bytes", f.stream_id,
                      kMaxPendingFragment);
  pending_fragment_.append(frag.bytes.begin(), frag.bytes.end());
  if (frag.truncated) return finish_block(/*truncated=*/true, out);
  if (f.has(kFlagEndHeaders)) return finish_block(/*truncated=*/false, out);
  return {};
}

Status Http2StreamDecoder::finish_block(bool truncated, std::vector<Http2Block>& out) {
  pending_ = false;
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(pending_fragment_.data()),
                         pending_fragment_.size());
  PROBE_ASSIGN_OR_RETURN(HpackBlock block, hpack_.decode(bytes, /*whole=*/!truncated));
  pending_block_.headers = std::move(block.headers);
  pending_block_.truncated = !block.complete;
  out.push_back(std::move(pending_block_));
  pending_block_ = {};
  pending_fragment_.clear();
  return {};
}

}  // namespace probe::http2
