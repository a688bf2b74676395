// Network sinks against endpoints that misbehave, with probed under load: a collector or
// Orchestrator that is down at start, goes down mid-run, or is slow. probed keeps running, its
// memory stays bounded while thousands of records are emitted, it recovers on its own, and
// its report accounts for every record: sent + dropped + failed == emitted.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "tests/support/env.h"
#include "tests/support/otlp_receiver.h"
#include "tests/support/probed_run.h"
#include "tests/support/prometheus_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

constexpr int kPerMarker = 100;                 // records the handler emits per event
constexpr uint64_t kRssGrowthLimit = 64u << 20;  // what a dead endpoint may cost, at most

// A handler that emits kPerMarker records per marker to `sink`, and one JSON line to stdout,
// so the test sees whether the event loop keeps up while the sink struggles.
std::string handler(const std::string& sink, const std::string& record) {
  return fmt::format(R"(
local n = 0
function on_marker(ev)
  for i = 1, {per} do
    n = n + 1
    emit("{sink}", {record})
  end
  emit("stdout", {{ marker = n }})
end
)",
                     fmt::arg("per", kPerMarker), fmt::arg("sink", sink), fmt::arg("record", record));
}

const char* kSpan = R"({ name = "op", kind = "client", duration_ms = 1, attributes = { seq = n } })";
const char* kCall = R"({ method = "GET", host = "api.example.com", path = "/v1/items/" .. n, latency_ms = 12.5 })";

std::string policy(const std::string& sink_toml) {
  return fmt::format(R"(
[policy]
name = "sink-faults"

{marker}
[handlers]
script = "handler.lua"

[sinks.stdout]
type = "jsonl"
path = "-"

[sinks.metrics]
type = "prometheus"
listen = "127.0.0.1:0"

{sink}
)",
                     fmt::arg("marker", test::marker_probe_toml()), fmt::arg("sink", sink_toml));
}

// queue_size 0: the default bound (8192 spans).
std::string otlp_sink(const std::string& endpoint, int queue_size = 2000) {
  return fmt::format(R"([sinks.otlp]
endpoint = "{}"
{}
batch_size = 200
batch_delay = "50ms"
timeout = "2s"
retry_initial = "100ms"
retry_max_interval = "500ms"
retry_max_elapsed = "3s"
metrics_interval = "0"
)",
                     endpoint, queue_size ? fmt::format("queue_size = {}", queue_size) : "");
}

std::string orchestrator_sink(const std::string& endpoint) {
  return fmt::format("[sinks.orchestrator]\nendpoint = \"{}\"\nqueue_size = 2000\n", endpoint);
}

class SinkFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  }

  // Fires markers in rounds (each makes kPerMarker records), checking after each round that
  // probed is alive, answers /metrics, keeps up with events, and stays within its memory bound.
  void TearDown() override {
    if (peak_rss_)
      std::cout << "[   INFO   ] probed RSS " << start_rss_ / 1024 << " KiB at start, " << peak_rss_ / 1024
                << " KiB at most, after " << markers_ * kPerMarker << " records\n";
  }

  void load(test::ProbedRun& probed, int markers, uint64_t rss_before) {
    if (!start_rss_) start_rss_ = rss_before;
    int port = probed.metrics_port();
    ASSERT_GT(port, 0);
    for (int round = 0; round < markers / 10; ++round) {
      test::fire_markers(10);
      markers_ += 10;
      auto seen = probed.process().wait_stdout(
          [&](const std::string& l) { return l == fmt::format("{{\"marker\":{}}}", markers_ * kPerMarker); }, 10s);
      ASSERT_TRUE(seen) << "the event loop fell behind: marker " << markers_ << "\n"
                        << probed.process().stderr_text();
      ASSERT_TRUE(probed.running());
      auto [status, body] = test::http_get("127.0.0.1", port, "/metrics");
      ASSERT_EQ(status, 200);
      uint64_t rss = probed.rss_bytes();
      peak_rss_ = std::max(peak_rss_, rss);
      ASSERT_LT(rss, rss_before + kRssGrowthLimit) << "probed grew by " << (rss - rss_before) / 1024 << " KiB";
    }
  }

  // After SIGTERM: the report accounts for every record the handler emitted to `sink`.
  test::SinkTotals expect_accounted(test::ProbedRun& probed, const std::string& sink) {
    auto code = probed.stop();
    EXPECT_TRUE(code);
    if (code) {
      EXPECT_EQ(*code, 0) << probed.process().stderr_text();
    }
    auto calls = probed.final_handler_calls();
    auto errors = probed.final_handler_errors();
    auto totals = probed.final_totals(sink);
    EXPECT_TRUE(calls && errors && totals) << probed.process().stderr_text();
    if (!calls || !errors || !totals) return {};
    EXPECT_EQ(*errors, 0u);
    EXPECT_EQ(*calls, static_cast<uint64_t>(markers_));
    EXPECT_EQ(totals->all(), *calls * kPerMarker)
        << "sent " << totals->sent << " dropped " << totals->dropped << " failed " << totals->failed;
    return *totals;
  }

  int markers_ = 0;
  uint64_t start_rss_ = 0;
  uint64_t peak_rss_ = 0;
};

TEST_F(SinkFaults, OtlpCollectorDownAtStartThenUp) {
  int port = test::free_tcp_port();  // nothing listens there yet
  test::ProbedRun probed(policy(otlp_sink(fmt::format("http://127.0.0.1:{}", port), 0)), handler("otlp", kSpan));
  ASSERT_EQ(probed.error(), "");
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 300, rss0);  // 30000 spans into a dead endpoint, with the default queue
  EXPECT_NE(probed.process().stderr_text().find("retrying traces"), std::string::npos);

  test::OtlpReceiver collector(port);
  ASSERT_TRUE(collector.listening());
  load(probed, 10, rss0);
  EXPECT_TRUE(collector.wait([&] { return !collector.accepted("/v1/traces").empty(); }, 15s))
      << "probed did not recover";
  auto totals = expect_accounted(probed, "otlp");
  EXPECT_GT(totals.sent, 0u);
  EXPECT_GT(totals.dropped + totals.failed, 0u);
}

TEST_F(SinkFaults, OtlpCollectorGoesDownMidRun) {
  auto collector = std::make_unique<test::OtlpReceiver>();
  std::string url = collector->url();
  test::ProbedRun probed(policy(otlp_sink(url)), handler("otlp", kSpan));
  ASSERT_EQ(probed.error(), "");
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 10, rss0);
  ASSERT_TRUE(collector->wait([&] { return !collector->accepted("/v1/traces").empty(); }, 15s));
  collector->stop();  // the collector dies
  collector.reset();
  load(probed, 60, rss0);
  auto totals = expect_accounted(probed, "otlp");
  EXPECT_GT(totals.sent, 0u);
  EXPECT_GT(totals.dropped + totals.failed, 0u);
}

TEST_F(SinkFaults, OtlpCollectorIsSlow) {
  test::OtlpReceiver collector;
  collector.set_fallback({200, "", "", 1500ms});  // every request takes 1.5 s
  test::ProbedRun probed(policy(otlp_sink(collector.url())), handler("otlp", kSpan));
  ASSERT_EQ(probed.error(), "");
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 60, rss0);  // the event loop keeps up: load() checks every marker's line
  auto totals = expect_accounted(probed, "otlp");
  EXPECT_GT(totals.sent, 0u);
  EXPECT_GT(totals.dropped, 0u);  // 6000 spans cannot go through at 200 per 1.5 s
}

// A UDP socket bound to a given loopback port (the Orchestrator coming up).
int bind_udp(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  return fd;
}

size_t drain_udp(int fd, int quiet_ms) {
  size_t n = 0;
  char buf[9000];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, quiet_ms) == 1)
    if (recv(fd, buf, sizeof buf, 0) > 0) ++n;
  return n;
}

TEST_F(SinkFaults, OrchestratorDownAtStartThenUpThenDownAgain) {
  int port;
  {
    test::UdpListener probe_port;
    port = probe_port.port();
  }
  test::ProbedRun probed(policy(orchestrator_sink(fmt::format("127.0.0.1:{}", port))), handler("orchestrator", kCall));
  ASSERT_EQ(probed.error(), "");
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 50, rss0);  // nobody listens: every send is refused and counted
  int fd = bind_udp(port);
  ASSERT_GE(fd, 0);
  load(probed, 10, rss0);
  size_t received = drain_udp(fd, 1000);
  EXPECT_GT(received, 0u) << "probed did not recover";
  close(fd);  // down again
  load(probed, 20, rss0);
  auto totals = expect_accounted(probed, "orchestrator");
  EXPECT_GE(totals.sent, received);
  EXPECT_GT(totals.failed, 0u);
}

TEST_F(SinkFaults, OrchestratorThatDoesNotResolve) {
  test::ProbedRun probed(policy(orchestrator_sink("orchestrator.invalid:51712")), handler("orchestrator", kCall));
  ASSERT_EQ(probed.error(), "");  // a name that does not resolve yet never stops probed
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 50, rss0);
  auto totals = expect_accounted(probed, "orchestrator");
  EXPECT_EQ(totals.sent, 0u);
  EXPECT_NE(probed.process().stderr_text().find("cannot resolve orchestrator.invalid"), std::string::npos);
}

TEST_F(SinkFaults, OrchestratorThatDoesNotRead) {
  // A listener that never reads: its buffer fills and the kernel drops datagrams, as UDP does;
  // probed sends without waiting and is not slowed down.
  test::UdpListener slow;
  test::ProbedRun probed(policy(orchestrator_sink(fmt::format("127.0.0.1:{}", slow.port()))),
                         handler("orchestrator", kCall));
  ASSERT_EQ(probed.error(), "");
  uint64_t rss0 = probed.rss_bytes();
  load(probed, 50, rss0);
  auto totals = expect_accounted(probed, "orchestrator");
  EXPECT_GT(totals.sent, 0u);
}

}  // namespace
}  // namespace probe
