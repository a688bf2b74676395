#include "runtime/protocols/http2/frames.h"

#include <algorithm>
#include <cstring>

namespace probe::http2 {
namespace {

constexpr uint32_t kStreamIdMask = 0x7fffffff;  // the top bit is reserved

uint32_t read_u24(const uint8_t* p) {
  return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
}

uint32_t read_u32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (read_u24(p + 1)); }

// Checks the rules of RFC 9113 section 6 that a single frame header can break.
Status check_header(const Frame& f, const FrameLimits& limits) {
  if (f.length > limits.max_frame_length)
    return make_error("HTTP/2 frame length {} exceeds {}: not at a frame boundary", f.length,
                      limits.max_frame_length);
  bool needs_stream = false, needs_no_stream = false;
  int64_t fixed_length = -1;
  switch (f.type) {
    case FrameType::kData:
    case FrameType::kHeaders:
    case FrameType::kPushPromise:
    case FrameType::kContinuation:
      needs_stream = true;
      break;
    case FrameType::kPriority:
      needs_stream = true, fixed_length = 5;
      break;
    case FrameType::kRstStream:
      needs_stream = true, fixed_length = 4;
      break;
    case FrameType::kSettings:
      needs_no_stream = true;
      if (f.length % 6 != 0)
        return make_error("HTTP/2 SETTINGS length {} is not a multiple of 6", f.length);
      break;
    case FrameType::kPing:
      needs_no_stream = true, fixed_length = 8;
      break;
    case FrameType::kGoaway:
      needs_no_stream = true;
      if (f.length < 8) return make_error("HTTP/2 GOAWAY length {} below 8", f.length);
      break;
    case FrameType::kWindowUpdate:
      fixed_length = 4;
      break;
    default:
      break;  // unknown types (extensions, GREASE) are allowed and ignored
  }
  const auto type = static_cast<unsigned>(f.type);
  if (needs_stream && f.stream_id == 0)
    return make_error("HTTP/2 frame of type {} on stream 0", type);
  if (needs_no_stream && f.stream_id != 0)
    return make_error("HTTP/2 frame of type {} on stream {}", type, f.stream_id);
  if (fixed_length >= 0 && f.length != fixed_length)
    return make_error("HTTP/2 frame of type {} with length {}", type, f.length);
  return {};
}

}  // namespace

bool starts_with_preface(std::span<const uint8_t> data) {
  return data.size() >= kClientPreface.size() &&
         std::memcmp(data.data(), kClientPreface.data(), kClientPreface.size()) == 0;
}

std::span<const uint8_t> skip_preface(std::span<const uint8_t> data) {
  return starts_with_preface(data) ? data.subspan(kClientPreface.size()) : data;
}

Result<FrameWalk> walk_frames(std::span<const uint8_t> data, FrameLimits limits) {
  FrameWalk walk;
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < kFrameHeaderSize) {
      walk.truncated = true;
      break;
    }
    const uint8_t* h = data.data() + pos;
    Frame f;
    f.length = read_u24(h);
    f.type = static_cast<FrameType>(h[3]);
    f.flags = h[4];
    f.stream_id = read_u32(h + 5) & kStreamIdMask;
    PROBE_TRY(check_header(f, limits));
    pos += kFrameHeaderSize;
    const size_t present = std::min<size_t>(f.length, data.size() - pos);
    f.payload = data.subspan(pos, present);
    pos += present;
    walk.truncated = f.truncated();
    walk.frames.push_back(f);
  }
  return walk;
}

Result<Fragment> header_fragment(const Frame& f) {
  // Layout: [pad length] [priority: 5 | promised stream: 4] fragment [padding]
  size_t start = 0, pad = 0;
  const bool padded = f.type != FrameType::kContinuation && f.has(kFlagPadded);
  if (padded) {
    if (f.payload.empty()) return Fragment{{}, 0, true};  // PADDED needs 1 byte: cut before it
    pad = f.payload[0];
    start = 1;
  }
  if (f.type == FrameType::kHeaders && f.has(kFlagPriority)) start += 5;
  Fragment frag;
  if (f.type == FrameType::kPushPromise) {
    if (f.payload.size() >= start + 4)
      frag.promised_stream_id = read_u32(f.payload.data() + start) & kStreamIdMask;
    start += 4;
  }
  if (start + pad > f.length)
    return make_error("HTTP/2 frame of type {}: padding and fields exceed its length {}",
                      static_cast<unsigned>(f.type), f.length);
  const size_t end = f.length - pad;  // the fragment's end when nothing is cut
  frag.truncated = f.payload.size() < end;
  if (f.payload.size() > start)
    frag.bytes = f.payload.subspan(start, std::min(f.payload.size(), end) - start);
  return frag;
}

}  // namespace probe::http2
