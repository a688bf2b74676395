// OTLP/HTTP: spans that handlers emit (span_record.h has their shape) are validated on the
// event loop, queued, and exported in batches by a worker thread; every `metrics_interval` the
// same worker exports the whole metric registry as OTLP metrics. Transient failures are retried
// with backoff (honoring Retry-After); while a request waits, new spans queue up to the bound
// and beyond it are dropped and counted.
#pragma once

#include <atomic>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/async_queue.h"
#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/otlp/exporter.h"
#include "runtime/sinks/otlp/span_record.h"
#include "runtime/sinks/sink.h"

namespace probe {

struct OtlpOptions {
  otlp::ExporterOptions exporter;
  std::string service_name;         // empty: the policy's name
  std::string resource_attributes;  // "k=v,k2=v2"
  std::chrono::milliseconds metrics_interval{10'000};  // 0: no metrics export
  QueueOptions queue = default_queue();
  static QueueOptions default_queue();
};

class OtlpSink : public Sink {
 public:
  static Result<std::unique_ptr<OtlpSink>> open(const std::string& id, const OtlpOptions& options,
                                                Registry* registry);
  ~OtlpSink() override;
  const char* type() const override { return "otlp"; }
  void emit(const nlohmann::json& record) override;
  // Sends what is queued, then the registry one last time (probed is stopping).
  void flush() override;
  size_t queued() const override { return queue_.depth(); }
  void hold() override { queue_.hold(); }
  void release() override { queue_.release(); }

 private:
  OtlpSink(const std::string& id, const OtlpOptions& options, otlp::Resource resource, Registry* registry);
  void export_spans(std::vector<otlp::Span>& spans);
  void export_metrics();
  otlp::Exporter& exporter();
  void count_request(otlp::Signal signal, const otlp::ExportResult& r);

  OtlpOptions options_;
  otlp::Resource resource_;
  otlp::Scope scope_;
  Registry* registry_;
  MetricFamily* requests_ = nullptr;  // probekit_sink_requests_total
  uint64_t start_unix_ns_;
  otlp::IdGenerator ids_;                           // event loop only
  LogDedupe invalid_{std::chrono::minutes(1), 64};  // event loop only
  LogDedupe failures_{std::chrono::minutes(1), 64}; // worker only
  std::unique_ptr<otlp::Exporter> exporter_;        // worker only
  AsyncQueue<otlp::Span> queue_;                    // last: its worker uses the members above
};

}  // namespace probe
