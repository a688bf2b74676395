// The HTTP/2 frame walker and Http2StreamDecoder on hand-built buffers: preface, padding,
// CONTINUATION, truncated captures, control frames and garbage.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "runtime/protocols/http2/frames.h"
#include "runtime/protocols/http2/stream_decoder.h"
#include "tests/unit/http2_test_bytes.h"

namespace probe::http2 {
namespace {

using test::as_bytes;
using test::from_hex;
using test::h2_frame;

// RFC 7541 C.3: three requests on one connection, sharing the dynamic table.
const std::string kC31 = from_hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
const std::string kC32 = from_hex("8286 84be 5808 6e6f 2d63 6163 6865");
const std::string kC33 =
    from_hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
const HeaderList kRequest1 = {
    {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}};

constexpr uint8_t kHeaders = 0x1, kRst = 0x3, kSettings = 0x4, kPushPromise = 0x5, kGoaway = 0x7,
                  kContinuation = 0x9, kData = 0x0;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;

std::vector<Http2Block> decode_ok(Http2StreamDecoder& dec, const std::string& buffer) {
  auto blocks = dec.decode(as_bytes(buffer));
  EXPECT_TRUE(blocks.ok()) << (blocks.ok() ? "" : blocks.error().message);
  return blocks.ok() ? std::move(*blocks) : std::vector<Http2Block>{};
}

TEST(Http2Frames, WalksFramesAfterThePreface) {
  std::string buf = std::string(kClientPreface) + h2_frame(kSettings, 0, 0, std::string(6, '\0')) +
                    h2_frame(kHeaders, kEndHeaders, 1, kC31);
  EXPECT_TRUE(starts_with_preface(as_bytes(buf)));
  auto walk = walk_frames(skip_preface(as_bytes(buf)));
  ASSERT_TRUE(walk.ok()) << walk.error().message;
  ASSERT_EQ(walk->frames.size(), 2u);
  EXPECT_FALSE(walk->truncated);
  EXPECT_EQ(walk->frames[0].type, FrameType::kSettings);
  EXPECT_EQ(walk->frames[1].type, FrameType::kHeaders);
  EXPECT_EQ(walk->frames[1].stream_id, 1u);
  EXPECT_TRUE(walk->frames[1].has(kFlagEndHeaders));
  EXPECT_EQ(walk->frames[1].payload.size(), kC31.size());
  EXPECT_FALSE(starts_with_preface(as_bytes(kC31)));
}

TEST(Http2Frames, PaddedHeadersWithPriorityAndPushPromise) {
  // Frames are kept in variables: a walk's payloads point into them.
  std::string payload = "\x03" + std::string("\x80\x00\x00\x01\x10", 5) + kC31 + "ppp";
  std::string padded = h2_frame(kHeaders, kPadded | kPriority | kEndHeaders, 3, payload);
  auto walk = walk_frames(as_bytes(padded));
  ASSERT_TRUE(walk.ok());
  auto frag = header_fragment(walk->frames[0]);
  ASSERT_TRUE(frag.ok()) << frag.error().message;
  EXPECT_EQ(std::string(frag->bytes.begin(), frag->bytes.end()), kC31);
  EXPECT_FALSE(frag->truncated);

  std::string promise = std::string("\x01\x00\x00\x00\x04", 5) + kC31 + "p";
  std::string promise_frame = h2_frame(kPushPromise, kPadded | kEndHeaders, 1, promise);
  walk = walk_frames(as_bytes(promise_frame));
  ASSERT_TRUE(walk.ok());
  frag = header_fragment(walk->frames[0]);
  ASSERT_TRUE(frag.ok());
  EXPECT_EQ(frag->promised_stream_id, 4u);
  EXPECT_EQ(std::string(frag->bytes.begin(), frag->bytes.end()), kC31);

  // 200 bytes of padding in a 10-byte frame.
  std::string overpadded = h2_frame(kHeaders, kPadded, 1, "\xc8" + std::string(9, 'x'));
  walk = walk_frames(as_bytes(overpadded));
  ASSERT_TRUE(walk.ok());
  EXPECT_FALSE(header_fragment(walk->frames[0]).ok());
}

TEST(Http2Frames, TruncatedLastFrameAndPartialHeader) {
  std::string buf =
      h2_frame(kData, 0, 1, "abc") + h2_frame(kHeaders, kEndHeaders, 1, kC31).substr(0, 14);
  auto walk = walk_frames(as_bytes(buf));
  ASSERT_TRUE(walk.ok());
  ASSERT_EQ(walk->frames.size(), 2u);
  EXPECT_TRUE(walk->truncated);
  EXPECT_TRUE(walk->frames[1].truncated());
  EXPECT_EQ(walk->frames[1].payload.size(), 5u);
  auto frag = header_fragment(walk->frames[1]);
  ASSERT_TRUE(frag.ok());
  EXPECT_TRUE(frag->truncated);

  std::string partial_header = h2_frame(kData, 0, 1, "abc") + std::string(5, '\0');
  walk = walk_frames(as_bytes(partial_header));
  ASSERT_TRUE(walk.ok());
  EXPECT_EQ(walk->frames.size(), 1u);
  EXPECT_TRUE(walk->truncated);
}

TEST(Http2Frames, ImpossibleHeadersAreErrors) {
  EXPECT_FALSE(walk_frames(as_bytes(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).ok());
  EXPECT_FALSE(walk_frames(as_bytes(h2_frame(kHeaders, 0, 0, kC31))).ok());      // stream 0
  EXPECT_FALSE(walk_frames(as_bytes(h2_frame(kSettings, 0, 1, ""))).ok());       // stream 1
  EXPECT_FALSE(walk_frames(as_bytes(h2_frame(kSettings, 0, 0, "12345"))).ok());  // length 5
  EXPECT_FALSE(walk_frames(as_bytes(h2_frame(kRst, 0, 1, "123"))).ok());         // length 3
  EXPECT_TRUE(walk_frames(as_bytes(h2_frame(0x2a, 0, 0, "grease"))).ok());       // unknown type
}

TEST(Http2StreamDecoder, DynamicTablePersistsAcrossBuffers) {
  Http2StreamDecoder dec;
  auto first = decode_ok(dec, std::string(kClientPreface) + h2_frame(kSettings, 0, 0, "") +
                                  h2_frame(kHeaders, kEndHeaders | kEndStream, 1, kC31));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].type, BlockType::kHeaders);
  EXPECT_EQ(first[0].stream_id, 1u);
  EXPECT_TRUE(first[0].end_stream);
  EXPECT_FALSE(first[0].truncated);
  EXPECT_EQ(first[0].headers, kRequest1);

  auto next =
      decode_ok(dec, h2_frame(kHeaders, kEndHeaders, 3, kC32) + h2_frame(kData, 0, 3, "body") +
                         h2_frame(kHeaders, kEndHeaders | kEndStream, 5, kC33));
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].stream_id, 3u);
  EXPECT_FALSE(next[0].end_stream);
  EXPECT_EQ(next[0].headers.back(), (HeaderField{"cache-control", "no-cache"}));
  EXPECT_EQ(next[1].stream_id, 5u);
  EXPECT_EQ(next[1].headers[3], (HeaderField{":authority", "www.example.com"}));
  EXPECT_EQ(next[1].headers[4], (HeaderField{"custom-key", "custom-value"}));
}

TEST(Http2StreamDecoder, ContinuationInTheSameAndTheNextBuffer) {
  Http2StreamDecoder dec;
  auto blocks = decode_ok(dec, h2_frame(kHeaders, kEndStream, 1, kC31.substr(0, 5)) +
                                   h2_frame(kContinuation, 0, 1, kC31.substr(5, 4)) +
                                   h2_frame(kContinuation, kEndHeaders, 1, kC31.substr(9)));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].headers, kRequest1);
  EXPECT_TRUE(blocks[0].end_stream);

  EXPECT_TRUE(decode_ok(dec, h2_frame(kHeaders, 0, 3, kC32.substr(0, 4))).empty());
  blocks = decode_ok(dec, h2_frame(kContinuation, kEndHeaders, 3, kC32.substr(4)));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].stream_id, 3u);
  EXPECT_EQ(blocks[0].headers.back(), (HeaderField{"cache-control", "no-cache"}));
}

TEST(Http2StreamDecoder, TruncatedHeadersFrameDecodesWhatIsComplete) {
  Http2StreamDecoder dec;
  // The capture ends 6 bytes into the ":authority" literal.
  std::string cut = h2_frame(kHeaders, kEndHeaders, 1, kC31).substr(0, 9 + 6);
  auto blocks = decode_ok(dec, cut);
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_TRUE(blocks[0].truncated);
  EXPECT_EQ(blocks[0].headers, HeaderList(kRequest1.begin(), kRequest1.begin() + 3));

  // Later blocks decode; the ":authority" entry the encoder added is unknown and left out.
  blocks = decode_ok(dec, h2_frame(kHeaders, kEndHeaders, 3, kC32));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_TRUE(blocks[0].truncated);
  EXPECT_EQ(
      blocks[0].headers,
      (HeaderList{
          {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"cache-control", "no-cache"}}));
}

TEST(Http2StreamDecoder, LostContinuationEndsTheBlockAsTruncated) {
  Http2StreamDecoder dec;
  EXPECT_TRUE(decode_ok(dec, h2_frame(kHeaders, 0, 1, kC31)).empty());
  // The buffer with the CONTINUATION was lost; a new block starts.
  auto blocks = decode_ok(dec, h2_frame(kHeaders, kEndHeaders, 3, from_hex("82")));
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].stream_id, 1u);
  EXPECT_TRUE(blocks[0].truncated);
  EXPECT_EQ(blocks[0].headers, kRequest1);
  EXPECT_EQ(blocks[1].stream_id, 3u);
  EXPECT_FALSE(blocks[1].truncated);
}

TEST(Http2StreamDecoder, SurfacesRstStreamGoawayAndPushPromise) {
  Http2StreamDecoder dec;
  auto blocks = decode_ok(
      dec, h2_frame(kPushPromise, kEndHeaders, 1, std::string("\x00\x00\x00\x02", 4) + kC31) +
               h2_frame(kRst, 0, 5, std::string("\x00\x00\x00\x08", 4)) +
               h2_frame(kGoaway, 0, 0, std::string("\x00\x00\x00\x07\x00\x00\x00\x00", 8) + "bye"));
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].type, BlockType::kPushPromise);
  EXPECT_EQ(blocks[0].stream_id, 1u);
  EXPECT_EQ(blocks[0].promised_stream_id, 2u);
  EXPECT_EQ(blocks[0].headers, kRequest1);
  EXPECT_EQ(blocks[1].type, BlockType::kRstStream);
  EXPECT_EQ(blocks[1].stream_id, 5u);
  EXPECT_EQ(blocks[1].error_code, 8u);  // CANCEL
  EXPECT_EQ(blocks[2].type, BlockType::kGoaway);
  EXPECT_EQ(blocks[2].stream_id, 7u);
  EXPECT_EQ(block_type_name(blocks[2].type), "goaway");
}

TEST(Http2StreamDecoder, ErrorsDesynchroniseUntilReset) {
  Http2StreamDecoder dec;
  // A DATA frame inside a header block breaks RFC 9113 6.10.
  auto bad = dec.decode(as_bytes(h2_frame(kHeaders, 0, 1, kC31) + h2_frame(kData, 0, 1, "x")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("interrupted"), std::string::npos);
  EXPECT_TRUE(dec.desynchronised());
  auto after = dec.decode(as_bytes(h2_frame(kHeaders, kEndHeaders, 3, kC31)));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().message, "desynchronised");
  dec.reset();
  EXPECT_EQ(decode_ok(dec, h2_frame(kHeaders, kEndHeaders, 3, kC31)).size(), 1u);

  EXPECT_FALSE(dec.decode(as_bytes(std::string("HTTP/1.1 200 OK\r\n\r\n"))).ok());
  dec.reset();
  EXPECT_FALSE(dec.decode(as_bytes(h2_frame(kHeaders, kEndHeaders, 1, from_hex("80")))).ok());
}

TEST(Http2StreamDecoder, RandomBuffersNeverCrash) {
  std::mt19937 rng(9113);
  Http2StreamDecoder dec;
  for (int round = 0; round < 20000; ++round) {
    // A plausible header, then random payload bytes, so HPACK decoding is reached too.
    std::string payload(rng() % 48, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    uint8_t type = static_cast<uint8_t>(rng() % 11);
    std::string buf = h2_frame(type, static_cast<uint8_t>(rng()), rng() % 4, payload,
                               rng() % 4 == 0 ? static_cast<int64_t>(rng() % 64) : -1);
    if (rng() % 3 == 0) buf.resize(rng() % (buf.size() + 1));
    (void)dec.decode(as_bytes(buf));
    if (dec.desynchronised()) dec.reset();
  }
}

}  // namespace
}  // namespace probe::http2
