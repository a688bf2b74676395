// The OTLP sink on the real thing: probed runs a policy whose Lua handler emits spans, and
// whose in-kernel metrics are exported every second; an OTLP/HTTP receiver collects what
// probed sends, and the official OpenTelemetry JavaScript definitions decode it — so span
// names, attributes, resource and metric values are checked by code that is not ours, in
// both encodings.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/env.h"
#include "tests/support/otlp_decoder.h"
#include "tests/support/otlp_receiver.h"
#include "tests/support/probed_run.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string policy(const std::string& endpoint, const std::string& encoding) {
  return fmt::format(R"(
[policy]
name = "otlp-e2e"

{marker}
[probe.reads]
tracepoint = "syscalls:sys_enter_read"
capture = [{{ name = "want", value = "args.count", type = "u64" }}]
filter = 'comm == "pk-e2e-reader"'
event = false

[metric.e2e_markers_total]
kind = "counter"
probe = "marker"
help = "Markers the test fired"

[metric.e2e_read_bytes]
kind = "histogram"
probe = "reads"
value = "want"
buckets = [16, 256, 4096]
help = "Bytes asked of read() by the reader"

[handlers]
script = "handler.lua"

[sinks.traces]
type = "otlp"
endpoint = "{endpoint}"
encoding = "{encoding}"
metrics_interval = "1s"
batch_delay = "100ms"
resource_attributes = "deployment.environment=e2e"
)",
                     fmt::arg("marker", test::marker_probe_toml()), fmt::arg("endpoint", endpoint),
                     fmt::arg("encoding", encoding));
}

// One HTTP client span per marker, and one database span with an error on the first.
const char* kHandler = R"(
local n = 0
function on_marker(ev)
  n = n + 1
  emit("traces", {
    kind = "client", start_ns = ev.ts - 2500000, end_ns = ev.ts,
    http = { method = "GET", host = "api.example.com:8443", path = "/v1/items?id=" .. n, status = 200 },
    attributes = { ["probekit.seq"] = n, ["thread.id"] = ev.tid },
  })
  if n == 1 then
    emit("traces", {
      duration_ms = 1.5,
      db = { system = "postgresql", operation = "SELECT", collection = "users",
             query = "SELECT * FROM users WHERE id = $1" },
      status = { code = "error", message = "canceling statement due to statement timeout" },
    })
  end
end
)";

class OtlpSinkE2e : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    if (auto why = test::otlp_decoder_unavailable_reason()) GTEST_SKIP() << *why;
    ASSERT_TRUE(receiver_.listening());
  }
  std::vector<json> decoded(const std::string& path, const std::string& signal) {
    std::vector<std::string> bodies;
    for (const auto& r : receiver_.accepted(path)) bodies.push_back(r.body);
    auto out = test::decode_otlp(signal, GetParam(), bodies);
    for (const auto& d : out) EXPECT_FALSE(d.contains("error")) << d.dump();
    return out;
  }
  test::OtlpReceiver receiver_;
};

TEST_P(OtlpSinkE2e, SpansAndMetricsReachTheCollector) {
  test::TempDir dir;
  std::filesystem::copy_file("/bin/dd", dir.file("pk-e2e-reader"));
  std::filesystem::permissions(dir.file("pk-e2e-reader"), std::filesystem::perms::owner_all);
  test::ProbedRun probed(policy(receiver_.url(), GetParam()), kHandler, {{"OTEL_SERVICE_NAME", "checkout-e2e"}});
  ASSERT_EQ(probed.error(), "");
  auto [rc, out] = test::run({dir.file("pk-e2e-reader"), "if=/dev/zero", "of=/dev/null", "bs=100", "count=7"});
  ASSERT_EQ(rc, 0) << out;
  test::fire_markers(5);

  ASSERT_TRUE(receiver_.wait([&] { return test::otlp_spans(decoded("/v1/traces", "traces")).size() >= 6; }, 15s))
      << probed.process().stderr_text();
  for (const auto& r : receiver_.accepted())
    EXPECT_EQ(r.content_type, GetParam() == "json" ? "application/json" : "application/x-protobuf");

  // Resource: this probed on this host.
  auto requests = decoded("/v1/traces", "traces");
  auto resource = test::otlp_attributes(requests[0]["resourceSpans"][0]["resource"]["attributes"]);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(resource["service.name"], "checkout-e2e");
  EXPECT_EQ(resource["host.name"], host);
  EXPECT_EQ(resource["process.pid"], probed.pid());
  EXPECT_EQ(resource["process.executable.name"], "probed");
  EXPECT_EQ(resource["deployment.environment"], "e2e");
  EXPECT_EQ(requests[0]["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"], "probekit");

  auto spans = test::otlp_spans(requests);
  ASSERT_EQ(spans.size(), 6u);
  std::vector<json> http;
  json db;
  for (const auto& s : spans) {
    if (s["name"] == "GET") http.push_back(s);
    else db = s;
  }
  ASSERT_EQ(http.size(), 5u);
  std::set<int64_t> seqs;
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& s : http) {
    auto a = test::otlp_attributes(s["attributes"]);
    EXPECT_EQ(s["kind"], "SPAN_KIND_CLIENT");
    EXPECT_EQ(a["http.request.method"], "GET");
    EXPECT_EQ(a["server.address"], "api.example.com");
    EXPECT_EQ(a["server.port"], 8443);
    EXPECT_EQ(a["url.path"], "/v1/items");
    EXPECT_EQ(a["url.query"], "id=" + std::to_string(a["probekit.seq"].get<int64_t>()));
    EXPECT_EQ(a["http.response.status_code"], 200);
    seqs.insert(a["probekit.seq"].get<int64_t>());
    int64_t start = std::stoll(s["startTimeUnixNano"].get<std::string>());
    int64_t end = std::stoll(s["endTimeUnixNano"].get<std::string>());
    EXPECT_EQ(end - start, 2'500'000);
    EXPECT_LT(std::llabs(now_ns - end), 120'000'000'000LL) << "span times are Unix times";
    EXPECT_EQ(s["traceId"].get<std::string>().size(), 32u);
    EXPECT_EQ(s["spanId"].get<std::string>().size(), 16u);
  }
  EXPECT_EQ(seqs, (std::set<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(db["name"], "SELECT users");
  EXPECT_EQ(db["kind"], "SPAN_KIND_CLIENT");
  EXPECT_EQ(db["status"]["code"], "STATUS_CODE_ERROR");
  EXPECT_EQ(db["status"]["message"], "canceling statement due to statement timeout");
  auto dba = test::otlp_attributes(db["attributes"]);
  EXPECT_EQ(dba["db.system.name"], "postgresql");
  EXPECT_EQ(dba["db.operation.name"], "SELECT");
  EXPECT_EQ(dba["db.collection.name"], "users");
  EXPECT_EQ(dba["db.query.text"], "SELECT * FROM users WHERE id = $1");

  // Metrics: the registry's families as OTLP sums, gauges and histograms, every second.
  auto metric = [&](const std::string& name) -> json {
    json last;
    for (const auto& m : test::otlp_metrics(decoded("/v1/metrics", "metrics")))
      if (m["name"] == name) last = m;
    return last;
  };
  ASSERT_TRUE(receiver_.wait([&] {
    json m = metric("e2e_markers_total");
    return !m.is_null() && m["sum"]["dataPoints"][0]["asDouble"] == 5.0;
  }, 15s)) << metric("e2e_markers_total").dump();
  json markers = metric("e2e_markers_total");
  EXPECT_EQ(markers["description"], "Markers the test fired");
  EXPECT_EQ(markers["sum"]["isMonotonic"], true);
  EXPECT_EQ(markers["sum"]["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");

  json reads = metric("e2e_read_bytes");
  ASSERT_FALSE(reads.is_null());
  const json& point = reads["histogram"]["dataPoints"][0];
  EXPECT_EQ(point["explicitBounds"], json::array({16.0, 256.0, 4096.0}));
  uint64_t in_buckets = 0;
  for (const auto& b : point["bucketCounts"]) in_buckets += std::stoull(b.get<std::string>());
  EXPECT_EQ(std::to_string(in_buckets), point["count"].get<std::string>());
  EXPECT_GE(std::stoull(point["bucketCounts"][1].get<std::string>()), 7u);  // the 100-byte reads

  json rss = metric("probekit_resident_memory_bytes");
  ASSERT_FALSE(rss.is_null());
  EXPECT_GT(rss["gauge"]["dataPoints"][0]["asDouble"].get<double>(), 1e6);
  json sent = metric("probekit_sink_sent_total");
  ASSERT_FALSE(sent.is_null());
  bool traces_counted = false;
  for (const auto& p : sent["sum"]["dataPoints"])
    if (test::otlp_attributes(p["attributes"])["sink"] == "traces") traces_counted = true;
  EXPECT_TRUE(traces_counted);

  auto code = probed.stop();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  auto totals = probed.final_totals("traces");
  ASSERT_TRUE(totals) << probed.process().stderr_text();
  EXPECT_EQ(totals->sent, 6u);
  EXPECT_EQ(totals->dropped + totals->failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Encodings, OtlpSinkE2e, ::testing::Values("protobuf", "json"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace probe
