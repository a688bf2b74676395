// End to end on real software: nginx serves HTTPS on loopback, curl and python's urllib
// call it, probed (with the shipped API-discovery policy) reports each call as a JSON line
// and as an Orchestrator datagram, and SIGTERM leaves nothing of ours in the kernel.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/support/tls_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

// Names of our BPF programs the kernel currently has loaded (bpftool truncates to 15 chars).
std::vector<std::string> loaded_probekit_programs() {
  auto [rc, out] = test::run({"bpftool", "-j", "prog", "show"});
  std::vector<std::string> names;
  if (rc != 0) return {"<bpftool failed: " + out + ">"};
  for (const auto& p : nlohmann::json::parse(out))
    if (p.contains("name") && p["name"].get<std::string>().rfind("pk_p", 0) == 0)
      names.push_back(p["name"]);
  return names;
}

size_t probekit_links() {
  auto [rc, out] = test::run({"bpftool", "-j", "link", "show"});
  if (rc != 0) return 999;
  size_t n = 0;
  auto ours = loaded_probekit_programs();
  auto progs = nlohmann::json::parse(test::run({"bpftool", "-j", "prog", "show"}).second);
  for (const auto& l : nlohmann::json::parse(out))
    for (const auto& p : progs)
      if (p["id"] == l["prog_id"] && p.contains("name") &&
          p["name"].get<std::string>().rfind("pk_p", 0) == 0)
        ++n;
  return n;
}

// Debian's interpreter (its _ssl uses the system libssl), not one a user put first in PATH.
std::string python3() { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

class ApiDiscovery : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    for (const char* tool : {"curl", "python3", "bpftool"})
      if (!test::find_program(tool)) GTEST_SKIP() << tool << " is not installed";
    server_ = std::make_unique<test::NginxTls>();
    if (server_->error()) GTEST_SKIP() << *server_->error();
  }

  std::unique_ptr<test::Process> start_probed(int udp_port) {
    auto p = std::make_unique<test::Process>(
        std::vector<std::string>{test::probed_path(), "run", "--policy",
                                 test::source_dir() + "/policies/api-discovery.toml",
                                 "--cache-dir", dir_.file("cache")},
        std::map<std::string, std::string>{
            {"METRIST_ORCHESTRATOR_ENDPOINT", fmt::format("127.0.0.1:{}", udp_port)}});
    auto ready = p->wait_stderr([](const std::string& l) { return l.find("ready:") != std::string::npos; }, 60s);
    EXPECT_TRUE(ready) << p->stderr_text();
    return p;
  }

  test::TempDir dir_;
  std::unique_ptr<test::NginxTls> server_;
};

nlohmann::json wait_call(test::Process& p, const std::string& path) {
  auto line = p.wait_stdout([&](const std::string& l) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    return !j.is_discarded() && j.value("path", "") == path;
  }, 10s);
  if (!line) return nullptr;
  return nlohmann::json::parse(*line);
}

TEST_F(ApiDiscovery, ReportsCurlAndPythonCallsAsJsonAndOrchestratorDatagrams) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());

  // HTTP/1.1 explicitly: nginx also offers HTTP/2 through ALPN.
  auto [crc, cout] = test::run({"curl", "-sk", "--http1.1", "-o", "/dev/null", "-H", "Host: api.curl.test",
                                server_->url("/v1/curl/items?id=42")});
  ASSERT_EQ(crc, 0) << cout;
  std::string py = fmt::format(
      "import ssl, urllib.request\n"
      "ctx = ssl._create_unverified_context()\n"
      "req = urllib.request.Request('{}', data=b'{{\"a\": 1}}', method='POST', headers={{'Host': 'api.python.test'}})\n"
      "print(urllib.request.urlopen(req, context=ctx).status)\n",
      server_->url("/v2/python/orders"));
  auto [prc, pout] = test::run({python3(), "-c", py});
  ASSERT_EQ(prc, 0) << pout;

  nlohmann::json c = wait_call(*probed, "/v1/curl/items?id=42");
  ASSERT_FALSE(c.is_null()) << probed->stderr_text();
  EXPECT_EQ(c["method"], "GET");
  EXPECT_EQ(c["host"], "api.curl.test");
  EXPECT_EQ(c["comm"], "curl");
  EXPECT_EQ(c["status"], 200);
  EXPECT_GT(c["latency_ms"].get<double>(), 0.0);
  EXPECT_LT(c["latency_ms"].get<double>(), 5000.0);

  nlohmann::json p = wait_call(*probed, "/v2/python/orders");
  ASSERT_FALSE(p.is_null()) << probed->stderr_text();
  EXPECT_EQ(p["method"], "POST");
  EXPECT_EQ(p["host"], "api.python.test");
  EXPECT_EQ(p["comm"], "python3");
  EXPECT_GT(p["latency_ms"].get<double>(), 0.0);

  // The Orchestrator receives exactly the v0 datagram for each call, same latency.
  auto datagrams = orchestrator.receive(2, 5000);
  std::vector<std::string> expected = {
      fmt::format("0\tGET\tapi.curl.test\t/v1/curl/items?id=42\t{:.3f}\n", c["latency_ms"].get<double>()),
      fmt::format("0\tPOST\tapi.python.test\t/v2/python/orders\t{:.3f}\n", p["latency_ms"].get<double>())};
  EXPECT_EQ(datagrams, expected);

  // While running, our programs are in the kernel; after SIGTERM, none are.
  EXPECT_FALSE(loaded_probekit_programs().empty());
  EXPECT_GT(probekit_links(), 0u);
  probed->signal(SIGTERM);
  auto rc = probed->wait(30s);
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 0) << probed->stderr_text();
  EXPECT_EQ(loaded_probekit_programs(), std::vector<std::string>{});
  EXPECT_EQ(probekit_links(), 0u);
}

// SIGKILL gives probed no chance to detach: the kernel releases everything when its file
// descriptors close (nothing is pinned).
TEST_F(ApiDiscovery, NothingIsLeftAfterSigkill) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  EXPECT_FALSE(loaded_probekit_programs().empty());
  probed->signal(SIGKILL);
  ASSERT_TRUE(probed->wait(10s));
  // Links release their programs after an RCU grace period.
  std::vector<std::string> left = loaded_probekit_programs();
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    left = loaded_probekit_programs();
  }
  EXPECT_EQ(left, std::vector<std::string>{});
  EXPECT_EQ(probekit_links(), 0u);
}

}  // namespace
}  // namespace probe
