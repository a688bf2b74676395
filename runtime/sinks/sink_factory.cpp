// PROBE_SINK_LIST: a new sink type is added here, in compiler/sema/read_outputs.cpp (its
// settings) and in stdlib/schema/policy.schema.json.
#include "runtime/sinks/jsonl/jsonl_sink.h"
#include "runtime/sinks/orchestrator/orchestrator_sink.h"
#include "runtime/sinks/otlp/otlp_sink.h"
#include "runtime/sinks/prometheus/prometheus_sink.h"
#include "runtime/sinks/sink.h"
#include "runtime/sinks/sink_settings.h"

namespace probe {
namespace {

template <typename S>
Result<std::unique_ptr<Sink>> as_sink(Result<std::unique_ptr<S>> made) {
  if (!made) return std::move(made).take_error();
  return std::unique_ptr<Sink>(std::move(*made));
}

Status read_queue_size(const SinkSettings& s, QueueOptions* q) {
  PROBE_ASSIGN_OR_RETURN(q->max_items, s.count("queue_size", q->max_items, 1, 1u << 20));
  return {};
}

Result<std::unique_ptr<Sink>> make_jsonl(const SinkSettings& s) {
  QueueOptions q = JsonlSink::default_queue();
  PROBE_TRY(read_queue_size(s, &q));
  return as_sink(JsonlSink::open(s.id(), s.text("path", "-"), q));
}

Result<std::unique_ptr<Sink>> make_orchestrator(const SinkSettings& s) {
  OrchestratorOptions o;
  o.endpoint = s.text("endpoint", "127.0.0.1:51712");
  PROBE_ASSIGN_OR_RETURN(o.log_calls, s.flag("log_calls", true));
  PROBE_TRY(read_queue_size(s, &o.queue));
  return as_sink(OrchestratorSink::open(s.id(), o));
}

Result<std::vector<std::string>> parse_headers(const SinkSettings& s) {
  // "Name=value,Name2=value2", the OTEL_EXPORTER_OTLP_HEADERS syntax.
  std::vector<std::string> out;
  std::string text = s.text("headers");
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error("sink '{}': headers: '{}' is not name=value", s.id(), item);
    out.push_back(item.substr(0, eq) + ": " + item.substr(eq + 1));
  }
  return out;
}

Result<std::unique_ptr<Sink>> make_otlp(const SinkSettings& s, const SinkContext& context) {
  OtlpOptions o;
  o.exporter.endpoint = s.text("endpoint", "http://127.0.0.1:4318");
  std::string encoding = s.text("encoding", "protobuf");
  if (encoding == "json") o.exporter.encoding = otlp::Encoding::kJson;
  else if (encoding != "protobuf")
    return make_error("sink '{}': encoding must be \"protobuf\" or \"json\" (got '{}')", s.id(), encoding);
  PROBE_ASSIGN_OR_RETURN(o.exporter.headers, parse_headers(s));
  PROBE_ASSIGN_OR_RETURN(o.exporter.timeout, s.duration("timeout", o.exporter.timeout));
  PROBE_ASSIGN_OR_RETURN(o.exporter.retry.initial, s.duration("retry_initial", o.exporter.retry.initial));
  PROBE_ASSIGN_OR_RETURN(o.exporter.retry.max_interval,
                         s.duration("retry_max_interval", o.exporter.retry.max_interval));
  PROBE_ASSIGN_OR_RETURN(o.exporter.retry.max_elapsed,
                         s.duration("retry_max_elapsed", o.exporter.retry.max_elapsed));
  PROBE_ASSIGN_OR_RETURN(o.metrics_interval, s.duration("metrics_interval", o.metrics_interval));
  PROBE_ASSIGN_OR_RETURN(o.queue.max_batch, s.count("batch_size", o.queue.max_batch, 1, 65536));
  PROBE_ASSIGN_OR_RETURN(o.queue.batch_delay, s.duration("batch_delay", o.queue.batch_delay));
  PROBE_TRY(read_queue_size(s, &o.queue));
  o.service_name = s.text("service_name");
  if (o.service_name.empty()) o.service_name = context.policy_name;
  o.resource_attributes = s.text("resource_attributes");
  return as_sink(OtlpSink::open(s.id(), o, context.registry));
}

}  // namespace

Result<std::unique_ptr<Sink>> make_sink(const SinkManifest& config, const SinkContext& context) {
  SinkSettings s(config);
  if (config.type == "jsonl") return make_jsonl(s);
  if (config.type == "orchestrator") return make_orchestrator(s);
  if (config.type == "prometheus")
    return as_sink(PrometheusSink::open(s.id(), s.text("listen", "127.0.0.1:9435"), context.registry));
  if (config.type == "otlp") return make_otlp(s, context);
  return make_error("sink '{}': type '{}' is not available in this build", s.id(), config.type);
}

}  // namespace probe
