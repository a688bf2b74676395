// The Prometheus sink: the text exposition format byte for byte (escaping, histograms), a live
// /metrics that promtool accepts, and a clear error when the address is taken.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/prometheus/prometheus_sink.h"
#include "runtime/sinks/prometheus/text_format.h"
#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"

namespace probe {
namespace {

FamilySnapshot family(const std::string& name, MetricKind kind, const std::string& help = "h") {
  FamilySnapshot f;
  f.name = name;
  f.kind = kind;
  f.help = help;
  return f;
}

TEST(SinkPrometheusFormat, CountersGaugesAndEscaping) {
  FamilySnapshot c = family("calls_total", MetricKind::kCounter, "Calls \\ made\nby anyone");
  SeriesSnapshot s;
  s.labels = {{"comm", "we\"ird\\na\nme"}, {"x", "y"}};
  s.value = 42;
  c.series.push_back(s);
  FamilySnapshot g = family("temp", MetricKind::kGauge);
  SeriesSnapshot t;
  t.value = 0.25;
  g.series.push_back(t);
  EXPECT_EQ(render_exposition({c, g}),
            "# HELP calls_total Calls \\\\ made\\nby anyone\n"
            "# TYPE calls_total counter\n"
            "calls_total{comm=\"we\\\"ird\\\\na\\nme\",x=\"y\"} 42\n"
            "# HELP temp h\n"
            "# TYPE temp gauge\n"
            "temp 0.25\n");
}

TEST(SinkPrometheusFormat, HistogramsHaveCumulativeBucketsInfSumAndCount) {
  FamilySnapshot h = family("read_bytes", MetricKind::kHistogram);
  h.bounds = {1, 2.5, 1e21};
  SeriesSnapshot s;
  s.labels = {{"comm", "cat"}};
  s.buckets = {1, 3, 3, 4};  // cumulative, +Inf last
  s.sum = 7.5;
  s.count = 4;
  h.series.push_back(s);
  EXPECT_EQ(render_exposition({h}),
            "# HELP read_bytes h\n"
            "# TYPE read_bytes histogram\n"
            "read_bytes_bucket{comm=\"cat\",le=\"1\"} 1\n"
            "read_bytes_bucket{comm=\"cat\",le=\"2.5\"} 3\n"
            "read_bytes_bucket{comm=\"cat\",le=\"1e+21\"} 3\n"
            "read_bytes_bucket{comm=\"cat\",le=\"+Inf\"} 4\n"
            "read_bytes_sum{comm=\"cat\"} 7.5\n"
            "read_bytes_count{comm=\"cat\"} 4\n");
}

TEST(SinkPrometheusFormat, SampleValues) {
  EXPECT_EQ(format_sample_value(3), "3");
  EXPECT_EQ(format_sample_value(-2), "-2");
  EXPECT_EQ(format_sample_value(0.1), "0.1");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
  EXPECT_EQ(format_sample_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_sample_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_sample_value(1e300), "1e+300");
  EXPECT_EQ(escape_label_value(std::string("bad\xff")), "bad\xef\xbf\xbd");  // UTF-8 only
}

TEST(SinkPrometheusFormat, ARepeatedFamilyNameKeepsTheFirst) {
  FamilySnapshot a = family("x_total", MetricKind::kCounter, "first");
  FamilySnapshot b = family("x_total", MetricKind::kGauge, "second");
  std::string text = render_exposition({a, b});
  EXPECT_EQ(text, "# HELP x_total first\n# TYPE x_total counter\n");
}

TEST(SinkPrometheus, ServesTheRegistryAndPromtoolAcceptsIt) {
  Registry registry;
  (*registry.counter("handler_calls_total", "Calls"))->add({{"path", "/a\"b\\c\nd"}}, 3);
  (*registry.gauge("queue_depth", "Depth"))->set({}, 7);
  (*registry.histogram("latency_seconds", "Latency", {0.01, 0.1, 1}))->observe({{"op", "get"}}, 0.05);
  registry.add_collector([](std::vector<FamilySnapshot>& out) {
    FamilySnapshot f;
    f.name = "collected_total";
    f.help = "From a collector at scrape time";
    f.series.push_back({});
    f.series.back().value = 11;
    out.push_back(f);
  });
  auto sink = PrometheusSink::open("prometheus", "127.0.0.1:0", &registry);
  ASSERT_TRUE(sink) << sink.error().message;
  auto [status, body] = test::http_get("127.0.0.1", (*sink)->port(), "/metrics");
  ASSERT_EQ(status, 200) << body;
  EXPECT_NE(body.find("handler_calls_total{path=\"/a\\\"b\\\\c\\nd\"} 3\n"), std::string::npos) << body;
  EXPECT_NE(body.find("queue_depth 7\n"), std::string::npos);
  EXPECT_NE(body.find("latency_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("collected_total 11\n"), std::string::npos);
  EXPECT_EQ(test::http_get("127.0.0.1", (*sink)->port(), "/nothing").first, 404);

  auto promtool = test::find_program("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (scripts/install-deps.sh installs prometheus)";
  test::TempDir dir;
  test::write_text(dir.file("metrics.txt"), body);
  auto [crc, cout] = test::run({"sh", "-c", *promtool + " check metrics < " + dir.file("metrics.txt")});
  EXPECT_EQ(crc, 0) << cout;
  EXPECT_EQ(cout, "") << "promtool found problems";
}

TEST(SinkPrometheus, FailsClearlyWhenTheAddressIsInUse) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string listen_at = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Registry registry;
  auto sink = PrometheusSink::open("prometheus", listen_at, &registry);
  close(fd);
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().message,
            "sink 'prometheus': cannot listen on " + listen_at + ": Address already in use");
}

TEST(SinkPrometheus, RefusesAListenAddressThatIsNotHostPort) {
  Registry registry;
  auto sink = PrometheusSink::open("metrics", "9435", &registry);
  ASSERT_FALSE(sink);
  EXPECT_NE(sink.error().message.find("listen '9435' is not host:port"), std::string::npos);
}

TEST(SinkPrometheus, RecordsEmittedToItAreDroppedAndCounted) {
  Registry registry;
  auto sink = PrometheusSink::open("prometheus", "127.0.0.1:0", &registry);
  ASSERT_TRUE(sink);
  (*sink)->emit({{"a", 1}});
  (*sink)->emit({{"a", 2}});
  EXPECT_EQ((*sink)->counters().dropped, 2u);
}

}  // namespace
}  // namespace probe
