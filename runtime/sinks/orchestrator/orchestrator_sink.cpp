#include "runtime/sinks/orchestrator/orchestrator_sink.h"

#include "common/log.h"
#include "runtime/sinks/orchestrator/datagram.h"

namespace probe {
namespace {

std::string field(const nlohmann::json& r, const char* key) {
  auto it = r.find(key);
  if (it == r.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

QueueOptions OrchestratorOptions::default_queue() {
  QueueOptions q;
  q.max_items = 8192;
  q.max_bytes = 8u << 20;  // datagrams are < 8 KiB, usually < 200 bytes
  q.max_batch = 256;
  return q;
}

Result<std::unique_ptr<OrchestratorSink>> OrchestratorSink::open(const std::string& id,
                                                                 const OrchestratorOptions& options) {
  std::string host, port;
  if (!split_endpoint(options.endpoint, &host, &port))
    return make_error("sink '{}': endpoint '{}' is not host:port (IPv6 as [addr]:port)", id,
                      options.endpoint);
  return std::unique_ptr<OrchestratorSink>(new OrchestratorSink(id, options, host, port));
}

OrchestratorSink::OrchestratorSink(const std::string& id, const OrchestratorOptions& options,
                                   std::string host, std::string port)
    : Sink(id),
      options_(options),
      sender_(id, std::move(host), std::move(port)),
      queue_(options.queue,
             {.consume = [this](std::vector<std::string>& b) { send_batch(b); },
              .tick = [this] {
                if (reresolve_asked_.exchange(false)) sender_.reresolve();
              },
              .abandon = [this](size_t n) {
                counters_.dropped += n;
                log::warn("sink '{}': {} calls given up: not sent before the flush deadline", this->id(), n);
              },
              .weigh = [](const std::string& s) { return s.size() + sizeof(std::string); }}) {}

void OrchestratorSink::emit(const nlohmann::json& record) {
  std::string why;
  std::optional<std::string> dgram;
  // A call without a latency is a handler bug; 0 ms would look like a real measurement.
  if (auto it = record.find("latency_ms"); it == record.end() || !it->is_number())
    why = "latency_ms is missing or not a number";
  else
    dgram = format_orchestrator_datagram(field(record, "method"), field(record, "host"),
                                         field(record, "path"), it->get<double>(), &why);
  if (!dgram) {
    counters_.dropped++;
    if (drops_.first(why)) log::info("sink '{}': dropped a call: {}", id(), why);
    return;
  }
  if (!queue_.push(std::move(*dgram))) counters_.dropped++;
}

void OrchestratorSink::flush() { queue_.drain(std::chrono::seconds(2)); }

void OrchestratorSink::reopen() {
  reresolve_asked_ = true;
  queue_.request_tick();
}

void OrchestratorSink::send_batch(std::vector<std::string>& datagrams) {
  if (reresolve_asked_.exchange(false)) sender_.reresolve();
  size_t sent = sender_.send(datagrams);
  counters_.sent += sent;
  counters_.failed += datagrams.size() - sent;
  if (options_.log_calls)
    for (const auto& d : datagrams) log_call(d);
}

// "0\tGET\thost\t/path?q\t1.000\n" is logged as "GET host /path": the query is left out, as
// it may hold secrets, and one path with many queries is still one call.
void OrchestratorSink::log_call(const std::string& datagram) {
  size_t t1 = datagram.find('\t');
  size_t t2 = datagram.find('\t', t1 + 1);
  size_t t3 = datagram.find('\t', t2 + 1);
  size_t t4 = datagram.find('\t', t3 + 1);
  if (t4 == std::string::npos) return;
  std::string path = datagram.substr(t3 + 1, t4 - t3 - 1);
  path.resize(std::min(path.find('?'), path.size()));
  std::string call = datagram.substr(t1 + 1, t2 - t1 - 1) + " " +
                     datagram.substr(t2 + 1, t3 - t2 - 1) + " " + path;
  uint64_t unlogged = 0;
  if (calls_.first(call, LogDedupe::Clock::now(), &unlogged))
    log::info("sink '{}': seen {}", id(), call);
  if (unlogged)
    log::info("sink '{}': {} more calls in the last minute were not logged", id(), unlogged);
}

}  // namespace probe
