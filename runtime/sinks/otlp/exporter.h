// Delivers one OTLP/HTTP export request: POSTs it to ENDPOINT/v1/traces or /v1/metrics,
// retrying transient failures with backoff until it is delivered, rejected, or out of time
// (max_elapsed, or the sink's shutdown deadline). Runs on the sink's worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/otlp/http_client.h"
#include "runtime/sinks/otlp/otlp_encode.h"
#include "runtime/sinks/otlp/retry_policy.h"

namespace probe::otlp {

enum class Signal { kTraces, kMetrics };
const char* signal_text(Signal s);

struct ExportResult {
  bool delivered = false;
  int64_t rejected = 0;  // items the receiver refused in a partial success
  int retries = 0;
  std::string error;     // why it was not delivered, or the partial-success message
};

struct ExporterOptions {
  std::string endpoint;  // base URL, e.g. http://127.0.0.1:4318
  Encoding encoding = Encoding::kProtobuf;
  std::chrono::milliseconds timeout{10'000};
  RetrySettings retry;
  std::vector<std::string> headers;
};

class Exporter {
 public:
  using Clock = std::chrono::steady_clock;
  // `sleep` waits between attempts and returns false when the wait was abandoned (a drain
  // deadline); `deadline` is when the sink must be done (time_point::max() normally).
  Exporter(std::string sink_id, ExporterOptions options,
           std::function<bool(std::chrono::milliseconds)> sleep,
           std::function<Clock::time_point()> deadline);
  ExportResult send(Signal signal, const std::string& body);
  std::string url(Signal signal) const;

 private:
  std::string sink_id_;
  ExporterOptions options_;
  std::function<bool(std::chrono::milliseconds)> sleep_;
  std::function<Clock::time_point()> deadline_;
  HttpClient http_;
  Backoff backoff_;
  LogDedupe retry_log_{std::chrono::minutes(1), 16};
};

// The rejected count and message of a partial success in a response body (0 when none).
int64_t partial_success(const std::string& body, Encoding encoding, Signal signal, std::string* message);

}  // namespace probe::otlp
