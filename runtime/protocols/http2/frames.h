// Splits captured HTTP/2 bytes into frames (RFC 9113 section 4 and 6). A capture buffer starts
// at a frame header and may end inside its last frame, cut at the capture limit: that frame
// is returned with the payload bytes that are present and reports truncated().
//
//   auto walk = walk_frames(skip_preface(bytes));
//   for (const Frame& f : walk->frames)
//     if (f.type == FrameType::kHeaders) { auto frag = header_fragment(f); ... }
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace probe::http2 {

enum class FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};

inline constexpr uint8_t kFlagEndStream = 0x1;
inline constexpr uint8_t kFlagEndHeaders = 0x4;
inline constexpr uint8_t kFlagPadded = 0x8;
inline constexpr uint8_t kFlagPriority = 0x20;

inline constexpr size_t kFrameHeaderSize = 9;
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Frame {
  uint32_t length = 0;  // as declared in the header
  FrameType type{};     // may be a value outside the enum: unknown types are kept, not refused
  uint8_t flags = 0;
  uint32_t stream_id = 0;
  std::span<const uint8_t> payload;  // the bytes present; shorter than length if truncated

  bool truncated() const { return payload.size() < length; }
  bool has(uint8_t flag) const { return (flags & flag) != 0; }
};

struct FrameWalk {
  std::vector<Frame> frames;
  // The buffer was cut short: its last frame is truncated(), or fewer than 9 bytes of a
  // further frame header were left (that frame is not listed).
  bool truncated = false;
};

struct FrameLimits {
  // No common implementation advertises a SETTINGS_MAX_FRAME_SIZE above 1 MiB, and a longer
  // length is the usual sign of bytes that do not start at a frame header.
  uint32_t max_frame_length = 1u << 20;
};

// `data` without the client connection preface, if it starts with one.
std::span<const uint8_t> skip_preface(std::span<const uint8_t> data);
bool starts_with_preface(std::span<const uint8_t> data);

// Fails when a frame header is impossible (a length over the limit, a stream id or length
// that its known type forbids): the bytes are not HTTP/2 or not aligned to a frame.
Result<FrameWalk> walk_frames(std::span<const uint8_t> data, FrameLimits limits = {});

// The header block fragment of a HEADERS, PUSH_PROMISE or CONTINUATION frame, without the
// pad length, priority fields, promised stream id and padding.
struct Fragment {
  std::span<const uint8_t> bytes;
  uint32_t promised_stream_id = 0;  // PUSH_PROMISE only
  bool truncated = false;           // the frame was cut before the fragment's end
};
Result<Fragment> header_fragment(const Frame& frame);

}  // namespace probe::http2
