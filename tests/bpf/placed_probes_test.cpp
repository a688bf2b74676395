// Probes the placement optimizer moves (to an emulated instruction inside SSL_write, to the
// internal call and the Jcc after it in SSL_read, to the one site inside the implementation
// SSL_read and SSL_read_ex dispatch to) must see exactly what probes at the symbol see: the
// same calls with the same arguments and results. Checked side by side in one session on real
// HTTPS traffic to nginx: curl, and a client that peeks before every read (SSL_peek reaches the
// dispatched site too, and must not be reported).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/support/bpf_session.h"
#include "tests/support/process.h"
#include "tests/support/tls_server.h"

namespace probe {
namespace {

constexpr char kPolicy[] = R"TOML([policy]
name = "placed"
[target.ssl]
library = "libssl.so.3"

[probe.write_placed]
target = "ssl"
uprobe = "SSL_write"
signature = "int SSL_write(SSL *ssl, const void *buf, int num)"
capture = [{ name = "ssl", value = "ssl" }, { name = "num", value = "num" },
           { name = "data", value = "buf", type = "bytes", len = "num", max = 256 }]
filter = "comm == \"curl\""

[probe.write_at_symbol]
target = "ssl"
uprobe = "SSL_write"
placement = "off"
signature = "int SSL_write(SSL *ssl, const void *buf, int num)"
capture = [{ name = "ssl", value = "ssl" }, { name = "num", value = "num" },
           { name = "data", value = "buf", type = "bytes", len = "num", max = 256 }]
filter = "comm == \"curl\""

[probe.read_placed]
target = "ssl"
uretprobe = "SSL_read"
signature = "int SSL_read(SSL *ssl, void *buf, int num)"
capture = [{ name = "ssl", value = "ssl" }, { name = "rc", value = "ret" },
           { name = "data", value = "buf", type = "bytes", len = "ret", max = 256 }]
filter = "comm == \"curl\""

[probe.read_at_symbol]
target = "ssl"
uretprobe = "SSL_read"
placement = "off"
signature = "int SSL_read(SSL *ssl, void *buf, int num)"
capture = [{ name = "ssl", value = "ssl" }, { name = "rc", value = "ret" },
           { name = "data", value = "buf", type = "bytes", len = "ret", max = 256 }]
filter = "comm == \"curl\""
)TOML";

std::string where(const test::BpfSession& s, const std::string& probe) {
  for (const auto& r : s.attach_records())
    if (r.probe == probe) return r.where;
  return "";
}

// The events of a probe as comparable rows, in order.
std::vector<std::string> rows(test::BpfSession& s, const std::string& probe, const char* value) {
  std::vector<std::string> out;
  for (const auto& e : s.events_of(probe))
    out.push_back(e["pid"].dump() + " " + e["ssl"].dump() + " " + e[value].dump() + " " + e["data"].dump());
  return out;
}

TEST(PlacedProbes, SeeTheSameCallsArgumentsAndResultsAsProbesAtTheSymbol) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  if (!test::find_program("curl")) GTEST_SKIP() << "curl is not installed";
  test::NginxTls server;
  if (server.error()) GTEST_SKIP() << "nginx: " << *server.error();
  test::BpfSession s(kPolicy);
  ASSERT_EQ(s.error(), "");
  // The analysis of Debian 12's libssl3 moves both probes to emulated instructions.
  EXPECT_EQ(where(s, "write_placed").find("fallback"), std::string::npos) << where(s, "write_placed");
  EXPECT_NE(where(s, "read_placed").find("post-call-jcc"), std::string::npos) << where(s, "read_placed");
  EXPECT_EQ(where(s, "read_at_symbol").find("["), std::string::npos) << "placement = off attaches as written";

  // Keep-alive: three requests (and responses with bodies) on one connection.
  auto [rc, out] = test::run({"curl", "-sk", "--http1.1", server.url("/a"), server.url("/b?x=1"), server.url("/c")});
  ASSERT_EQ(rc, 0) << out;
  auto writes = rows(s, "write_placed", "num");
  auto reads = rows(s, "read_placed", "rc");
  EXPECT_GE(writes.size(), 3u);
  EXPECT_GE(reads.size(), 3u);
  EXPECT_EQ(writes, rows(s, "write_at_symbol", "num"));
  EXPECT_EQ(reads, rows(s, "read_at_symbol", "rc"));
  // Byte counts come from the internal function's out-parameter, errors (-1: want read on a
  // non-blocking socket) from its status; both must be there.
  size_t counts = 0;
  for (const auto& e : s.events_of("read_placed")) counts += e["rc"].get<int64_t>() > 0;
  EXPECT_GE(counts, 3u);
}

// An SSL_read return probe of the peeking client, placed as `placement` says.
std::string peekget_read_probe(const std::string& name, const std::string& placement) {
  return "[probe." + name + "]\n" + placement + R"TOML(
target = "ssl"
uretprobe = "SSL_read"
signature = "int SSL_read(SSL *ssl, void *buf, int num)"
capture = [{ name = "ssl", value = "ssl" }, { name = "rc", value = "ret" },
           { name = "data", value = "buf", type = "bytes", len = "ret", max = 256 }]
filter = ["comm == \"peekget\"", "ret > 0"]

)TOML";
}

const std::string kDispatchedPolicy =
    "[policy]\nname = \"dispatched\"\n[target.ssl]\nlibrary = \"libssl.so.3\"\n\n" +
    peekget_read_probe("read_dispatched",
                       "placement = \"shared\"\ndispatch_tables = [\"TLS_method\", \"TLS_client_method\"]") +
    peekget_read_probe("read_at_symbol", "placement = \"off\"") + R"TOML([probe.read_ex_at_symbol]
target = "ssl"
uretprobe = "SSL_read_ex"
placement = "off"
signature = "int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)"
capture = [{ name = "ssl", value = "ssl" }, { name = "rc", value = "*readbytes", type = "u64" },
           { name = "data", value = "buf", type = "bytes", len = "*readbytes", max = 256 }]
filter = ["comm == \"peekget\"", "ret == 1"]
)TOML";

// Peeks at the response before every read, and alternates SSL_read and SSL_read_ex in small
// pieces, so that each call kind reaches the dispatched site several times.
constexpr char kPeekingClient[] = R"C(
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 2;
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) return 3;
  const char *req = "GET /peek HTTP/1.1\r\nHost: peek.test\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl, req, (int)strlen(req)) != (int)strlen(req)) return 4;
  char buf[32], peeked[10];
  size_t total = 0;
  for (int i = 0;; i++) {
    if (SSL_peek(ssl, peeked, sizeof peeked) <= 0) break;
    size_t n = 0;
    if (i % 2 == 0) {
      int r = SSL_read(ssl, buf, sizeof buf);
      if (r <= 0) break;
      n = (size_t)r;
    } else if (SSL_read_ex(ssl, buf, sizeof buf, &n) != 1) {
      break;
    }
    if (memcmp(buf, peeked, n < sizeof peeked ? n : sizeof peeked) != 0) return 5;
    total += n;
  }
  printf("%zu\n", total);
  return total > 0 ? 0 : 6;
}
)C";

TEST(PlacedProbes, TheDispatchedSiteSeesSslReadAndSslReadExButNeverSslPeek) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::NginxTls server;
  if (server.error()) GTEST_SKIP() << "nginx: " << *server.error();
  test::TempDir dir;
  auto [client, why] = test::build_c_program(dir, "peekget", kPeekingClient, {"-lssl", "-lcrypto"});
  if (client.empty()) GTEST_SKIP() << "the OpenSSL client does not build (libssl-dev): " << why;
  test::BpfSession s(kDispatchedPolicy);
  ASSERT_EQ(s.error(), "");
  ASSERT_NE(where(s, "read_dispatched").find("dispatched-return-jcc"), std::string::npos)
      << where(s, "read_dispatched");

  auto [rc, out] = test::run({client, std::to_string(server.port())});
  ASSERT_EQ(rc, 0) << out;
  auto dispatched = rows(s, "read_dispatched", "rc");
  auto expected = rows(s, "read_at_symbol", "rc");
  auto ex = rows(s, "read_ex_at_symbol", "rc");
  EXPECT_GE(expected.size(), 2u);
  EXPECT_GE(ex.size(), 2u);
  expected.insert(expected.end(), ex.begin(), ex.end());
  std::sort(dispatched.begin(), dispatched.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(dispatched, expected) << "one event per SSL_read and SSL_read_ex call, none per SSL_peek";
  size_t bytes = 0;
  for (const auto& e : s.events_of("read_dispatched")) bytes += e["rc"].get<size_t>();
  EXPECT_EQ(std::to_string(bytes) + "\n", out) << "the counts add up to what the client read";
}

}  // namespace
}  // namespace probe
