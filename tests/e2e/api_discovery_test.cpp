// End to end on real software: nginx serves HTTPS on loopback, curl and python's urllib
// call it, probed (with the shipped API-discovery policy) reports each call as a JSON line
// and as an Orchestrator datagram, and SIGTERM leaves nothing of ours in the kernel.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <regex>
#include <set>
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
    metrics_port_ = test::free_tcp_port();
    auto p = std::make_unique<test::Process>(
        std::vector<std::string>{test::probed_path(), "run", "--policy",
                                 test::source_dir() + "/policies/api-discovery.toml",
                                 "--cache-dir", dir_.file("cache")},
        std::map<std::string, std::string>{
            {"METRIST_ORCHESTRATOR_ENDPOINT", fmt::format("127.0.0.1:{}", udp_port)},
            {"PROBEKIT_PROMETHEUS_LISTEN", fmt::format("127.0.0.1:{}", metrics_port_)}});
    auto ready = p->wait_stderr([](const std::string& l) { return l.find("ready:") != std::string::npos; }, 60s);
    EXPECT_TRUE(ready) << p->stderr_text();
    return p;
  }

  // curl against the test server with a name that resolves to it, so the client sends SNI.
  std::pair<int, std::string> curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-sk", "--resolve",
                                     fmt::format("{}:{}:127.0.0.1", kName, server_->port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(argv);
  }
  std::string named_url(const std::string& path) const {
    return fmt::format("https://{}:{}{}", kName, server_->port(), path);
  }

  static constexpr const char* kName = "api.sni.test";
  test::TempDir dir_;
  std::unique_ptr<test::NginxTls> server_;
  int metrics_port_ = 0;
};

nlohmann::json wait_call(test::Process& p, const std::string& path, std::chrono::milliseconds timeout = 10s) {
  auto line = p.wait_stdout([&](const std::string& l) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    return !j.is_discarded() && j.value("path", "") == path;
  }, timeout);
  if (!line) return nullptr;
  return nlohmann::json::parse(*line);
}

// Every call probed printed so far.
std::vector<nlohmann::json> calls(test::Process& p) {
  std::vector<nlohmann::json> out;
  for (const auto& l : p.stdout_lines()) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (!j.is_discarded() && j.contains("method")) out.push_back(j);
  }
  return out;
}

// Waits until `n` calls whose path starts with `prefix` were printed; returns them.
std::vector<nlohmann::json> wait_calls(test::Process& p, const std::string& prefix, size_t n,
                                       std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<nlohmann::json> got;
  while (true) {
    got.clear();
    for (auto& c : calls(p))
      if (c.value("path", "").rfind(prefix, 0) == 0) got.push_back(c);
    if (got.size() >= n || std::chrono::steady_clock::now() > deadline) return got;
    std::this_thread::sleep_for(50ms);
  }
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

  // Both clients closed their connections: the kernel holds no state for them any more
  // (SSL_shutdown and SSL_free release it; SSL_new starts each object clean).
  auto [mrc, dump] = test::run({"bpftool", "-j", "map", "dump", "name", "pk_stream_conns"});
  ASSERT_EQ(mrc, 0) << dump;
  EXPECT_EQ(nlohmann::json::parse(dump).size(), 0u) << dump;

  // While running, our programs are in the kernel; after SIGTERM, none are.
  EXPECT_FALSE(loaded_probekit_programs().empty());
  EXPECT_GT(probekit_links(), 0u);
  probed->signal(SIGTERM);
  auto rc = probed->wait(30s);
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 0) << probed->stderr_text();
  for (const char* lifecycle : {"ssl_new", "ssl_shutdown", "ssl_free"}) {
    std::smatch m;
    std::string log = probed->stderr_text();
    ASSERT_TRUE(std::regex_search(log, m, std::regex(fmt::format("probe {}: hits ([0-9]+)", lifecycle))))
        << lifecycle << "\n" << log;
    EXPECT_GE(std::stoi(m[1]), 1) << lifecycle << " never fired for curl and python";
  }
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


// HTTP/2 (ALPN h2): three requests multiplexed on one connection, each with :authority,
// :path and :status decoded from HPACK; the handshake's SNI, ALPN and TLS version and the
// socket's peer address come with each call.
TEST_F(ApiDiscovery, Http2CallsCarryAuthoritySniAlpnAndPeer) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  auto [rc, out] = curl({"-v", "--http2", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                         named_url("/h2/one"), named_url("/h2/two?q=1"), named_url("/h2/three")});
  ASSERT_EQ(rc, 0) << out;
  // What curl itself says was negotiated: "* SSL connection using TLSv1.2 / ...".
  size_t at = out.find("SSL connection using ");
  ASSERT_NE(at, std::string::npos) << out;
  std::string negotiated = out.substr(at + 21, out.find(' ', at + 21) - (at + 21));
  auto got = wait_calls(*probed, "/h2/", 3);
  ASSERT_EQ(got.size(), 3u) << probed->stderr_text();
  std::set<std::string> paths;
  for (const auto& c : got) {
    paths.insert(c["path"].get<std::string>());
    EXPECT_EQ(c["protocol"], "HTTP/2");
    EXPECT_EQ(c["method"], "GET");
    EXPECT_EQ(c["host"], fmt::format("{}:{}", kName, server_->port()));
    EXPECT_EQ(c["status"], 200);
    EXPECT_EQ(c["tls"]["sni"], kName);
    EXPECT_EQ(c["tls"]["alpn"], "h2");
    EXPECT_EQ(c["tls"]["version"], negotiated);
    EXPECT_EQ(c["peer"], fmt::format("127.0.0.1:{}", server_->port()));
    EXPECT_EQ(c["comm"], "curl");
    EXPECT_EQ(c["exe"], "/usr/bin/curl");
    EXPECT_GT(c["latency_ms"].get<double>(), 0.0);
    EXPECT_LT(c["latency_ms"].get<double>(), 5000.0);
  }
  EXPECT_EQ(paths, (std::set<std::string>{"/h2/one", "/h2/two?q=1", "/h2/three"}));
  auto datagrams = orchestrator.receive(3, 5000);
  ASSERT_EQ(datagrams.size(), 3u);
  for (const auto& d : datagrams)
    EXPECT_EQ(d.rfind(fmt::format("0\tGET\t{}:{}\t/h2/", kName, server_->port()), 0), 0u) << d;
}

// Credentials in headers and query parameters never reach a sink; the call still does.
TEST_F(ApiDiscovery, SecretsAreRedactedBeforeAnySink) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  for (const char* version : {"--http1.1", "--http2"}) {
    std::string path = std::string("/secret/") + (version[7] == '1' ? "h1" : "h2");
    auto [rc, out] = curl({version, "-o", "/dev/null", "-H", "Authorization: Bearer sekrit-bearer",
                           "-H", "Cookie: session=sekrit-cookie", "-H", "X-Api-Key: sekrit-header",
                           named_url(path + "?api_key=sekrit-query&token=sekrit-token&id=7")});
    ASSERT_EQ(rc, 0) << out;
    nlohmann::json c = wait_call(*probed, path + "?api_key=REDACTED&token=REDACTED&id=7");
    ASSERT_FALSE(c.is_null()) << probed->stderr_text();
  }
  auto datagrams = orchestrator.receive(2, 5000);
  ASSERT_EQ(datagrams.size(), 2u);
  for (const auto& d : datagrams) EXPECT_NE(d.find("api_key=REDACTED&token=REDACTED&id=7"), std::string::npos) << d;
  for (const auto& l : probed->stdout_lines()) EXPECT_EQ(l.find("sekrit"), std::string::npos) << l;
  for (const auto& d : datagrams) EXPECT_EQ(d.find("sekrit"), std::string::npos) << d;
  EXPECT_EQ(probed->stderr_text().find("sekrit"), std::string::npos);
}

// Thousands of requests on one keep-alive connection: every one reported once, in order.
TEST_F(ApiDiscovery, KeepAliveConnectionReportsEveryRequest) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  constexpr int kRequests = 300;
  auto [rc, out] = curl({"--http1.1", "-o", "/dev/null", "-w", "%{num_connects}\n",
                         named_url(fmt::format("/keepalive/[1-{}]", kRequests))});
  ASSERT_EQ(rc, 0) << out;
  // curl connected once: the first transfer reports 1, the rest 0.
  EXPECT_EQ(std::count(out.begin(), out.end(), '1'), 1) << out;
  auto got = wait_calls(*probed, "/keepalive/", kRequests);
  ASSERT_EQ(got.size(), static_cast<size_t>(kRequests)) << probed->stderr_text();
  std::set<std::string> paths;
  for (const auto& c : got) {
    paths.insert(c["path"].get<std::string>());
    EXPECT_EQ(c["status"], 200);
    EXPECT_EQ(c["host"], fmt::format("{}:{}", kName, server_->port()));
  }
  EXPECT_EQ(paths.size(), static_cast<size_t>(kRequests));
}

// A 1 MiB body whose every 4 KiB block starts like an HTTP response: one call, status 200,
// the client gets every byte, and no body block is mistaken for a response (HTTP/1.1 and 2).
TEST_F(ApiDiscovery, LargeResponseIsOneCallAndArrivesIntact) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  for (const char* version : {"--http1.1", "--http2"}) {
    std::string query = std::string("?v=") + (version[7] == '1' ? "1" : "2");
    auto [rc, out] = curl({version, "-o", dir_.file("big"), "-w", "%{size_download}",
                           named_url("/files/big" + query), named_url("/after-big" + query)});
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(out.substr(0, out.find_first_not_of("0123456789")), std::to_string(test::NginxTls::kBigFileBytes));
    auto [src, sout] = test::run({"cmp", dir_.file("big"), server_->dir() + "/www/big"});
    EXPECT_EQ(src, 0) << sout;
    ASSERT_FALSE(wait_call(*probed, "/after-big" + query).is_null()) << probed->stderr_text();
    nlohmann::json big = wait_call(*probed, "/files/big" + query);
    ASSERT_FALSE(big.is_null());
    EXPECT_EQ(big["status"], 200);
  }
  for (const auto& c : calls(*probed)) EXPECT_NE(c["status"], 500) << c.dump();
  EXPECT_EQ(wait_calls(*probed, "/files/big", 2, 1s).size(), 2u);
}

// A client that was already running (and already connected) before probed started.
TEST_F(ApiDiscovery, ClientStartedBeforeProbedIsSeen) {
  test::UdpListener orchestrator;
  std::string py = fmt::format(
      "import http.client, ssl, time\n"
      "conn = http.client.HTTPSConnection('127.0.0.1', {}, context=ssl._create_unverified_context())\n"
      "for i in range(1, 200):\n"
      "    conn.request('GET', '/early/%d' % i, headers={{'Host': 'api.early.test'}})\n"
      "    r = conn.getresponse(); r.read()\n"
      "    assert r.status == 200\n"
      "    time.sleep(0.1)\n",
      server_->port());
  test::Process client({python3(), "-c", py});
  std::this_thread::sleep_for(500ms);  // connected and calling before probed exists
  auto probed = start_probed(orchestrator.port());
  auto got = wait_calls(*probed, "/early/", 5, 30s);
  ASSERT_GE(got.size(), 5u) << probed->stderr_text();
  for (const auto& c : got) {
    EXPECT_EQ(c["host"], "api.early.test");
    EXPECT_EQ(c["pid"], client.pid());
    EXPECT_EQ(c["status"], 200);
  }
  // Writes are probed at entry (decision 0008): the first write after attach binds the socket
  // of a connection whose handshake was missed, so later calls carry the peer.
  EXPECT_EQ(got.back()["peer"], fmt::format("127.0.0.1:{}", server_->port())) << got.back().dump();
  client.signal(SIGTERM);
  client.wait(5s);
}

// Several clients at once: every call reported once, none crossed between connections.
TEST_F(ApiDiscovery, ConcurrentClientsAreKeptApart) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  constexpr int kClients = 4, kEach = 40;
  std::vector<std::unique_ptr<test::Process>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(std::make_unique<test::Process>(std::vector<std::string>{
        "curl", "-sk", i % 2 ? "--http2" : "--http1.1", "-o", "/dev/null", "-H",
        fmt::format("Host: client{}.test", i),
        server_->url(fmt::format("/concurrent/{}/[1-{}]", i, kEach))}));
  for (auto& c : clients) ASSERT_EQ(c->wait(60s), std::optional<int>(0));
  auto got = wait_calls(*probed, "/concurrent/", kClients * kEach);
  ASSERT_EQ(got.size(), static_cast<size_t>(kClients * kEach)) << probed->stderr_text();
  for (const auto& c : got) {
    std::string path = c["path"];
    int client = path[12] - '0';
    EXPECT_EQ(c["host"], fmt::format("client{}.test", client)) << path;
    EXPECT_EQ(c["protocol"], client % 2 ? "HTTP/2" : "HTTP/1.1") << path;
    EXPECT_EQ(c["pid"], clients[client]->pid()) << path;
  }
}

// The calls are metrics too: api_calls_total and the latency histogram on /metrics.
TEST_F(ApiDiscovery, CallsAreCountedOnTheMetricsEndpoint) {
  test::UdpListener orchestrator;
  auto probed = start_probed(orchestrator.port());
  auto [rc, out] = test::run({"curl", "-sk", "--http1.1", "-o", "/dev/null", "-o", "/dev/null", "-H",
                              "Host: api.metrics.test", server_->url("/m/1"), server_->url("/m/2")});
  ASSERT_EQ(rc, 0) << out;
  ASSERT_EQ(wait_calls(*probed, "/m/", 2).size(), 2u) << probed->stderr_text();
  auto [mrc, metrics] = test::run({"curl", "-s", fmt::format("http://127.0.0.1:{}/metrics", metrics_port_)});
  ASSERT_EQ(mrc, 0) << metrics;
  EXPECT_NE(metrics.find("api_calls_total{host=\"api.metrics.test\",method=\"GET\",status=\"200\"} 2"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("api_call_duration_seconds_count{host=\"api.metrics.test\",method=\"GET\"} 2"),
            std::string::npos) << metrics;
}

}  // namespace
}  // namespace probe
