// probed's own health as metrics (probekit_*): events received, decoded and lost per probe
// (kernel counters), handler calls, errors and time, sink traffic and queues, attach state,
// BPF program run time (when kernel BPF stats are on), process RSS.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/metrics/registry.h"

namespace probe {

class BpfObject;
class Sink;
struct Manifest;
struct AttachRecord;
struct HandlerCounters;

// What the event loop counts in user space; the collector reads it at export time.
struct PipelineCounters {
  std::atomic<uint64_t> records{0};    // ring-buffer records received
  std::atomic<uint64_t> malformed{0};  // records that did not decode
  std::vector<std::atomic<uint64_t>> decoded_per_probe;
  explicit PipelineCounters(size_t probes) : decoded_per_probe(probes) {}
};

struct SelfMetricsSources {
  const Manifest* manifest = nullptr;
  const BpfObject* object = nullptr;
  const PipelineCounters* pipeline = nullptr;
  std::function<HandlerCounters()> handlers;  // empty when the policy has no handlers
  const std::map<std::string, std::unique_ptr<Sink>>* sinks = nullptr;
  std::function<std::vector<AttachRecord>()> attach_records;
  const Registry* registry = nullptr;  // for the handler-metric overflow count
};

Registry::Collector self_metrics_collector(SelfMetricsSources sources);

// Resident set size of this process in bytes (from /proc/self/statm).
uint64_t resident_bytes();

}  // namespace probe
