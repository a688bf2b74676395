// A sink receives records (JSON objects made by handlers) and forwards them somewhere.
// emit() is called on the event loop and never blocks it: sinks that talk to files or the
// network queue (bounded, async_queue.h) and a worker thread delivers; a sink that cannot keep
// up drops and counts. Every record emitted ends up counted exactly once: sent, dropped or
// failed (once the queue is empty). One folder per sink type; make_sink() builds them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "compiler/artifact/manifest.h"

namespace probe {

struct SinkCounters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> dropped{0};  // not sent: invalid, queue full, left at a flush deadline
  std::atomic<uint64_t> failed{0};   // the transport reported an error
};

class Sink {
 public:
  explicit Sink(std::string id) : id_(std::move(id)) {}
  virtual ~Sink() = default;
  const std::string& id() const { return id_; }
  virtual const char* type() const = 0;
  virtual void emit(const nlohmann::json& record) = 0;
  // probed is stopping: deliver what is queued, waiting a few seconds at most; what is left
  // is counted as dropped, so the counters are final when it returns.
  virtual void flush() {}
  // The event loop is about to emit a burst of records (hold) / has emitted it (release):
  // a queued sink wakes its worker once per burst, not once per record.
  virtual void hold() {}
  virtual void release() {}
  // SIGHUP: reopen files (log rotation) or reconnect; default: nothing to do.
  virtual void reopen() {}
  // Records waiting in the sink's queue (self-metric).
  virtual size_t queued() const { return 0; }
  const SinkCounters& counters() const { return counters_; }

 protected:
  SinkCounters counters_;

 private:
  std::string id_;
};

class Registry;

// What sinks may use besides their settings: the metric registry (Prometheus, OTLP export
// it; every sink's counters are exported through it).
struct SinkContext {
  SinkContext(Registry* r = nullptr, std::string policy = {})  // NOLINT(google-explicit-constructor)
      : registry(r), policy_name(std::move(policy)) {}
  Registry* registry;
  std::string policy_name;  // OTLP's default service.name
};

// Builds a sink from its manifest entry; settings have had ${ENV:-default} substituted.
Result<std::unique_ptr<Sink>> make_sink(const SinkManifest& config, const SinkContext& context);

}  // namespace probe
