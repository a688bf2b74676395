// HPACK decoding against the examples of RFC 7541 Appendix C (request and response sequences,
// plain and Huffman-coded, with eviction), plus malformed and truncated input.
#include "runtime/protocols/http2/hpack_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/unit/http2_test_bytes.h"

namespace probe::http2 {
namespace {

using test::as_bytes;
using test::from_hex;

HeaderList decode_ok(HpackDecoder& dec, const std::string& hex) {
  std::string bytes = from_hex(hex);
  auto block = dec.decode(as_bytes(bytes));
  EXPECT_TRUE(block.ok()) << (block.ok() ? "" : block.error().message);
  if (!block.ok()) return {};
  EXPECT_TRUE(block->complete);
  return block->headers;
}

std::string decode_error(HpackDecoder& dec, const std::string& bytes) {
  auto block = dec.decode(as_bytes(bytes));
  EXPECT_FALSE(block.ok());
  return block.ok() ? "" : block.error().message;
}

const HeaderList kRequest1 = {
    {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}};
const HeaderList kRequest2 = {{":method", "GET"},
                              {":scheme", "http"},
                              {":path", "/"},
                              {":authority", "www.example.com"},
                              {"cache-control", "no-cache"}};
const HeaderList kRequest3 = {{":method", "GET"},
                              {":scheme", "https"},
                              {":path", "/index.html"},
                              {":authority", "www.example.com"},
                              {"custom-key", "custom-value"}};
const HeaderList kResponse1 = {{":status", "302"},
                               {"cache-control", "private"},
                               {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                               {"location", "https://www.example.com"}};
const HeaderList kResponse2 = {{":status", "307"},
                               {"cache-control", "private"},
                               {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                               {"location", "https://www.example.com"}};
const HeaderList kResponse3 = {
    {":status", "200"},
    {"cache-control", "private"},
    {"date", "Mon, 21 Oct 2013 20:13:22 GMT"},
    {"location", "https://www.example.com"},
    {"content-encoding", "gzip"},
    {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}};

// C.4.3: the third request of the Huffman sequence, used where any real block will do.
constexpr const char* kC43 = "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf";

TEST(HpackDecoder, C2LiteralAndIndexedFields) {
  HpackDecoder with_indexing;
  EXPECT_EQ(
      decode_ok(with_indexing, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
      (HeaderList{{"custom-key", "custom-header"}}));
  EXPECT_EQ(with_indexing.table().size(), 55u);

  HpackDecoder without_indexing;
  EXPECT_EQ(decode_ok(without_indexing, "040c 2f73 616d 706c 652f 7061 7468"),
            (HeaderList{{":path", "/sample/path"}}));
  EXPECT_EQ(without_indexing.table().count(), 0u);

  HpackDecoder never_indexed;
  EXPECT_EQ(decode_ok(never_indexed, "1008 7061 7373 776f 7264 0673 6563 7265 74"),
            (HeaderList{{"password", "secret"}}));
  EXPECT_EQ(never_indexed.table().count(), 0u);

  HpackDecoder indexed;
  EXPECT_EQ(decode_ok(indexed, "82"), (HeaderList{{":method", "GET"}}));
  EXPECT_EQ(indexed.table().count(), 0u);
}

TEST(HpackDecoder, C3RequestsWithoutHuffman) {
  HpackDecoder dec;
  EXPECT_EQ(decode_ok(dec, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), kRequest1);
  EXPECT_EQ(dec.table().size(), 57u);
  EXPECT_EQ(decode_ok(dec, "8286 84be 5808 6e6f 2d63 6163 6865"), kRequest2);
  EXPECT_EQ(dec.table().size(), 110u);
  EXPECT_EQ(
      decode_ok(dec, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
      kRequest3);
  EXPECT_EQ(dec.table().size(), 164u);
  ASSERT_EQ(dec.table().count(), 3u);
  EXPECT_EQ(*dec.table().at(0), (HeaderField{"custom-key", "custom-value"}));
  EXPECT_EQ(*dec.table().at(2), (HeaderField{":authority", "www.example.com"}));
}

TEST(HpackDecoder, C4RequestsWithHuffman) {
  HpackDecoder dec;
  EXPECT_EQ(decode_ok(dec, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), kRequest1);
  EXPECT_EQ(decode_ok(dec, "8286 84be 5886 a8eb 1064 9cbf"), kRequest2);
  EXPECT_EQ(decode_ok(dec, kC43), kRequest3);
  EXPECT_EQ(dec.table().size(), 164u);
}

TEST(HpackDecoder, C5ResponsesWithEviction) {
  HpackDecoder dec(HpackLimits{.initial_table_size = 256});
  EXPECT_EQ(decode_ok(dec,
                      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 "
                      "7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 "
                      "3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
            kResponse1);
  EXPECT_EQ(dec.table().size(), 222u);
  EXPECT_EQ(decode_ok(dec, "4803 3330 37c1 c0bf"), kResponse2);
  EXPECT_EQ(dec.table().size(), 222u);  // ":status: 302" was evicted for ":status: 307"
  EXPECT_EQ(decode_ok(dec,
                      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 "
                      "3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 "
                      "514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 "
                      "2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"),
            kResponse3);
  EXPECT_EQ(dec.table().size(), 215u);
  EXPECT_EQ(dec.table().count(), 3u);
}

TEST(HpackDecoder, C6ResponsesWithHuffmanAndEviction) {
  HpackDecoder dec(HpackLimits{.initial_table_size = 256});
  EXPECT_EQ(decode_ok(dec,
                      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 "
                      "0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae "
                      "43d3"),
            kResponse1);
  EXPECT_EQ(decode_ok(dec, "4883 640e ffc1 c0bf"), kResponse2);
  EXPECT_EQ(decode_ok(dec,
                      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff "
                      "c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af "
                      "2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"),
            kResponse3);
  EXPECT_EQ(dec.table().size(), 215u);
}

TEST(HpackDecoder, SizeUpdatesEvictAndUseMultiOctetIntegers) {
  HpackDecoder dec;
  decode_ok(dec, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
  ASSERT_EQ(dec.table().count(), 1u);
  // 0x20: size 0 empties the table; 0x3fe11f: back to 4096 (C.1.2's continuation octets).
  EXPECT_EQ(decode_ok(dec, "20 3fe11f 82"), (HeaderList{{":method", "GET"}}));
  EXPECT_EQ(dec.table().count(), 0u);
  EXPECT_EQ(dec.table().max_size(), 4096u);
}

TEST(HpackDecoder, MalformedInputIsAnErrorNotACrash) {
  HpackDecoder dec;
  {
    EXPECT_NE(decode_error(dec, from_hex("80")).find("index 0"), std::string::npos);
    EXPECT_NE(decode_error(dec, from_hex("be")).find("beyond the dynamic table"),
              std::string::npos);
    EXPECT_NE(decode_error(dec, from_hex("82 20")).find("after a header field"), std::string::npos);
    EXPECT_NE(decode_error(dec, from_hex("3f e1 ff 07")).find("exceeds the limit"),
              std::string::npos);
    EXPECT_FALSE(decode_error(dec, from_hex("ff ff ff ff ff ff ff ff 7f")).empty());  // overflow
    EXPECT_FALSE(decode_error(dec, from_hex("ff 80 80 80 80 80 80 00")).empty());     // too long
    EXPECT_NE(decode_error(dec, from_hex("0a 05 61")).find("inside a field"), std::string::npos);
    EXPECT_NE(decode_error(dec, from_hex("0a 84 ff ff ff ff")).find("EOS"), std::string::npos);
    // 'a' is 00011 (5 bits): three 0 bits of padding are not a prefix of EOS.
    EXPECT_NE(decode_error(dec, from_hex("0a 81 18")).find("padding"), std::string::npos);
    // '0' is 00000: after it, 3 + 8 bits of 1s are too much padding.
    EXPECT_NE(decode_error(dec, from_hex("0a 82 07ff")).find("padding"), std::string::npos);
  }
}

TEST(HpackDecoder, HeaderListLimits) {
  HpackDecoder dec;
  EXPECT_NE(decode_error(dec, std::string(257, '\x82')).find("more than 256"), std::string::npos);
  HpackDecoder small(HpackLimits{.max_list_bytes = 100});
  // Literal without indexing, name "x", values of 101 and 100 bytes.
  std::string too_long = from_hex("00 01 78 65") + std::string(101, 'v');
  EXPECT_NE(decode_error(small, too_long).find("longer than 100"), std::string::npos);
  std::string too_big = from_hex("00 01 78 64") + std::string(100, 'v');
  EXPECT_NE(decode_error(small, too_big).find("larger than 100"), std::string::npos);
  std::string fits = from_hex("00 01 78 05") + "vvvvv";
  EXPECT_TRUE(small.decode(as_bytes(fits)).ok());
}

TEST(HpackDecoder, TruncatedBlockKeepsCompleteFieldsAndForgetsTheTable) {
  HpackDecoder dec;
  decode_ok(dec, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
  decode_ok(dec, "8286 84be 5886 a8eb 1064 9cbf");
  std::string c43 = from_hex(kC43);
  // Cut inside the "custom-key" literal: the first four fields survive.
  auto block = dec.decode(as_bytes(c43).first(8), /*whole=*/false);
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_FALSE(block->complete);
  EXPECT_EQ(block->headers, HeaderList(kRequest3.begin(), kRequest3.begin() + 4));
  EXPECT_TRUE(dec.table().partial());
  EXPECT_EQ(dec.table().count(), 0u);

  // Next block: static fields and new entries decode; the lost ":authority" entry is left out.
  block = dec.decode(as_bytes(from_hex("82 40 01 78 01 79 be bf")));
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_FALSE(block->complete);
  EXPECT_EQ(block->headers, (HeaderList{{":method", "GET"}, {"x", "y"}, {"x", "y"}}));
}

TEST(HpackDecoder, EveryPrefixOfAValidBlockDecodesWhenMarkedPartial) {
  std::string c43 = from_hex(kC43);
  for (size_t n = 0; n <= c43.size(); ++n) {
    HpackDecoder dec;
    decode_ok(dec, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
    decode_ok(dec, "8286 84be 5886 a8eb 1064 9cbf");
    auto block = dec.decode(as_bytes(c43).first(n), /*whole=*/false);
    ASSERT_TRUE(block.ok()) << "prefix " << n << ": " << block.error().message;
    EXPECT_LE(block->headers.size(), kRequest3.size());
    for (size_t i = 0; i < block->headers.size(); ++i) EXPECT_EQ(block->headers[i], kRequest3[i]);
  }
}

TEST(HpackDecoder, RandomBytesNeverCrash) {
  std::mt19937 rng(7541);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    HpackDecoder dec;
    (void)dec.decode(as_bytes(bytes), round % 2 == 0);
    EXPECT_LE(dec.table().size(), dec.table().max_size());
  }
}

}  // namespace
}  // namespace probe::http2
