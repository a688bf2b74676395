// OTLP requests as probed encodes them, decoded by the official OpenTelemetry JavaScript
// definitions (tests/otlp-decoder): protobuf and JSON, traces and metrics. Also the retry
// rules and the partial-success reader.
#include <gtest/gtest.h>

#include "runtime/sinks/otlp/exporter.h"
#include "runtime/sinks/otlp/otlp_encode.h"
#include "runtime/sinks/otlp/proto_writer.h"
#include "runtime/sinks/otlp/resource.h"
#include "runtime/sinks/otlp/retry_policy.h"
#include "tests/support/otlp_decoder.h"

namespace probe::otlp {
namespace {

using json = nlohmann::json;

Resource resource() {
  auto r = make_resource("checkout", "deployment.environment=test,team=a%2Cb");
  EXPECT_TRUE(r);
  return *r;
}

Span sample_span() {
  Span s;
  for (int i = 0; i < 16; ++i) s.trace_id[i] = static_cast<uint8_t>(i + 1);
  for (int i = 0; i < 8; ++i) s.span_id[i] = static_cast<uint8_t>(0xa0 + i);
  s.parent_span_id = SpanId{1, 2, 3, 4, 5, 6, 7, 8};
  s.name = "GET /v1/items";
  s.kind = SpanKind::kClient;
  s.start_unix_ns = 1'700'000'000'123'456'789;
  s.end_unix_ns = 1'700'000'000'223'456'789;
  s.attributes = {{"http.request.method", std::string("GET")},
                  {"http.response.status_code", int64_t{503}},
                  {"ratio", 0.25},
                  {"cached", false},
                  {"empty", std::string()},
                  {"zero", int64_t{0}},
                  {"negative", int64_t{-7}},
                  {"tags", std::vector<Scalar>{std::string("a"), std::string("b")}}};
  s.dropped_attributes = 2;
  s.status = StatusCode::kError;
  s.status_message = "upstream unavailable";
  return s;
}

std::vector<FamilySnapshot> sample_families() {
  FamilySnapshot counter{"requests_total", "Requests", MetricKind::kCounter, {}, {}};
  counter.series.push_back({{{"comm", "curl"}}, 12, {}, 0, 0});
  FamilySnapshot gauge{"queue_depth", "Depth", MetricKind::kGauge, {}, {}};
  gauge.series.push_back({{}, 3.5, {}, 0, 0});
  FamilySnapshot hist{"read_bytes", "Bytes read", MetricKind::kHistogram, {16, 256, 4096}, {}};
  hist.series.push_back({{{"comm", "cat"}}, 0, {1, 3, 3, 5}, 9000, 5});  // cumulative
  return {counter, gauge, hist};
}

class SinkOtlpEncoding : public ::testing::TestWithParam<Encoding> {
 protected:
  void SetUp() override {
    if (auto why = test::otlp_decoder_unavailable_reason()) GTEST_SKIP() << *why;
  }
  const char* encoding() const { return GetParam() == Encoding::kJson ? "json" : "protobuf"; }
};

TEST_P(SinkOtlpEncoding, TracesDecodeWithTheOfficialDefinitions) {
  Scope scope;
  scope.version = "1.2.3";
  std::string body = encode_traces(GetParam(), resource(), scope, {sample_span(), sample_span()});
  auto decoded = test::decode_otlp("traces", encoding(), {body});
  ASSERT_EQ(decoded.size(), 1u);
  ASSERT_FALSE(decoded[0].contains("error")) << decoded[0].dump();
  const json& rs = decoded[0]["resourceSpans"][0];
  auto res = test::otlp_attributes(rs["resource"]["attributes"]);
  EXPECT_EQ(res["service.name"], "checkout");
  EXPECT_EQ(res["deployment.environment"], "test");
  EXPECT_EQ(res["team"], "a,b");
  EXPECT_EQ(res["telemetry.sdk.name"], "probekit");
  EXPECT_GT(res["process.pid"].get<int64_t>(), 0);
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "probekit");
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["version"], "1.2.3");
  auto spans = test::otlp_spans(decoded);
  ASSERT_EQ(spans.size(), 2u);
  const json& s = spans[0];
  EXPECT_EQ(s["traceId"], "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(s["spanId"], "a0a1a2a3a4a5a6a7");
  EXPECT_EQ(s["parentSpanId"], "0102030405060708");
  EXPECT_EQ(s["name"], "GET /v1/items");
  EXPECT_EQ(s["kind"], "SPAN_KIND_CLIENT");
  EXPECT_EQ(s["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(s["endTimeUnixNano"], "1700000000223456789");
  EXPECT_EQ(s["droppedAttributesCount"], 2);
  EXPECT_EQ(s["status"]["code"], "STATUS_CODE_ERROR");
  EXPECT_EQ(s["status"]["message"], "upstream unavailable");
  auto a = test::otlp_attributes(s["attributes"]);
  EXPECT_EQ(a["http.request.method"], "GET");
  EXPECT_EQ(a["http.response.status_code"], 503);
  EXPECT_EQ(a["ratio"], 0.25);
  EXPECT_EQ(a["cached"], false);
  EXPECT_EQ(a["empty"], "");
  EXPECT_EQ(a["zero"], 0);
  EXPECT_EQ(a["negative"], -7);
  EXPECT_EQ(a["tags"], json::array({"a", "b"}));
}

TEST_P(SinkOtlpEncoding, MetricsDecodeWithTheOfficialDefinitions) {
  std::string body = encode_metrics(GetParam(), resource(), Scope{}, sample_families(),
                                    {1'700'000'000'000'000'000, 1'700'000'010'000'000'000});
  auto decoded = test::decode_otlp("metrics", encoding(), {body});
  ASSERT_FALSE(decoded[0].contains("error")) << decoded[0].dump();
  auto metrics = test::otlp_metrics(decoded);
  ASSERT_EQ(metrics.size(), 3u);
  std::map<std::string, json> by_name;
  for (const auto& m : metrics) by_name[m["name"]] = m;

  const json& sum = by_name["requests_total"]["sum"];
  EXPECT_EQ(by_name["requests_total"]["description"], "Requests");
  EXPECT_EQ(sum["isMonotonic"], true);
  EXPECT_EQ(sum["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
  EXPECT_EQ(sum["dataPoints"][0]["asDouble"], 12.0);
  EXPECT_EQ(sum["dataPoints"][0]["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(sum["dataPoints"][0]["timeUnixNano"], "1700000010000000000");
  EXPECT_EQ(test::otlp_attributes(sum["dataPoints"][0]["attributes"])["comm"], "curl");

  EXPECT_EQ(by_name["queue_depth"]["gauge"]["dataPoints"][0]["asDouble"], 3.5);

  const json& h = by_name["read_bytes"]["histogram"];
  EXPECT_EQ(h["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
  const json& p = h["dataPoints"][0];
  EXPECT_EQ(p["count"], "5");
  EXPECT_EQ(p["sum"], 9000.0);
  EXPECT_EQ(p["explicitBounds"], json::array({16.0, 256.0, 4096.0}));
  EXPECT_EQ(p["bucketCounts"], json::array({"1", "2", "0", "2"}));  // per bucket, not cumulative
}

INSTANTIATE_TEST_SUITE_P(Encodings, SinkOtlpEncoding, ::testing::Values(Encoding::kProtobuf, Encoding::kJson),
                         [](const auto& info) { return info.param == Encoding::kJson ? "json" : "protobuf"; });

TEST(SinkOtlpRetry, JudgesResponsesAsTheSpecificationSays) {
  auto with = [](long status) {
    HttpResult r;
    r.status = status;
    return judge(r);
  };
  EXPECT_EQ(with(200), Verdict::kDelivered);
  EXPECT_EQ(with(202), Verdict::kDelivered);
  for (long s : {0L, 429L, 502L, 503L, 504L}) EXPECT_EQ(with(s), Verdict::kRetry) << s;
  for (long s : {400L, 401L, 404L, 413L, 500L}) EXPECT_EQ(with(s), Verdict::kRejected) << s;
}

TEST(SinkOtlpRetry, BacksOffExponentiallyWithJitterAndHonorsRetryAfter) {
  RetrySettings s{std::chrono::milliseconds(100), std::chrono::milliseconds(1000), std::chrono::seconds(60)};
  Backoff b(s);
  HttpResult none;
  for (int attempt = 1; attempt <= 8; ++attempt) {
    auto w = b.wait(attempt, none).count();
    long ceiling = std::min(100L << (attempt - 1), 1000L);
    EXPECT_GE(w, ceiling / 2) << attempt;
    EXPECT_LE(w, ceiling) << attempt;
  }
  HttpResult throttled;
  throttled.retry_after = std::chrono::milliseconds(7000);
  EXPECT_EQ(b.wait(1, throttled).count(), 7000);
  EXPECT_EQ(parse_retry_after("3", 0), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_retry_after(" 120\r\n", 0), std::chrono::milliseconds(120000));
  // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), std::chrono::milliseconds(10000));
  EXPECT_FALSE(parse_retry_after("soon", 0));
}

TEST(SinkOtlpRetry, ReadsPartialSuccess) {
  std::string body;
  ProtoWriter w(body);
  w.message(1, [&] {
    w.int64_field(1, 3);
    w.bytes_field(2, "3 spans had no name");
  });
  std::string message;
  EXPECT_EQ(partial_success(body, Encoding::kProtobuf, Signal::kTraces, &message), 3);
  EXPECT_EQ(message, "3 spans had no name");
  EXPECT_EQ(partial_success(R"({"partialSuccess":{"rejectedDataPoints":"2","errorMessage":"x"}})",
                            Encoding::kJson, Signal::kMetrics, &message),
            2);
  EXPECT_EQ(partial_success("", Encoding::kProtobuf, Signal::kTraces, &message), 0);
  EXPECT_EQ(partial_success("{}", Encoding::kJson, Signal::kTraces, &message), 0);
}

}  // namespace
}  // namespace probe::otlp
