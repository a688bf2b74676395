// The Prometheus sink on the real thing: probed runs a policy with in-kernel metrics (a
// counter labelled by process name, a histogram of read sizes) and a JSON-lines sink beside
// it; promtool checks the scraped text, and a real Prometheus server scrapes probed and is
// queried for the series with their labels — including a process name with a quote, a
// backslash and a newline, which only survive if the label escaping is right.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/env.h"
#include "tests/support/probed_run.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

// A program name the exposition format must escape: quote, backslash, newline.
const std::string kWeirdComm = "q\"b\\s\nx";

std::string policy(int port, const std::string& events_path) {
  return fmt::format(R"(
[policy]
name = "prometheus-e2e"

{marker}
[probe.exec]
tracepoint = "sched:sched_process_exec"
event = false

[probe.reads]
tracepoint = "syscalls:sys_enter_read"
capture = [{{ name = "want", value = "args.count", type = "u64" }}]
filter = 'comm == "pk-e2e-reader"'
event = false

[metric.e2e_exec_total]
kind = "counter"
probe = "exec"
labels = {{ comm = "comm" }}
help = "Programs started, by name"

[metric.e2e_read_bytes]
kind = "histogram"
probe = "reads"
value = "want"
buckets = [16, 256, 4096]
help = "Bytes asked of read() by the reader"

[handlers]
script = "handler.lua"

[sinks.prometheus]
listen = "127.0.0.1:{port}"

[sinks.events]
type = "jsonl"
path = "{events}"
)",
                     fmt::arg("marker", test::marker_probe_toml()), fmt::arg("port", port),
                     fmt::arg("events", events_path));
}

const char* kHandler = R"(
local n = 0
function on_marker(ev)
  n = n + 1
  emit("events", { seq = n, pid = ev.pid })
end
)";

double value_of(const nlohmann::json& result) { return std::stod(result[0]["value"][1].get<std::string>()); }

TEST(PrometheusSink, ARealPrometheusScrapesProbed) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  auto promtool = test::find_program("promtool");
  if (!promtool || !test::find_program("prometheus"))
    GTEST_SKIP() << "prometheus/promtool are not installed (scripts/install-deps.sh installs them)";
  test::TempDir dir;
  std::string weird = dir.file(kWeirdComm);
  std::filesystem::create_symlink("/bin/true", weird);
  std::filesystem::copy_file("/bin/dd", dir.file("pk-e2e-reader"));
  std::filesystem::permissions(dir.file("pk-e2e-reader"), std::filesystem::perms::owner_all);

  int port = test::free_tcp_port();
  test::ProbedRun probed(policy(port, dir.file("events.jsonl")), kHandler);
  ASSERT_EQ(probed.error(), "");

  for (int i = 0; i < 3; ++i) ASSERT_EQ(test::run({weird}).first, 0);
  auto [rc, out] = test::run({dir.file("pk-e2e-reader"), "if=/dev/zero", "of=/dev/null", "bs=100", "count=7"});
  ASSERT_EQ(rc, 0) << out;
  test::fire_markers(5);

  // The scrape itself: the format promtool checks, with the label escaped as it must be.
  auto [status, text] = test::http_get("127.0.0.1", port, "/metrics");
  ASSERT_EQ(status, 200) << text;
  EXPECT_NE(text.find("e2e_exec_total{comm=\"q\\\"b\\\\s\\nx\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE e2e_read_bytes histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE probekit_resident_memory_bytes gauge\n"), std::string::npos);
  test::write_text(dir.file("scrape.txt"), text);
  auto [lint_rc, lint] = test::run({"sh", "-c", *promtool + " check metrics < " + dir.file("scrape.txt")});
  EXPECT_EQ(lint_rc, 0) << lint;
  EXPECT_EQ(lint, "") << "promtool reported problems";

  // A real Prometheus scrapes probed every second; its query API has the series and labels.
  test::PrometheusServer prometheus({fmt::format("127.0.0.1:{}", port)});
  ASSERT_FALSE(prometheus.error()) << *prometheus.error();
  auto up = prometheus.wait_for_series("up{job=\"probed\"} == 1", 20s);
  ASSERT_FALSE(up.empty()) << prometheus.log();

  auto weird_series = prometheus.wait_for_series("e2e_exec_total{comm=\"q\\\"b\\\\s\\nx\"}", 10s);
  ASSERT_EQ(weird_series.size(), 1u) << weird_series.dump();
  EXPECT_EQ(weird_series[0]["metric"]["comm"], kWeirdComm);
  EXPECT_EQ(weird_series[0]["metric"]["job"], "probed");
  EXPECT_EQ(weird_series[0]["metric"]["instance"], fmt::format("127.0.0.1:{}", port));
  EXPECT_EQ(value_of(weird_series), 3);

  auto buckets = prometheus.wait_for_series("e2e_read_bytes_bucket", 10s);
  std::set<std::string> les;
  for (const auto& s : buckets) les.insert(s["metric"]["le"]);
  EXPECT_EQ(les, (std::set<std::string>{"16", "256", "4096", "+Inf"}));
  EXPECT_GE(value_of(prometheus.query("sum(e2e_read_bytes_bucket{le=\"256\"})")), 7);
  EXPECT_GE(value_of(prometheus.query("sum(e2e_read_bytes_count)")), 7);
  EXPECT_EQ(value_of(prometheus.query("sum(e2e_read_bytes_bucket{le=\"+Inf\"}) - sum(e2e_read_bytes_count)")), 0);

  // Self-metrics: the events the handler saw, and the JSON-lines sink beside this one.
  auto decoded = prometheus.wait_for_series("probekit_events_decoded_total{probe=\"marker\"} == 5", 10s);
  EXPECT_EQ(decoded.size(), 1u);
  auto sent = prometheus.wait_for_series("probekit_sink_sent_total{sink=\"events\",type=\"jsonl\"} == 5", 10s);
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_GT(value_of(prometheus.query("probekit_resident_memory_bytes")), 1e6);

  auto code = probed.stop();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << probed.process().stderr_text();
  std::ifstream events(dir.file("events.jsonl"));
  int lines = 0;
  for (std::string l; std::getline(events, l);) ++lines;
  EXPECT_EQ(lines, 5);
}

TEST(PrometheusSink, ProbedRefusesToStartWhenThePortIsTaken) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  int port = test::free_tcp_port();
  test::ProbedRun first(policy(port, dir.file("a.jsonl")), kHandler);
  ASSERT_EQ(first.error(), "");
  test::Process second({test::probed_path(), "run", "--policy", first.dir() + "/policy.toml", "--cache-dir",
                        dir.file("cache")});
  auto code = second.wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(second.stderr_text().find(
                fmt::format("sink 'prometheus': cannot listen on 127.0.0.1:{}: Address already in use", port)),
            std::string::npos)
      << second.stderr_text();
  EXPECT_TRUE(first.running());
}

}  // namespace
}  // namespace probe
