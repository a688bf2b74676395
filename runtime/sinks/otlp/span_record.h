// The span record a Lua handler emits to an OTLP sink, checked and turned into a Span:
//
//   emit("otlp", { name = "GET /v1/items", kind = "client",
//                  start_ns = ev.ts - ev.took, end_ns = ev.ts,     -- CLOCK_MONOTONIC, as ev.ts
//                  status = "error" or { code = "error", message = "..." },
//                  http = { method = "GET", host = "api.example.com", path = "/v1/items", status = 200 },
//                  db = {...}, messaging = {...},                  -- mapped to semantic conventions
//                  attributes = { ["peer.service"] = "billing" },  -- copied as they are
//                  trace_id = "32 hex digits", parent_span_id = "16 hex digits" })
//
// docs/sinks.md has every key. A record that does not fit is refused with the reason.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "runtime/sinks/otlp/otlp_model.h"

namespace probe::otlp {

constexpr size_t kMaxAttributes = 128;     // more are counted in dropped_attributes_count
constexpr size_t kMaxStringBytes = 4096;   // longer strings are cut at a character boundary

// The two clocks at one instant: handlers give CLOCK_MONOTONIC times (ev.ts), OTLP wants Unix.
struct SpanClock {
  uint64_t monotonic_now_ns = 0;
  int64_t unix_minus_monotonic_ns = 0;
  static SpanClock now();
};

// Random trace and span ids (never all zero), from a generator seeded once per sink.
class IdGenerator {
 public:
  IdGenerator();
  TraceId trace_id();
  SpanId span_id();

 private:
  std::mt19937_64 rng_;
};

Result<Span> span_from_record(const nlohmann::json& record, const SpanClock& clock, IdGenerator& ids);

}  // namespace probe::otlp
