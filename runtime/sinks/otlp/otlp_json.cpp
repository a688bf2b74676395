// The OTLP/JSON mapping: proto3 JSON with lowerCamelCase names, except that trace and span ids
// are hex strings, and enums are always numbers.
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/sinks/otlp/otlp_encode.h"

namespace probe::otlp {
namespace {

using json = nlohmann::json;

// proto3 JSON writes 64-bit integers as strings and non-finite doubles as names.
json u64(uint64_t v) { return std::to_string(v); }
json dbl(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

json any_value(const Scalar& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return {{"stringValue", x}};
        else if constexpr (std::is_same_v<T, bool>) return {{"boolValue", x}};
        else if constexpr (std::is_same_v<T, int64_t>) return {{"intValue", std::to_string(x)}};
        else return {{"doubleValue", dbl(x)}};
      },
      v);
}

json any_value(const Value& v) {
  if (auto* list = std::get_if<std::vector<Scalar>>(&v)) {
    json values = json::array();
    for (const auto& item : *list) values.push_back(any_value(item));
    return {{"arrayValue", {{"values", values}}}};
  }
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<Scalar>>) return json::object();
        else return any_value(Scalar(x));
      },
      v);
}

json attributes(const Attributes& attrs) {
  json out = json::array();
  for (const auto& a : attrs) out.push_back({{"key", a.key}, {"value", any_value(a.value)}});
  return out;
}

json attributes(const Labels& labels) {
  json out = json::array();
  for (const auto& [k, v] : labels) out.push_back({{"key", k}, {"value", {{"stringValue", v}}}});
  return out;
}

json scope(const Scope& s) {
  json out = {{"name", s.name}};
  if (!s.version.empty()) out["version"] = s.version;
  return out;
}

json span(const Span& s) {
  json out = {{"traceId", hex(s.trace_id.data(), s.trace_id.size())},
              {"spanId", hex(s.span_id.data(), s.span_id.size())},
              {"name", s.name},
              {"kind", static_cast<int>(s.kind)},
              {"startTimeUnixNano", u64(s.start_unix_ns)},
              {"endTimeUnixNano", u64(s.end_unix_ns)},
              {"attributes", attributes(s.attributes)}};
  if (s.parent_span_id) out["parentSpanId"] = hex(s.parent_span_id->data(), 8);
  if (s.dropped_attributes) out["droppedAttributesCount"] = s.dropped_attributes;
  if (s.status != StatusCode::kUnset || !s.status_message.empty()) {
    json status = {{"code", static_cast<int>(s.status)}};
    if (!s.status_message.empty()) status["message"] = s.status_message;
    out["status"] = status;
  }
  return out;
}

constexpr int kCumulative = 2;

json metric(const FamilySnapshot& f, MetricTimes t) {
  json points = json::array();
  for (const auto& s : f.series) {
    json p = {{"attributes", attributes(s.labels)}, {"timeUnixNano", u64(t.now_unix_ns)}};
    if (f.kind != MetricKind::kGauge) p["startTimeUnixNano"] = u64(t.start_unix_ns);
    if (f.kind == MetricKind::kHistogram) {
      std::vector<uint64_t> counts = bucket_counts(s, f.bounds.size());
      uint64_t count = 0;
      json buckets = json::array();
      for (uint64_t c : counts) {
        count += c;
        buckets.push_back(u64(c));
      }
      json bounds = json::array();
      for (double b : f.bounds) bounds.push_back(dbl(b));
      p["count"] = u64(count);
      p["sum"] = dbl(s.sum);
      p["bucketCounts"] = buckets;
      p["explicitBounds"] = bounds;
    } else {
      p["asDouble"] = dbl(s.value);
    }
    points.push_back(std::move(p));
  }
  json out = {{"name", f.name}};
  if (!f.help.empty()) out["description"] = f.help;
  switch (f.kind) {
    case MetricKind::kGauge: out["gauge"] = {{"dataPoints", points}}; break;
    case MetricKind::kCounter:
      out["sum"] = {{"dataPoints", points}, {"aggregationTemporality", kCumulative}, {"isMonotonic", true}};
      break;
    case MetricKind::kHistogram:
      out["histogram"] = {{"dataPoints", points}, {"aggregationTemporality", kCumulative}};
      break;
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string encode_traces_json(const Resource& r, const Scope& s, const std::vector<Span>& spans) {
  json list = json::array();
  for (const auto& sp : spans) list.push_back(span(sp));
  json req = {{"resourceSpans",
               {{{"resource", {{"attributes", attributes(r.attributes)}}},
                 {"scopeSpans", {{{"scope", scope(s)}, {"spans", list}}}}}}}};
  return dump(req);
}

std::string encode_metrics_json(const Resource& r, const Scope& s,
                                const std::vector<FamilySnapshot>& families, MetricTimes t) {
  json list = json::array();
  for (const auto& f : families)
    if (!f.series.empty()) list.push_back(metric(f, t));
  json req = {{"resourceMetrics",
               {{{"resource", {{"attributes", attributes(r.attributes)}}},
                 {"scopeMetrics", {{{"scope", scope(s)}, {"metrics", list}}}}}}}};
  return dump(req);
}

}  // namespace probe::otlp
