#include "runtime/sinks/otlp/otlp_sink.h"

#include <algorithm>

#include "common/log.h"
#include "runtime/sinks/otlp/resource.h"

namespace probe {

using namespace otlp;

QueueOptions OtlpOptions::default_queue() {
  QueueOptions q;
  q.max_items = 8192;
  q.max_bytes = 32u << 20;
  q.max_batch = 512;
  q.batch_delay = std::chrono::milliseconds(1000);
  return q;
}

Result<std::unique_ptr<OtlpSink>> OtlpSink::open(const std::string& id, const OtlpOptions& options,
                                                 Registry* registry) {
  const std::string& url = options.exporter.endpoint;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return make_error("sink '{}': endpoint '{}' must be an http:// or https:// URL", id, url);
  auto resource = make_resource(options.service_name, options.resource_attributes);
  if (!resource) return make_error("sink '{}': {}", id, resource.error().message);
  init_curl_once();  // before the worker thread starts
  return std::unique_ptr<OtlpSink>(new OtlpSink(id, options, std::move(*resource), registry));
}

OtlpSink::OtlpSink(const std::string& id, const OtlpOptions& options, Resource resource,
                   Registry* registry)
    : Sink(id),
      options_(options),
      resource_(std::move(resource)),
      registry_(registry),
      start_unix_ns_([] {
        SpanClock c = SpanClock::now();
        return c.monotonic_now_ns + static_cast<uint64_t>(c.unix_minus_monotonic_ns);
      }()),
      queue_(
          [&] {
            QueueOptions q = options.queue;
            if (registry && options.metrics_interval.count() > 0) q.tick = options.metrics_interval;
            return q;
          }(),
          {.consume = [this](std::vector<Span>& spans) { export_spans(spans); },
           .tick = [this] { export_metrics(); },
           .abandon = [this](size_t n) {
             counters_.dropped += n;
             log::warn("sink '{}': {} spans given up: not exported before the flush deadline", this->id(), n);
           },
           .weigh = [](const Span& s) { return span_bytes(s); }}) {
  scope_.version = probekit_version();
  if (registry_) {
    auto family = registry_->counter("probekit_sink_requests_total",
                                     "Export requests a sink made, by signal and outcome");
    if (family) requests_ = *family;
  }
}

OtlpSink::~OtlpSink() { queue_.stop(); }

// Made on the worker at first use: it sleeps and checks the deadline through the queue.
Exporter& OtlpSink::exporter() {
  if (!exporter_)
    exporter_ = std::make_unique<Exporter>(
        id(), options_.exporter, [this](std::chrono::milliseconds d) { return queue_.sleep_for(d); },
        [this] { return queue_.deadline(); });
  return *exporter_;
}

void OtlpSink::emit(const nlohmann::json& record) {
  auto span = span_from_record(record, SpanClock::now(), ids_);
  if (!span) {
    counters_.dropped++;
    if (invalid_.first(span.error().message))
      log::warn("sink '{}': dropped a span: {} (logged once a minute per reason)", id(),
                span.error().message);
    return;
  }
  if (!queue_.push(std::move(*span))) counters_.dropped++;
}

void OtlpSink::flush() {
  queue_.drain(std::chrono::seconds(2));
  // The last word on the metrics, counting the spans just delivered.
  if (registry_ && options_.metrics_interval.count() > 0) queue_.drain(std::chrono::seconds(2), true);
}

void OtlpSink::count_request(Signal signal, const ExportResult& r) {
  if (!requests_) return;
  const char* outcome = r.delivered ? (r.rejected ? "partial" : "ok") : "failed";
  requests_->add({{"outcome", outcome}, {"signal", signal_text(signal)}, {"sink", id()}}, 1);
  if (r.retries) requests_->add({{"outcome", "retried"}, {"signal", signal_text(signal)}, {"sink", id()}},
                                static_cast<double>(r.retries));
}

void OtlpSink::export_spans(std::vector<Span>& spans) {
  std::string body = encode_traces(options_.exporter.encoding, resource_, scope_, spans);
  ExportResult r = exporter().send(Signal::kTraces, body);
  count_request(Signal::kTraces, r);
  uint64_t n = spans.size();
  if (r.delivered) {
    uint64_t rejected = std::min<uint64_t>(n, static_cast<uint64_t>(std::max<int64_t>(0, r.rejected)));
    counters_.sent += n - rejected;
    counters_.failed += rejected;
    if (rejected && failures_.first("partial"))
      log::warn("sink '{}': the receiver refused {} of {} spans: {}", id(), rejected, n, r.error);
    return;
  }
  counters_.failed += n;
  if (failures_.first(r.error)) log::warn("sink '{}': {} spans not exported: {}", id(), n, r.error);
}

void OtlpSink::export_metrics() {
  if (!registry_) return;
  std::vector<FamilySnapshot> families = registry_->collect();
  // A repeated name would be two metrics of one name in one scope; keep the first.
  families.erase(std::unique(families.begin(), families.end(),
                             [](const FamilySnapshot& a, const FamilySnapshot& b) { return a.name == b.name; }),
                 families.end());
  SpanClock now = SpanClock::now();
  MetricTimes t{start_unix_ns_, now.monotonic_now_ns + static_cast<uint64_t>(now.unix_minus_monotonic_ns)};
  std::string body = encode_metrics(options_.exporter.encoding, resource_, scope_, families, t);
  ExportResult r = exporter().send(Signal::kMetrics, body);
  count_request(Signal::kMetrics, r);
  if (!r.delivered && failures_.first("metrics " + r.error))
    log::warn("sink '{}': metrics not exported: {}", id(), r.error);
}

}  // namespace probe
