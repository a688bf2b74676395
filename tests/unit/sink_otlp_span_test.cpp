// The span record handlers emit to an OTLP sink: its shape is checked (a bad record is refused
// with the reason), times move from the monotonic clock to Unix time, and HTTP, database and
// messaging fields become OpenTelemetry semantic-convention attributes.
#include <gtest/gtest.h>

#include "runtime/sinks/otlp/span_record.h"

namespace probe::otlp {
namespace {

using json = nlohmann::json;

SpanClock fixed_clock() {
  SpanClock c;
  c.monotonic_now_ns = 5'000'000'000;                  // 5 s after boot
  c.unix_minus_monotonic_ns = 1'700'000'000'000'000'000;  // booted in 2023
  return c;
}

Span ok(const json& record) {
  IdGenerator ids;
  auto s = span_from_record(record, fixed_clock(), ids);
  EXPECT_TRUE(s) << (s ? "" : s.error().message) << " for " << record.dump();
  return s ? *s : Span{};
}

std::string refused(const json& record) {
  IdGenerator ids;
  auto s = span_from_record(record, fixed_clock(), ids);
  return s ? "(accepted)" : s.error().message;
}

const Value* attr(const Span& s, const std::string& key) {
  for (const auto& a : s.attributes)
    if (a.key == key) return &a.value;
  return nullptr;
}

TEST(SinkOtlpSpan, MapsHttpFieldsToSemanticConventions) {
  Span s = ok({{"start_ns", 1'000'000'000},
               {"end_ns", 1'250'000'000},
               {"http", {{"method", "GET"}, {"host", "api.example.com:8443"}, {"path", "/v1/items?id=4"},
                         {"status", 200}, {"scheme", "https"}, {"protocol", "1.1"}}}});
  EXPECT_EQ(s.name, "GET");
  EXPECT_EQ(s.kind, SpanKind::kClient);
  EXPECT_EQ(s.start_unix_ns, 1'700'000'001'000'000'000u);
  EXPECT_EQ(s.end_unix_ns, 1'700'000'001'250'000'000u);
  EXPECT_EQ(std::get<std::string>(*attr(s, "http.request.method")), "GET");
  EXPECT_EQ(std::get<std::string>(*attr(s, "server.address")), "api.example.com");
  EXPECT_EQ(std::get<int64_t>(*attr(s, "server.port")), 8443);
  EXPECT_EQ(std::get<std::string>(*attr(s, "url.path")), "/v1/items");
  EXPECT_EQ(std::get<std::string>(*attr(s, "url.query")), "id=4");
  EXPECT_EQ(std::get<std::string>(*attr(s, "url.scheme")), "https");
  EXPECT_EQ(std::get<int64_t>(*attr(s, "http.response.status_code")), 200);
  EXPECT_EQ(std::get<std::string>(*attr(s, "network.protocol.version")), "1.1");
  EXPECT_EQ(s.status, StatusCode::kUnset);
}

TEST(SinkOtlpSpan, HttpErrorsFollowTheConventions) {
  Span client = ok({{"duration_ms", 3}, {"http", {{"method", "POST"}, {"status", 404}}}});
  EXPECT_EQ(client.status, StatusCode::kError);
  EXPECT_EQ(std::get<std::string>(*attr(client, "error.type")), "404");
  Span server = ok({{"duration_ms", 3}, {"kind", "server"}, {"http", {{"method", "POST"}, {"status", 404}}}});
  EXPECT_EQ(server.status, StatusCode::kUnset);  // a 4xx is the client's fault
  Span explicit_ok = ok({{"duration_ms", 3}, {"status", "ok"}, {"http", {{"status", 503}}}, {"name", "x"}});
  EXPECT_EQ(explicit_ok.status, StatusCode::kOk);
}

TEST(SinkOtlpSpan, MapsDatabaseAndMessagingFields) {
  Span db = ok({{"duration_ns", 1000},
                {"db", {{"system", "postgresql"}, {"operation", "SELECT"}, {"collection", "users"},
                        {"query", "SELECT * FROM users WHERE id = $1"}, {"namespace", "shop"}}}});
  EXPECT_EQ(db.name, "SELECT users");
  EXPECT_EQ(db.kind, SpanKind::kClient);
  EXPECT_EQ(std::get<std::string>(*attr(db, "db.system.name")), "postgresql");
  EXPECT_EQ(std::get<std::string>(*attr(db, "db.query.text")), "SELECT * FROM users WHERE id = $1");
  EXPECT_EQ(std::get<std::string>(*attr(db, "db.namespace")), "shop");
  Span msg = ok({{"duration_ns", 1000},
                 {"messaging", {{"system", "kafka"}, {"destination", "orders"}, {"operation", "send"},
                                {"operation_type", "send"}, {"body_size", 120}}}});
  EXPECT_EQ(msg.name, "send orders");
  EXPECT_EQ(msg.kind, SpanKind::kProducer);
  EXPECT_EQ(std::get<std::string>(*attr(msg, "messaging.destination.name")), "orders");
  EXPECT_EQ(std::get<int64_t>(*attr(msg, "messaging.message.body.size")), 120);
}

TEST(SinkOtlpSpan, CopiesAttributesAndTheyWin) {
  Span s = ok({{"name", "op"},
               {"start_ns", 1},
               {"attributes", {{"peer.service", "billing"}, {"retries", 2}, {"ratio", 0.5},
                               {"cached", true}, {"tags", {"a", "b"}}, {"http.request.method", "PUT"}}},
               {"http", {{"method", "GET"}}}});
  EXPECT_EQ(std::get<std::string>(*attr(s, "peer.service")), "billing");
  EXPECT_EQ(std::get<int64_t>(*attr(s, "retries")), 2);
  EXPECT_EQ(std::get<double>(*attr(s, "ratio")), 0.5);
  EXPECT_EQ(std::get<bool>(*attr(s, "cached")), true);
  EXPECT_EQ(std::get<std::vector<Scalar>>(*attr(s, "tags")).size(), 2u);
  EXPECT_EQ(std::get<std::string>(*attr(s, "http.request.method")), "PUT");
}

TEST(SinkOtlpSpan, KeepsStringsValidAndBounded) {
  Span s = ok({{"name", std::string("bad\xff")}, {"start_ns", 1},
               {"attributes", {{"body", std::string(10000, 'x')}}}});
  EXPECT_EQ(s.name, "bad\xef\xbf\xbd");
  EXPECT_EQ(std::get<std::string>(*attr(s, "body")).size(), kMaxStringBytes);
  json many = json::object();
  for (int i = 0; i < 200; ++i) many["k" + std::to_string(i)] = i;
  Span capped = ok({{"name", "x"}, {"start_ns", 1}, {"attributes", many}});
  EXPECT_EQ(capped.attributes.size(), kMaxAttributes);
  EXPECT_EQ(capped.dropped_attributes, 200 - kMaxAttributes);
}

TEST(SinkOtlpSpan, IdsAreGeneratedOrTaken) {
  Span a = ok({{"name", "x"}, {"start_ns", 1}});
  Span b = ok({{"name", "x"}, {"start_ns", 1}});
  EXPECT_NE(a.trace_id, b.trace_id);
  EXPECT_FALSE(a.parent_span_id);
  Span c = ok({{"name", "x"}, {"start_ns", 1}, {"trace_id", "0af7651916cd43dd8448eb211c80319c"},
               {"parent_span_id", "b7ad6b7169203331"}});
  EXPECT_EQ(hex(c.trace_id.data(), 16), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(hex(c.parent_span_id->data(), 8), "b7ad6b7169203331");
}

TEST(SinkOtlpSpan, TimesDefaultSensibly) {
  Span d = ok({{"name", "x"}, {"duration_ms", 2}});  // ended now, took 2 ms
  EXPECT_EQ(d.end_unix_ns, 1'700'000'005'000'000'000u);
  EXPECT_EQ(d.end_unix_ns - d.start_unix_ns, 2'000'000u);
  Span s = ok({{"name", "x"}, {"start_ns", 4'000'000'000}});  // no end: ends now
  EXPECT_EQ(s.end_unix_ns - s.start_unix_ns, 1'000'000'000u);
}

TEST(SinkOtlpSpan, RefusesRecordsThatDoNotFit) {
  EXPECT_EQ(refused({{"start_ns", 1}}),
            "'name' is missing (it may be left out only with http.method, db.operation or "
            "messaging.operation)");
  EXPECT_EQ(refused({{"name", "x"}}), "'start_ns' is missing (or give duration_ns/duration_ms)");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 10}, {"end_ns", 5}}), "'end_ns' is before 'start_ns'");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", -1}}), "'start_ns' must be a non-negative number of nanoseconds");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1'700'000'000'000'000'000}}),
            "'start_ns' is in the future: times are CLOCK_MONOTONIC nanoseconds, as ev.ts");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"kind", "sideways"}}),
            "'kind' must be internal, server, client, producer or consumer");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"atributes", json::object()}}).substr(0, 24),
            "unknown key 'atributes' ");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"http", {{"verb", "GET"}}}}).substr(0, 25),
            "unknown key 'http.verb' (");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"http", {{"status", "OK"}}}}),
            "'http.status' must be an integer");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"attributes", {{"nested", {{"a", 1}}}}}}),
            "attribute 'nested' must be a string, number or boolean, or a list of them");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"attributes", {{"mixed", {1, "a"}}}}}),
            "attribute 'mixed' mixes types in one list");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"trace_id", "xyz"}}),
            "'trace_id' must be 32 hex digits, not all zero");
  EXPECT_EQ(refused({{"name", "x"}, {"start_ns", 1}, {"status", "fine"}}),
            "status must be \"unset\", \"ok\" or \"error\" (or a table with code and message)");
  EXPECT_EQ(refused(json::array({1, 2})), "a span record must be a table");
}

}  // namespace
}  // namespace probe::otlp
