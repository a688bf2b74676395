// Field numbers are those of the public OTLP protos (opentelemetry/proto/{common,resource,
// trace,metrics,collector}/v1), written by hand from the specification.
#include "runtime/sinks/otlp/otlp_encode.h"
#include "runtime/sinks/otlp/proto_writer.h"

namespace probe::otlp {
namespace {

// AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array (ArrayValue: 1 values).
void any_value(ProtoWriter& w, const Scalar& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) w.bytes_field(1, x, true);
        else if constexpr (std::is_same_v<T, bool>) w.bool_field(2, x, true);
        else if constexpr (std::is_same_v<T, int64_t>) w.int64_field(3, x, true);
        else w.double_field(4, x, true);
      },
      v);
}

void any_value(ProtoWriter& w, const Value& v) {
  if (auto* list = std::get_if<std::vector<Scalar>>(&v)) {
    w.message(5, [&] {
      for (const auto& item : *list) w.message(1, [&] { any_value(w, item); });
    });
    return;
  }
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (!std::is_same_v<T, std::vector<Scalar>>) any_value(w, Scalar(x));
      },
      v);
}

// KeyValue: 1 key, 2 value.
void attributes(ProtoWriter& w, uint32_t field, const Attributes& attrs) {
  for (const auto& a : attrs)
    w.message(field, [&] {
      w.bytes_field(1, a.key);
      w.message(2, [&] { any_value(w, a.value); });
    });
}

void attributes(ProtoWriter& w, uint32_t field, const Labels& labels) {
  for (const auto& [k, v] : labels)
    w.message(field, [&] {
      w.bytes_field(1, k);
      w.message(2, [&] { w.bytes_field(1, v, true); });
    });
}

// Resource: 1 attributes. InstrumentationScope: 1 name, 2 version.
void resource(ProtoWriter& w, const Resource& r) { w.message(1, [&] { attributes(w, 1, r.attributes); }); }
void scope(ProtoWriter& w, const Scope& s) {
  w.message(1, [&] {
    w.bytes_field(1, s.name);
    w.bytes_field(2, s.version);
  });
}

// Span: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 7 start, 8 end,
// 9 attributes, 10 dropped_attributes_count, 15 status (2 message, 3 code).
void span(ProtoWriter& w, const Span& s) {
  w.bytes_field(1, std::string_view(reinterpret_cast<const char*>(s.trace_id.data()), s.trace_id.size()));
  w.bytes_field(2, std::string_view(reinterpret_cast<const char*>(s.span_id.data()), s.span_id.size()));
  if (s.parent_span_id)
    w.bytes_field(4, std::string_view(reinterpret_cast<const char*>(s.parent_span_id->data()), 8));
  w.bytes_field(5, s.name, true);
  w.varint_field(6, static_cast<uint64_t>(s.kind));
  w.fixed64_field(7, s.start_unix_ns);
  w.fixed64_field(8, s.end_unix_ns);
  attributes(w, 9, s.attributes);
  w.varint_field(10, s.dropped_attributes);
  if (s.status != StatusCode::kUnset || !s.status_message.empty())
    w.message(15, [&] {
      w.bytes_field(2, s.status_message);
      w.varint_field(3, static_cast<uint64_t>(s.status));
    });
}

// NumberDataPoint: 7 attributes, 2 start, 3 time, 4 as_double.
void number_point(ProtoWriter& w, const SeriesSnapshot& s, MetricTimes t, bool with_start) {
  w.message(1, [&] {
    attributes(w, 7, s.labels);
    if (with_start) w.fixed64_field(2, t.start_unix_ns);
    w.fixed64_field(3, t.now_unix_ns);
    w.double_field(4, s.value, true);
  });
}

// HistogramDataPoint: 9 attributes, 2 start, 3 time, 4 count, 5 sum, 6 bucket_counts,
// 7 explicit_bounds.
void histogram_point(ProtoWriter& w, const FamilySnapshot& f, const SeriesSnapshot& s, MetricTimes t) {
  std::vector<uint64_t> counts = bucket_counts(s, f.bounds.size());
  uint64_t count = 0;
  for (uint64_t c : counts) count += c;
  w.message(1, [&] {
    attributes(w, 9, s.labels);
    w.fixed64_field(2, t.start_unix_ns);
    w.fixed64_field(3, t.now_unix_ns);
    w.fixed64_field(4, count);
    w.double_field(5, s.sum, true);
    w.packed_fixed64(6, counts);
    w.packed_double(7, f.bounds);
  });
}

// Metric: 1 name, 2 description, 5 gauge, 7 sum (2 temporality, 3 monotonic), 9 histogram.
constexpr uint64_t kCumulative = 2;

void metric(ProtoWriter& w, const FamilySnapshot& f, MetricTimes t) {
  w.bytes_field(1, f.name);
  w.bytes_field(2, f.help);
  switch (f.kind) {
    case MetricKind::kGauge:
      w.message(5, [&] {
        for (const auto& s : f.series) number_point(w, s, t, false);
      });
      break;
    case MetricKind::kCounter:
      w.message(7, [&] {
        for (const auto& s : f.series) number_point(w, s, t, true);
        w.varint_field(2, kCumulative);
        w.bool_field(3, true);
      });
      break;
    case MetricKind::kHistogram:
      w.message(9, [&] {
        for (const auto& s : f.series) histogram_point(w, f, s, t);
        w.varint_field(2, kCumulative);
      });
      break;
  }
}

}  // namespace

// ExportTraceServiceRequest: 1 ResourceSpans (1 resource, 2 ScopeSpans (1 scope, 2 spans)).
std::string encode_traces_protobuf(const Resource& r, const Scope& s, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(256 + spans.size() * 256);
  ProtoWriter w(out);
  w.message(1, [&] {
    resource(w, r);
    w.message(2, [&] {
      scope(w, s);
      for (const auto& sp : spans) w.message(2, [&] { span(w, sp); });
    });
  });
  return out;
}

// ExportMetricsServiceRequest: 1 ResourceMetrics (1 resource, 2 ScopeMetrics (1 scope, 2 metrics)).
std::string encode_metrics_protobuf(const Resource& r, const Scope& s,
                                    const std::vector<FamilySnapshot>& families, MetricTimes t) {
  std::string out;
  ProtoWriter w(out);
  w.message(1, [&] {
    resource(w, r);
    w.message(2, [&] {
      scope(w, s);
      for (const auto& f : families)
        if (!f.series.empty()) w.message(2, [&] { metric(w, f, t); });
    });
  });
  return out;
}

}  // namespace probe::otlp
