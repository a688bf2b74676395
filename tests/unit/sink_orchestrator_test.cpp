// The Orchestrator sink end to end over real UDP sockets: exact v0 datagrams, IPv4, IPv6 and
// host names, refusal of calls the Orchestrator cannot parse, and an endpoint that does not
// resolve or listen costing counted failures, never a blocked emit().
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/orchestrator/orchestrator_sink.h"
#include "tests/support/env.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

nlohmann::json call(const std::string& method, const std::string& host, const std::string& path,
                    double ms) {
  return {{"method", method}, {"host", host}, {"path", path}, {"latency_ms", ms}};
}

std::unique_ptr<OrchestratorSink> open_sink(const std::string& endpoint) {
  OrchestratorOptions o;
  o.endpoint = endpoint;
  auto s = OrchestratorSink::open("orchestrator", o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

uint64_t accounted(const Sink& s) {
  return s.counters().sent + s.counters().dropped + s.counters().failed;
}

// A UDP socket on [::1] (the test helper's listener is IPv4).
struct Udp6Listener {
  int fd = -1;
  int port = 0;
  Udp6Listener() {
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
      return;
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin6_port);
  }
  ~Udp6Listener() {
    if (fd >= 0) close(fd);
  }
  std::string receive_one(int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return {};
    char buf[9000];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
};

TEST(SinkOrchestrator, SendsExactV0Datagrams) {
  test::UdpListener orchestrator;
  auto sink = open_sink("127.0.0.1:" + std::to_string(orchestrator.port()));
  sink->emit(call("GET", "ipinfo.io", "/1.2.3.4/geo", 182.41234));
  sink->emit(call("POST", "api.example.com", "/v1/items?id=4", 0.5));
  auto got = orchestrator.receive(2, 5000);
  EXPECT_EQ(got, (std::vector<std::string>{"0\tGET\tipinfo.io\t/1.2.3.4/geo\t182.412\n",
                                           "0\tPOST\tapi.example.com\t/v1/items?id=4\t0.500\n"}));
  sink->flush();
  EXPECT_EQ(sink->counters().sent, 2u);
  EXPECT_EQ(sink->queued(), 0u);
}

TEST(SinkOrchestrator, ReachesIpv6AndHostNames) {
  Udp6Listener v6;
  if (v6.fd < 0) GTEST_SKIP() << "no IPv6 loopback here";
  auto sink = open_sink("[::1]:" + std::to_string(v6.port));
  sink->emit(call("GET", "h", "/six", 1));
  EXPECT_EQ(v6.receive_one(5000), "0\tGET\th\t/six\t1.000\n");

  test::UdpListener v4;
  auto by_name = open_sink("localhost:" + std::to_string(v4.port()));
  by_name->emit(call("GET", "h", "/named", 2));
  EXPECT_EQ(v4.receive(1, 5000), std::vector<std::string>{"0\tGET\th\t/named\t2.000\n"});
}

TEST(SinkOrchestrator, DropsCallsTheOrchestratorCannotParse) {
  test::UdpListener orchestrator;
  auto sink = open_sink("127.0.0.1:" + std::to_string(orchestrator.port()));
  sink->emit(call("GET", "", "/", 1));              // empty host
  sink->emit(call("get me", "h", "/", 1));          // not a method
  sink->emit({{"method", "GET"}, {"host", "h"}});   // no latency
  sink->emit(call("GET", "h", "/a b", 1));          // sanitized, sent
  auto got = orchestrator.receive(1, 5000);
  EXPECT_EQ(got, std::vector<std::string>{"0\tGET\th\t/a%20b\t1.000\n"});
  sink->flush();
  EXPECT_EQ(sink->counters().dropped, 3u);
  EXPECT_EQ(sink->counters().sent, 1u);
}

TEST(SinkOrchestrator, AnUnresolvableEndpointNeverBlocksEmit) {
  auto sink = open_sink("orchestrator.invalid:51712");
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20000; ++i) sink->emit(call("GET", "h", "/x", 1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  sink->flush();
  EXPECT_EQ(accounted(*sink), 20000u);
  EXPECT_EQ(sink->counters().sent, 0u);
  EXPECT_GT(sink->counters().failed, 0u);
}

TEST(SinkOrchestrator, RecoversWhenTheOrchestratorStartsListening) {
  // A port nobody listens on yet: sends fail (ICMP port unreachable) and are counted.
  int port;
  {
    test::UdpListener probe_port;
    port = probe_port.port();
  }
  auto sink = open_sink("127.0.0.1:" + std::to_string(port));
  for (int i = 0; i < 100; ++i) sink->emit(call("GET", "h", "/before", 1));
  sink->flush();
  EXPECT_EQ(accounted(*sink), 100u);
  // The Orchestrator comes up on that port: datagrams arrive, nothing had to be restarted.
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  // The first send may still report the last refusal (and is lost with it), as UDP goes.
  for (int i = 0; i < 3; ++i) sink->emit(call("GET", "h", "/after", 1));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "0\tGET\th\t/after\t1.000\n");
  close(fd);
  sink->flush();
  EXPECT_EQ(accounted(*sink), 103u);
  EXPECT_GT(sink->counters().failed, 0u);  // the refusals while nobody listened
}

TEST(SinkOrchestrator, RefusesAnEndpointThatIsNotHostPort) {
  OrchestratorOptions o;
  o.endpoint = "::1:51712";
  auto s = OrchestratorSink::open("orchestrator", o);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("[addr]:port"), std::string::npos);
}

TEST(SinkLogDedupe, LogsEachKeyOncePerIntervalWithinABound) {
  LogDedupe d(std::chrono::seconds(60), 2);
  auto t0 = LogDedupe::Clock::now();
  EXPECT_TRUE(d.first("GET h /a", t0));
  EXPECT_FALSE(d.first("GET h /a", t0 + 1s));
  EXPECT_TRUE(d.first("GET h /b", t0 + 2s));
  EXPECT_FALSE(d.first("GET h /c", t0 + 3s));  // the set is full: not logged, counted
  uint64_t unlogged = 0;
  EXPECT_TRUE(d.first("GET h /a", t0 + 61s, &unlogged));  // a new interval
  EXPECT_EQ(unlogged, 1u);
}

}  // namespace
}  // namespace probe
