// make_sink: every type from its manifest settings, typed settings with errors that name the
// sink and the setting, and several sinks side by side.
#include <gtest/gtest.h>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/sink.h"
#include "runtime/sinks/sink_settings.h"
#include "tests/support/env.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

Result<std::unique_ptr<Sink>> make(const std::string& type, std::map<std::string, std::string> settings,
                                   Registry* registry = nullptr) {
  SinkManifest m{type, std::move(settings)};
  return make_sink(m, SinkContext{registry, "my-policy"});
}

TEST(SinkFactory, BuildsEveryTypeSideBySide) {
  test::TempDir dir;
  Registry registry;
  auto jsonl = make("jsonl", {{"id", "events"}, {"path", dir.file("e.jsonl")}, {"queue_size", "10"}});
  auto orch = make("orchestrator", {{"id", "orchestrator"}, {"endpoint", "127.0.0.1:51799"}});
  auto prom = make("prometheus", {{"id", "metrics"}, {"listen", "127.0.0.1:0"}}, &registry);
  auto otlp = make("otlp", {{"id", "traces"}, {"endpoint", "http://127.0.0.1:1"}, {"encoding", "json"},
                            {"timeout", "500ms"}, {"metrics_interval", "0"}},
                   &registry);
  for (auto* s : {&jsonl, &orch, &prom, &otlp}) ASSERT_TRUE(*s) << s->error().message;
  EXPECT_EQ((*jsonl)->id(), "events");
  EXPECT_STREQ((*jsonl)->type(), "jsonl");
  EXPECT_STREQ((*orch)->type(), "orchestrator");
  EXPECT_STREQ((*prom)->type(), "prometheus");
  EXPECT_EQ((*otlp)->id(), "traces");
  EXPECT_STREQ((*otlp)->type(), "otlp");
}

TEST(SinkFactory, SettingErrorsNameTheSinkAndTheSetting) {
  auto bad_queue = make("jsonl", {{"id", "events"}, {"path", "-"}, {"queue_size", "lots"}});
  ASSERT_FALSE(bad_queue);
  EXPECT_EQ(bad_queue.error().message,
            "sink 'events': 'queue_size' must be a whole number from 1 to 1048576 (got 'lots')");
  auto bad_encoding = make("otlp", {{"id", "t"}, {"encoding", "xml"}});
  ASSERT_FALSE(bad_encoding);
  EXPECT_EQ(bad_encoding.error().message, "sink 't': encoding must be \"protobuf\" or \"json\" (got 'xml')");
  auto bad_duration = make("otlp", {{"id", "t"}, {"timeout", "soon"}});
  ASSERT_FALSE(bad_duration);
  EXPECT_EQ(bad_duration.error().message,
            "sink 't': 'timeout' must be a duration such as \"500ms\", \"10s\" or \"2m\" (got 'soon')");
  auto bad_flag = make("orchestrator", {{"id", "o"}, {"log_calls", "maybe"}});
  ASSERT_FALSE(bad_flag);
  EXPECT_EQ(bad_flag.error().message, "sink 'o': 'log_calls' must be true or false (got 'maybe')");
  auto bad_headers = make("otlp", {{"id", "t"}, {"headers", "Authorization"}});
  ASSERT_FALSE(bad_headers);
  EXPECT_EQ(bad_headers.error().message, "sink 't': headers: 'Authorization' is not name=value");
  auto unknown = make("carrier-pigeon", {{"id", "p"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "sink 'p': type 'carrier-pigeon' is not available in this build");
}

TEST(SinkFactory, ParsesDurations) {
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("10s"), 10s);
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration("2m"), 120s);
  EXPECT_EQ(*parse_duration("3"), 3s);
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("10 parsecs"));
}

}  // namespace
}  // namespace probe
