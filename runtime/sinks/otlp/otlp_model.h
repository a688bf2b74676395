// What the OTLP sink exports, independent of the wire encoding (protobuf or JSON): spans with
// attributes, a resource, and the instrumentation scope. Names follow the OTLP protos.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runtime/metrics/registry.h"

namespace probe::otlp {

using Scalar = std::variant<std::string, bool, int64_t, double>;
using Value = std::variant<std::string, bool, int64_t, double, std::vector<Scalar>>;

struct Attribute {
  std::string key;
  Value value;
};
using Attributes = std::vector<Attribute>;

// Values of the protos' enums.
enum class SpanKind : int { kUnspecified = 0, kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class StatusCode : int { kUnset = 0, kOk = 1, kError = 2 };

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  std::optional<SpanId> parent_span_id;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  Attributes attributes;
  uint32_t dropped_attributes = 0;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
};

struct Resource {
  Attributes attributes;
};

struct Scope {
  std::string name = "probekit";
  std::string version;
};

// Approximate heap bytes of a span, for the queue's memory bound.
size_t span_bytes(const Span& span);
std::string hex(const uint8_t* data, size_t n);
// A histogram series' count per bucket (OTLP) from its cumulative counts (the registry's),
// bounds + 1 of them, the last for +Inf.
std::vector<uint64_t> bucket_counts(const SeriesSnapshot& series, size_t bounds);

}  // namespace probe::otlp
