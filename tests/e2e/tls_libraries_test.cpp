// End to end, one TLS library per test: real clients built on that library call a real nginx
// on loopback while probed runs the library's stdlib pack (tests/e2e/policies/tls-*.toml,
// handlers in tls-libraries.lua printing one JSON line per event). For every client, the
// pack's write probe must report the request line and its read probe the status line on the
// same connection, and the client must still succeed with the body intact.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/support/tls_clients.h"
#include "tests/support/tls_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

constexpr char kBody[] = "hello from nginx\n";

bool one_of(const std::vector<std::string>& names, const nlohmann::json& name) {
  return name.is_string() && std::find(names.begin(), names.end(), name.get<std::string>()) != names.end();
}

// Which probes of a pack may report each side of one exchange, and who makes it.
struct Exchange {
  std::string path;
  std::string comm;  // the client's process name
  std::vector<std::string> write_probes;
  std::vector<std::string> read_probes;
};

class TlsLibraries : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    server_ = std::make_unique<test::NginxTls>();
    if (server_->error()) GTEST_SKIP() << *server_->error();
  }

  // SIGTERM lets probed detach before the server and the clients' files go away.
  void TearDown() override {
    if (!probed_) return;
    probed_->signal(SIGTERM);
    probed_->wait(30s);
  }

  // Starts probed on `policy` and waits until its probes are attached.
  void start_probed(const std::string& policy, std::chrono::seconds ready_within = 60s) {
    auto started = std::chrono::steady_clock::now();
    probed_ = std::make_unique<test::Process>(std::vector<std::string>{
        test::probed_path(), "run", "--policy", policy, "--cache-dir", dir_.file("cache")});
    auto ready = probed_->wait_stderr(
        [](const std::string& l) { return l.find("ready:") != std::string::npos; }, ready_within);
    ready_after_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    ASSERT_TRUE(ready) << "probed did not become ready:\n" << probed_->stderr_text();
  }

  static std::string test_policy(const std::string& name) {
    return test::source_dir() + "/tests/e2e/policies/" + name;
  }

  // probed's output so far, for failure messages.
  std::string probed_output() {
    std::string s = "probed stdout:\n";
    for (const auto& l : probed_->stdout_lines()) s += l + "\n";
    return s + "probed stderr:\n" + probed_->stderr_text();
  }

  // The first event probed printed that satisfies `pred`, or null after 10 s.
  nlohmann::json wait_event(const std::function<bool(const nlohmann::json&)>& pred) {
    auto line = probed_->wait_stdout(
        [&](const std::string& l) {
          auto j = nlohmann::json::parse(l, nullptr, false);
          return !j.is_discarded() && j.is_object() && pred(j);
        },
        10s);
    return line ? nlohmann::json::parse(*line) : nlohmann::json();
  }

  // Runs `client` and checks that it succeeded and that probed saw `x` on its connection.
  // `full_response`: the client prints headers and body, not the body alone.
  void expect_exchange(const test::TlsClient& client, const Exchange& x, bool full_response = false) {
    auto run = test::run_client(client);
    EXPECT_EQ(run.rc, 0) << run.out << run.err;
    if (full_response) EXPECT_NE(run.out.find(std::string("\r\n\r\n") + kBody), std::string::npos) << run.out << run.err;
    else EXPECT_EQ(run.out, kBody) << run.err;

    std::string request = fmt::format("GET {} HTTP/1.1", x.path);
    nlohmann::json w = wait_event([&](const nlohmann::json& e) { return e.value("line", "") == request; });
    ASSERT_FALSE(w.is_null()) << "no event with \"" << request << "\"\n" << probed_output();
    EXPECT_EQ(w["direction"], "write") << w.dump();
    EXPECT_TRUE(one_of(x.write_probes, w["probe"])) << w.dump();
    EXPECT_EQ(w["comm"], x.comm) << w.dump();
    EXPECT_NE(w["conn"], "0x0") << w.dump();

    // The response on the same connection of the same process.
    nlohmann::json r = wait_event([&](const nlohmann::json& e) {
      return e.value("direction", "") == "read" && e["pid"] == w["pid"] && e["conn"] == w["conn"];
    });
    ASSERT_FALSE(r.is_null()) << "no read event on the connection of " << w.dump() << "\n" << probed_output();
    EXPECT_EQ(r["line"], "HTTP/1.1 200 OK") << r.dump();
    EXPECT_TRUE(one_of(x.read_probes, r["probe"])) << r.dump();
    EXPECT_EQ(r["comm"], x.comm) << r.dump();

    // One request, one write event: a call that failed and was retried must not count twice.
    size_t writes = 0;
    for (const auto& l : probed_->stdout_lines()) {
      auto e = nlohmann::json::parse(l, nullptr, false);
      writes += !e.is_discarded() && e.is_object() && e.value("line", "") == request;
    }
    EXPECT_EQ(writes, 1u) << probed_output();
  }

  test::TempDir dir_;
  std::unique_ptr<test::NginxTls> server_;
  std::unique_ptr<test::Process> probed_;
  std::chrono::milliseconds ready_after_{0};
};

TEST_F(TlsLibraries, GnuTlsWgetAndGnutlsCli) {
  auto wget = test::wget_client(server_->url("/gnutls/wget"), "api.wget.test");
  if (!wget.missing.empty()) GTEST_SKIP() << wget.missing;
  auto cli = test::gnutls_cli_client(server_->port(), "/gnutls/cli", "api.gnutls.test");
  if (!cli.missing.empty()) GTEST_SKIP() << cli.missing;
  start_probed(test_policy("tls-gnutls.toml"));
  ASSERT_FALSE(HasFatalFailure());

  expect_exchange(wget, {"/gnutls/wget", "wget", {"gnutls_record_send"}, {"gnutls_record_recv"}});
  expect_exchange(cli, {"/gnutls/cli", "gnutls-cli", {"gnutls_record_send"}, {"gnutls_record_recv"}},
                  /*full_response=*/true);
}

TEST_F(TlsLibraries, NssWriteReadAndSendRecv) {
  auto rw = test::nss_client(dir_, server_->port(), "/nss/write", "api.nss.test", /*use_send=*/false);
  if (!rw.missing.empty()) GTEST_SKIP() << rw.missing;
  auto sr = test::nss_client(dir_, server_->port(), "/nss/send", "api.nss.test", /*use_send=*/true);
  start_probed(test_policy("tls-nss.toml"));
  ASSERT_FALSE(HasFatalFailure());

  expect_exchange(rw, {"/nss/write", "nssget", {"nss_pr_write"}, {"nss_pr_read"}});
  expect_exchange(sr, {"/nss/send", "nssget", {"nss_pr_send"}, {"nss_pr_recv"}});
}

TEST_F(TlsLibraries, GoCryptoTls) {
  auto go = test::go_client(dir_, server_->url("/go/client"), "api.go.test");
  if (!go.missing.empty()) GTEST_SKIP() << go.missing;
  // The pack targets one executable, so this policy is written for the binary just built.
  std::string policy = dir_.file("tls-go.toml");
  test::write_text(policy, fmt::format(R"([policy]
name = "tls-go-test"
include = [{{ pack = "tls/go", params = {{ binary = "{}", max = 512 }} }}]

[handlers]
script = "{}"

[sinks.jsonl]
path = "-"
)",
                                       go.argv[0], test_policy("tls-libraries.lua")));
  start_probed(policy);
  ASSERT_FALSE(HasFatalFailure());

  expect_exchange(go, {"/go/client", "goget", {"go_tls_write"}, {"go_tls_read"}});
}

TEST_F(TlsLibraries, NodeWithOpensslLinkedIn) {
  // The test policy probes /usr/bin/node (the pack's default), whatever node PATH finds.
  auto node = test::node_client("/usr/bin/node", server_->port(), "/node/https", "api.node.test");
  if (!node.missing.empty()) GTEST_SKIP() << node.missing;
  // probed reads the symbols of the ~100 MB executable and disassembles around them.
  start_probed(test_policy("tls-node.toml"), 120s);
  ASSERT_FALSE(HasFatalFailure());
  RecordProperty("probed_ready_ms", static_cast<int>(ready_after_.count()));
  std::cout << "probed ready on /usr/bin/node after " << ready_after_.count() << " ms\n";

  expect_exchange(node, {"/node/https", "node", {"static_ssl_write", "static_ssl_write_ex"},
                         {"static_ssl_read", "static_ssl_read_ex"}});
}

}  // namespace
}  // namespace probe
