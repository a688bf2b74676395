// The OTLP sink against a real HTTP receiver on loopback: batches, metrics export, retries on
// 429/503 with Retry-After, final refusals, a collector that is down or slow — emit() never
// blocks, memory stays bounded, and every span is counted exactly once.
#include <gtest/gtest.h>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/otlp/otlp_sink.h"
#include "runtime/sinks/otlp/proto_writer.h"
#include "tests/support/otlp_decoder.h"
#include "tests/support/otlp_receiver.h"

namespace probe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

OtlpOptions options(const std::string& endpoint) {
  OtlpOptions o;
  o.exporter.endpoint = endpoint;
  o.exporter.timeout = 2s;
  o.exporter.retry = {50ms, 200ms, 5s};
  o.service_name = "unit";
  o.queue.batch_delay = 50ms;
  o.metrics_interval = 0ms;
  return o;
}

std::unique_ptr<OtlpSink> open_sink(const OtlpOptions& o, Registry* registry = nullptr) {
  auto s = OtlpSink::open("otlp", o, registry);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

nlohmann::json span(int i) {
  return {{"name", "op " + std::to_string(i)}, {"duration_ms", 1}, {"attributes", {{"i", i}}}};
}

uint64_t accounted(const Sink& s) {
  return s.counters().sent + s.counters().dropped + s.counters().failed;
}

size_t spans_in(const std::vector<test::OtlpReceiver::Request>& requests) {
  std::vector<std::string> bodies;
  for (const auto& r : requests) bodies.push_back(r.body);
  if (bodies.empty()) return 0;
  return test::otlp_spans(test::decode_otlp("traces", "protobuf", bodies)).size();
}

class SinkOtlpExport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(receiver_.listening());
  }
  test::OtlpReceiver receiver_;
};

TEST_F(SinkOtlpExport, SendsSpansInBatches) {
  if (auto why = test::otlp_decoder_unavailable_reason()) GTEST_SKIP() << *why;
  OtlpOptions o = options(receiver_.url());
  o.queue.max_batch = 100;
  auto sink = open_sink(o);
  for (int i = 0; i < 250; ++i) sink->emit(span(i));
  sink->flush();
  auto requests = receiver_.accepted("/v1/traces");
  EXPECT_GE(requests.size(), 3u);
  EXPECT_LE(requests.size(), 25u);  // batched: far fewer requests than spans
  for (const auto& r : requests) EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(spans_in(requests), 250u);
  EXPECT_EQ(sink->counters().sent, 250u);
  EXPECT_EQ(sink->queued(), 0u);
}

TEST_F(SinkOtlpExport, RetriesThrottlingAndHonorsRetryAfter) {
  receiver_.script({{429, "1", "", 0ms}, {503, "", "", 0ms}});
  auto sink = open_sink(options(receiver_.url()));
  auto start = Clock::now();
  sink->emit(span(1));
  ASSERT_TRUE(receiver_.wait([&] { return receiver_.accepted().size() == 1; }, 10s));
  // Retry-After: 1 held the second attempt back a second; the 503 retry followed in backoff.
  EXPECT_GE(Clock::now() - start, 1s);
  EXPECT_EQ(receiver_.attempts(), 3u);
  sink->flush();
  EXPECT_EQ(sink->counters().sent, 1u);
  EXPECT_EQ(sink->counters().failed, 0u);
}

TEST_F(SinkOtlpExport, ARefusedRequestFailsWithoutRetrying) {
  receiver_.script({{400, "", "bad data", 0ms}});
  auto sink = open_sink(options(receiver_.url()));
  for (int i = 0; i < 5; ++i) sink->emit(span(i));
  sink->flush();
  EXPECT_EQ(receiver_.attempts(), 1u);
  EXPECT_EQ(sink->counters().failed, 5u);
  EXPECT_EQ(sink->counters().sent, 0u);
}

TEST_F(SinkOtlpExport, CountsPartialSuccessAsFailed) {
  std::string body;
  otlp::ProtoWriter w(body);
  w.message(1, [&] { w.int64_field(1, 2); });
  receiver_.script({{200, "", body, 0ms}});
  auto sink = open_sink(options(receiver_.url()));
  for (int i = 0; i < 5; ++i) sink->emit(span(i));
  sink->flush();
  EXPECT_EQ(sink->counters().sent, 3u);
  EXPECT_EQ(sink->counters().failed, 2u);
}

TEST_F(SinkOtlpExport, RefusesInvalidSpansAndCountsThem) {
  auto sink = open_sink(options(receiver_.url()));
  sink->emit({{"duration_ms", 1}});  // no name
  sink->emit({{"name", "x"}});       // no time
  sink->emit(span(1));
  sink->flush();
  EXPECT_EQ(sink->counters().dropped, 2u);
  EXPECT_EQ(sink->counters().sent, 1u);
}

TEST(SinkOtlpExportDown, ACollectorThatIsDownThenUpLosesOnlyWhatDidNotFit) {
  int port;
  {
    test::OtlpReceiver probe_port;
    port = probe_port.port();
  }  // nothing listens on `port` now
  OtlpOptions o = options("http://127.0.0.1:" + std::to_string(port));
  o.queue.max_items = 500;
  o.queue.max_batch = 100;
  auto sink = open_sink(o);
  auto start = Clock::now();
  for (int i = 0; i < 20000; ++i) sink->emit(span(i));
  EXPECT_LT(Clock::now() - start, 2s);  // never blocked by the dead endpoint
  EXPECT_LE(sink->queued(), 600u);      // bounded: queue + one batch in flight
  EXPECT_GT(sink->counters().dropped, 0u);
  // The collector comes up on that port: retries deliver, new spans flow, nothing restarts.
  test::OtlpReceiver receiver(port);
  ASSERT_TRUE(receiver.listening());
  sink->emit(span(-1));
  ASSERT_TRUE(receiver.wait([&] { return sink->counters().sent > 0; }, 10s));
  sink->flush();
  EXPECT_EQ(sink->queued(), 0u);
  EXPECT_EQ(accounted(*sink), 20001u);
}

TEST(SinkOtlpExportSlow, ASlowCollectorCostsDropsNotMemory) {
  test::OtlpReceiver receiver;
  receiver.set_fallback({200, "", "", 300ms});
  OtlpOptions o = options(receiver.url());
  o.queue.max_items = 1000;
  o.queue.max_batch = 200;
  o.queue.batch_delay = 0ms;
  auto sink = open_sink(o);
  auto start = Clock::now();
  for (int i = 0; i < 30000; ++i) sink->emit(span(i));
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_LE(sink->queued(), 1200u);
  sink->flush();
  sink->flush();
  EXPECT_EQ(sink->queued(), 0u);
  EXPECT_EQ(accounted(*sink), 30000u);
  EXPECT_GT(sink->counters().sent, 0u);
  EXPECT_GT(sink->counters().dropped, 0u);
}

TEST(SinkOtlpExportMetrics, ExportsTheRegistryPeriodically) {
  if (auto why = test::otlp_decoder_unavailable_reason()) GTEST_SKIP() << *why;
  test::OtlpReceiver receiver;
  Registry registry;
  (*registry.counter("jobs_total", "Jobs"))->add({{"queue", "a"}}, 5);
  OtlpOptions o = options(receiver.url());
  o.metrics_interval = 100ms;
  o.exporter.encoding = otlp::Encoding::kJson;
  auto sink = open_sink(o, &registry);
  ASSERT_TRUE(receiver.wait([&] { return receiver.accepted("/v1/metrics").size() >= 2; }, 5s));
  auto request = receiver.accepted("/v1/metrics").back();
  EXPECT_EQ(request.content_type, "application/json");
  auto metrics = test::otlp_metrics(test::decode_otlp("metrics", "json", {request.body}));
  bool found = false;
  for (const auto& m : metrics)
    if (m["name"] == "jobs_total") {
      found = true;
      EXPECT_EQ(m["sum"]["dataPoints"][0]["asDouble"], 5.0);
    }
  EXPECT_TRUE(found);
  // The sink counts its own requests in the registry.
  bool counted = false;
  for (const auto& f : registry.collect())
    if (f.name == "probekit_sink_requests_total") counted = !f.series.empty();
  EXPECT_TRUE(counted);
}

TEST(SinkOtlpOpen, RefusesAnEndpointThatIsNotAUrl) {
  auto s = OtlpSink::open("traces", options("127.0.0.1:4318"), nullptr);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "sink 'traces': endpoint '127.0.0.1:4318' must be an http:// or https:// URL");
}

}  // namespace
}  // namespace probe
