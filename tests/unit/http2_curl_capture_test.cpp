// Http2StreamDecoder on bytes from a real HTTP/2 client: curl (libcurl with nghttp2, which
// Huffman-codes and indexes headers) sends a request over a cleartext connection
// (--http2-prior-knowledge) to a minimal server here that records what it receives. The
// bytes are produced at test time, so nothing captured is stored in the tree. One request
// only: curl 7.88 fails to reuse a prior-knowledge connection ("Error in the HTTP2 framing
// layer"); a repeated header makes nghttp2 refer back to the dynamic table instead.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "runtime/protocols/http2/frames.h"
#include "runtime/protocols/http2/stream_decoder.h"
#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/unit/http2_test_bytes.h"

namespace probe::http2 {
namespace {

using test::as_bytes;
using test::h2_frame;

constexpr int kPollMs = 10'000;

// Accepts one connection, answers each request with ":status: 200" (0x88) and END_STREAM,
// and keeps every byte the client sent until it closes the connection.
class H2cServer {
 public:
  H2cServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 1) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~H2cServer() {
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  // What the client sent; waits for the connection to end.
  const std::string& received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  void serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) != 1) return;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    send_all(fd, h2_frame(0x4, 0, 0, ""));  // our (empty) SETTINGS
    size_t parsed = kClientPreface.size();
    char buf[4096];
    for (;;) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, kPollMs) != 1) break;
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      received_.append(buf, static_cast<size_t>(n));
      parsed = answer_frames(fd, parsed);
    }
    close(fd);
  }

  // Answers the complete frames from `at` on; returns where the next frame starts.
  size_t answer_frames(int fd, size_t at) {
    while (received_.size() >= at + kFrameHeaderSize) {
      auto h = as_bytes(received_).subspan(at);
      size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
      if (received_.size() < at + kFrameHeaderSize + length) break;
      uint8_t type = h[3], flags = h[4];
      uint32_t stream =
          (uint32_t{h[5]} << 24 | uint32_t{h[6]} << 16 | uint32_t{h[7]} << 8 | h[8]) & 0x7fffffff;
      if (type == 0x4 && !(flags & 0x1)) send_all(fd, h2_frame(0x4, 0x1, 0, ""));  // SETTINGS ACK
      if (type == 0x1)
        send_all(fd, h2_frame(0x1, kFlagEndHeaders | kFlagEndStream, stream, "\x88"));
      at += kFrameHeaderSize + length;
    }
    return at;
  }

  static void send_all(int fd, const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t n = write(fd, s.data() + done, s.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string received_;
};

std::vector<std::string> values(const Http2Block& b, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& h : b.headers)
    if (h.name == name) out.push_back(h.value);
  return out;
}

void expect_request(const Http2Block& b, int port) {
  using V = std::vector<std::string>;
  EXPECT_EQ(b.type, BlockType::kHeaders);
  EXPECT_EQ(b.stream_id, 1u);
  EXPECT_TRUE(b.end_stream);
  EXPECT_FALSE(b.truncated);
  EXPECT_EQ(values(b, ":method"), V{"GET"});
  EXPECT_EQ(values(b, ":scheme"), V{"http"});
  EXPECT_EQ(values(b, ":path"), V{"/first?a=1"});
  EXPECT_EQ(values(b, ":authority"), V{"127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(values(b, "user-agent"), V{"probekit-test/1.0"});
  EXPECT_EQ(values(b, "accept"), V{"*/*"});
  EXPECT_EQ(values(b, "x-probe"), (V{"one", "one"}));
}

TEST(Http2StreamDecoder, DecodesARequestSentByCurl) {
  auto curl = test::find_program("curl");
  if (!curl) GTEST_SKIP() << "curl is not installed";
  if (test::run({*curl, "-V"}).second.find("HTTP2") == std::string::npos)
    GTEST_SKIP() << "curl was built without HTTP/2";
  H2cServer server;
  ASSERT_NE(server.port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/first?a=1";
  auto [rc, out] = test::run({*curl, "-sS", "--http2-prior-knowledge", "-A", "probekit-test/1.0",
                              "-H", "x-probe: one", "-H", "x-probe: one", url});
  ASSERT_EQ(rc, 0) << out;
  const std::string& sent = server.received();
  ASSERT_TRUE(starts_with_preface(as_bytes(sent)));

  // The whole client stream as one buffer.
  Http2StreamDecoder whole;
  auto blocks = whole.decode(as_bytes(sent));
  ASSERT_TRUE(blocks.ok()) << blocks.error().message;
  ASSERT_EQ(blocks->size(), 1u);
  expect_request(blocks->front(), server.port());

  // One frame per buffer, as separate TLS writes arrive (the preface with the first).
  auto walk = walk_frames(skip_preface(as_bytes(sent)));
  ASSERT_TRUE(walk.ok()) << walk.error().message;
  Http2StreamDecoder per_frame;
  std::vector<Http2Block> requests;
  size_t at = 0;
  for (const Frame& f : walk->frames) {
    size_t end = (at == 0 ? kClientPreface.size() : at) + kFrameHeaderSize + f.length;
    auto one = per_frame.decode(as_bytes(sent).subspan(at, end - at));
    at = end;
    ASSERT_TRUE(one.ok()) << one.error().message;
    requests.insert(requests.end(), one->begin(), one->end());
  }
  EXPECT_EQ(at, sent.size());
  ASSERT_EQ(requests.size(), 1u);
  expect_request(requests[0], server.port());
}

}  // namespace
}  // namespace probe::http2
