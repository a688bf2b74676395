// Probes the placement optimizer moves (to an emulated instruction inside SSL_write, to the
// internal call and the Jcc after it in SSL_read) must see exactly what probes at the symbol
// see: the same calls with the same arguments and results. Checked side by side in one
// session on real curl → nginx HTTPS traffic.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace probe
