// OTLP export requests (ExportTraceServiceRequest, ExportMetricsServiceRequest) in either
// encoding OTLP/HTTP allows: binary protobuf (default) or the OTLP JSON mapping (lowerCamelCase
// names, hex trace and span ids, enums as numbers, 64-bit integers as strings).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/otlp/otlp_model.h"

namespace probe::otlp {

enum class Encoding { kProtobuf, kJson };

inline const char* content_type(Encoding e) {
  return e == Encoding::kJson ? "application/json" : "application/x-protobuf";
}

// Registry families as OTLP metrics: counters → monotonic cumulative Sum, gauges → Gauge,
// histograms → cumulative Histogram with explicit bounds. Every point has the same times.
struct MetricTimes {
  uint64_t start_unix_ns = 0;
  uint64_t now_unix_ns = 0;
};

std::string encode_traces_protobuf(const Resource& r, const Scope& s, const std::vector<Span>& spans);
std::string encode_traces_json(const Resource& r, const Scope& s, const std::vector<Span>& spans);
std::string encode_metrics_protobuf(const Resource& r, const Scope& s,
                                    const std::vector<FamilySnapshot>& families, MetricTimes t);
std::string encode_metrics_json(const Resource& r, const Scope& s,
                                const std::vector<FamilySnapshot>& families, MetricTimes t);

inline std::string encode_traces(Encoding e, const Resource& r, const Scope& s,
                                 const std::vector<Span>& spans) {
  return e == Encoding::kJson ? encode_traces_json(r, s, spans) : encode_traces_protobuf(r, s, spans);
}
inline std::string encode_metrics(Encoding e, const Resource& r, const Scope& s,
                                  const std::vector<FamilySnapshot>& families, MetricTimes t) {
  return e == Encoding::kJson ? encode_metrics_json(r, s, families, t)
                              : encode_metrics_protobuf(r, s, families, t);
}

}  // namespace probe::otlp
