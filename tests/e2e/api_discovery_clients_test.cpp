// The shipped API-discovery policy against every TLS library real clients on this machine
// use: for each client, the JSON line and the Orchestrator datagram carry the exact method,
// host and path, the latency is positive and plausible, and the client still succeeds.
// (Raw per-library events are covered by tls_libraries_test.cpp.)
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/support/tls_clients.h"
#include "tests/support/tls_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

class ApiDiscoveryClients : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    server_ = std::make_unique<test::NginxTls>();
    if (server_->error()) GTEST_SKIP() << *server_->error();
  }

  // probed with the shipped policy, plus `extra` includes (a Go program's own crypto/tls).
  void start_probed(const std::string& extra_include = "") {
    std::string policy = test::source_dir() + "/policies/api-discovery.toml";
    if (!extra_include.empty()) {
      std::string text = *read_file(policy);
      text.replace(text.find("include = ["), 11, "include = [\n  " + extra_include + ",");
      test::write_text(dir_.file("api-discovery.toml"), text);
      test::write_text(dir_.file("api-discovery.lua"),
                       *read_file(test::source_dir() + "/policies/api-discovery.lua"));
      policy = dir_.file("api-discovery.toml");
    }
    probed_ = std::make_unique<test::Process>(
        std::vector<std::string>{test::probed_path(), "run", "--policy", policy, "--cache-dir",
                                 dir_.file("cache")},
        std::map<std::string, std::string>{
            {"METRIST_ORCHESTRATOR_ENDPOINT", fmt::format("127.0.0.1:{}", orchestrator_.port())},
            {"PROBEKIT_PROMETHEUS_LISTEN", fmt::format("127.0.0.1:{}", test::free_tcp_port())}});
    auto ready = probed_->wait_stderr([](const std::string& l) { return l.find("ready:") != std::string::npos; }, 60s);
    ASSERT_TRUE(ready) << probed_->stderr_text();
  }

  // Runs the client, then checks the call probed reported for it; returns that call (null
  // on failure) and what the client wrote to stderr.
  std::pair<nlohmann::json, std::string> expect_call(const test::TlsClient& client, const std::string& path,
                                                     const std::string& host, const std::string& comm) {
    nlohmann::json reported;
    std::string client_err;
    check_call(client, path, host, comm, &reported, &client_err);
    return {reported, client_err};
  }

  void check_call(const test::TlsClient& client, const std::string& path, const std::string& host,
                  const std::string& comm, nlohmann::json* reported, std::string* client_err) {
    auto r = test::run_client(client);
    *client_err = r.err;
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("hello from nginx"), std::string::npos) << r.out;
    auto line = probed_->wait_stdout([&](const std::string& l) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      return !j.is_discarded() && j.value("path", "") == path;
    }, 15s);
    ASSERT_TRUE(line) << probed_->stderr_text();
    auto call = nlohmann::json::parse(*line);
    *reported = call;
    EXPECT_EQ(call["method"], "GET");
    EXPECT_EQ(call["host"], host);
    EXPECT_EQ(call["status"], 200);
    EXPECT_EQ(call["comm"], comm);
    double ms = call["latency_ms"];
    EXPECT_GT(ms, 0.0);
    EXPECT_LT(ms, 5000.0);
    auto datagrams = orchestrator_.receive(1, 5000);
    ASSERT_EQ(datagrams.size(), 1u);
    EXPECT_EQ(datagrams[0], fmt::format("0\tGET\t{}\t{}\t{:.3f}\n", host, path, ms));
    // Exactly one call per request, however many TLS calls the client made for it.
    int seen = 0;
    for (const auto& l : probed_->stdout_lines()) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("path", "") == path) ++seen;
    }
    EXPECT_EQ(seen, 1);
  }

  test::TempDir dir_;
  test::UdpListener orchestrator_;
  std::unique_ptr<test::NginxTls> server_;
  std::unique_ptr<test::Process> probed_;
};

TEST_F(ApiDiscoveryClients, OpensslSClient) {
  auto openssl = test::find_program("openssl");
  if (!openssl) GTEST_SKIP() << "openssl is not installed";
  start_probed();
  test::TlsClient c;
  c.argv = {*openssl, "s_client", "-quiet", "-connect", fmt::format("127.0.0.1:{}", server_->port()),
            "-servername", "api.sclient.test"};
  c.stdin_data = "GET /openssl/s_client?x=1 HTTP/1.1\r\nHost: api.sclient.test\r\nConnection: close\r\n\r\n";
  expect_call(c, "/openssl/s_client?x=1", "api.sclient.test", "openssl");
}

TEST_F(ApiDiscoveryClients, NodeHttpsWithOpensslLinkedIn) {
  auto node = test::find_program("node");
  if (!node) GTEST_SKIP() << "node is not installed";
  auto c = test::node_client(*node, server_->port(), "/node/https", "api.node.test");
  if (!c.missing.empty()) GTEST_SKIP() << c.missing;
  start_probed();
  expect_call(c, "/node/https", "api.node.test", "node");
}

TEST_F(ApiDiscoveryClients, GnuTlsWget) {
  auto c = test::wget_client(server_->url("/gnutls/wget"), "api.wget.test");
  if (!c.missing.empty()) GTEST_SKIP() << c.missing;
  start_probed();
  expect_call(c, "/gnutls/wget", "api.wget.test", "wget");
}

TEST_F(ApiDiscoveryClients, GnuTlsCli) {
  auto c = test::gnutls_cli_client(server_->port(), "/gnutls/cli", "api.gnutls.test");
  if (!c.missing.empty()) GTEST_SKIP() << c.missing;
  start_probed();
  auto [call, err] = expect_call(c, "/gnutls/cli", "api.gnutls.test", "gnutls-cli");
  ASSERT_FALSE(call.is_null());
  EXPECT_EQ(call["tls"]["alpn"], "http/1.1") << call.dump();
}

TEST_F(ApiDiscoveryClients, NssClient) {
  auto c = test::nss_client(dir_, server_->port(), "/nss/client", "api.nss.test", false);
  if (!c.missing.empty()) GTEST_SKIP() << c.missing;
  start_probed();
  std::string comm = c.argv[0].substr(c.argv[0].rfind('/') + 1).substr(0, 15);
  auto [call, err] = expect_call(c, "/nss/client", "api.nss.test", comm);
  ASSERT_FALSE(call.is_null());
  // The client prints what NSS told it; the call must carry the same.
  auto at = err.find("nssget: TLS 0x");
  ASSERT_NE(at, std::string::npos) << err;
  std::string wire = err.substr(at + 14, 4);
  EXPECT_EQ(call["tls"]["version"], wire == "0304" ? "TLSv1.3" : wire == "0303" ? "TLSv1.2" : "?" + wire)
      << call.dump();
  EXPECT_EQ(call["tls"]["alpn"], "http/1.1") << call.dump();
}

TEST_F(ApiDiscoveryClients, GoCryptoTls) {
  auto c = test::go_client(dir_, server_->url("/go/client"), "api.go.test");
  if (!c.missing.empty()) GTEST_SKIP() << c.missing;
  start_probed(fmt::format("{{ pack = \"tls/go\", params = {{ binary = \"{}\" }} }}", c.argv[0]));
  std::string comm = c.argv[0].substr(c.argv[0].rfind('/') + 1).substr(0, 15);
  auto [call, err] = expect_call(c, "/go/client", "api.go.test", comm);
  ASSERT_FALSE(call.is_null());
  // Nothing in crypto/tls is probed for the server name: it comes from the ClientHello the
  // handshake wrote, seen by the socket-binding tracepoint.
  EXPECT_EQ(call["tls"]["sni"], "api.go.test") << call.dump();
}

}  // namespace
}  // namespace probe
