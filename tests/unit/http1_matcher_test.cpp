// The in-kernel HTTP/1 matcher, compiled for the host and run against captured bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "stdlib/bpf/proto/http1.h"
}

namespace {

// As in BPF: a PK_PEEK_LEN buffer, zero past the payload.
int match(const std::string& payload) {
  __u8 head[PK_PEEK_LEN] = {};
  size_t n = std::min(payload.size(), sizeof head);
  std::memcpy(head, payload.data(), n);
  return pk_match_http1(head, static_cast<__u32>(payload.size() < PK_PEEK_LEN ? payload.size() : PK_PEEK_LEN));
}

TEST(Http1Matcher, RecognisesEveryRequestMethod) {
  for (const char* m : {"GET", "PUT", "POST", "HEAD", "PATCH", "TRACE", "DELETE", "OPTIONS", "CONNECT"})
    EXPECT_EQ(match(std::string(m) + " /x HTTP/1.1\r\nHost: a\r\n\r\n"), PK_MATCH_REQUEST) << m;
  EXPECT_EQ(match("OPTIONS * HTTP/1.1\r\n"), PK_MATCH_REQUEST);
  EXPECT_EQ(match("CONNECT api.example.com:443 HTTP/1.1\r\n"), PK_MATCH_REQUEST);
}

TEST(Http1Matcher, RecognisesStatusLines) {
  EXPECT_EQ(match("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), PK_MATCH_RESPONSE);
  EXPECT_EQ(match("HTTP/1.0 404 Not Found\r\n"), PK_MATCH_RESPONSE);
  EXPECT_EQ(match("HTTP/1.1 204"), PK_MATCH_RESPONSE);
}

TEST(Http1Matcher, RejectsLookAlikes) {
  EXPECT_EQ(match(""), PK_MATCH_NONE);
  EXPECT_EQ(match("GET"), PK_MATCH_NONE);           // no space after the method
  EXPECT_EQ(match("GETX /"), PK_MATCH_NONE);
  EXPECT_EQ(match("get / HTTP/1.1"), PK_MATCH_NONE);  // methods are case-sensitive
  EXPECT_EQ(match("POS /"), PK_MATCH_NONE);
  EXPECT_EQ(match("HTTP/2 200\r\n"), PK_MATCH_NONE);
  EXPECT_EQ(match("HTTP/1.1 2x0 OK"), PK_MATCH_NONE);
  EXPECT_EQ(match("HTTP/1.1 200"), PK_MATCH_RESPONSE);
  EXPECT_EQ(match("HTTP/1.1 20"), PK_MATCH_NONE);     // too short to hold a status
  EXPECT_EQ(match("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), PK_MATCH_NONE);
  EXPECT_EQ(match(std::string("\x16\x03\x01\x02\x00\x01", 6)), PK_MATCH_NONE);  // TLS record
}

TEST(Http1Matcher, TruncatedPrefixLengthIsRespected) {
  // A payload of 4 bytes "POST" must not match even if the buffer happens to hold more.
  __u8 head[PK_PEEK_LEN] = {};
  std::memcpy(head, "POST / HTTP/1.1", 15);
  EXPECT_EQ(pk_match_http1(head, 4), PK_MATCH_NONE);
  EXPECT_EQ(pk_match_http1(head, 5), PK_MATCH_REQUEST);
}

}  // namespace
