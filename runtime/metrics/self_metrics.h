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

#include "runtime/loader/bpf_object.h"
#include "runtime/metrics/registry.h"

namespace probe {

class Sink;
struct AttachRecord;
struct HandlerCounters;

// What the event loop counts in user space; the collector reads it at export time.
struct PipelineCounters {
  std::atomic<uint64_t> records{0};    // ring-buffer records received
  std::atomic<uint64_t> malformed{0};  // records that did not decode
  std::atomic<uint64_t> retired{0};    // events of probes a reload replaced, after their handler went
  std::vector<std::atomic<uint64_t>> decoded_per_probe;
  explicit PipelineCounters(size_t probes) : decoded_per_probe(probes) {}
};

// One probe as exporters see it, wherever its programs run (a reload keeps unchanged probes
// attached from the version of the policy that attached them).
struct ProbeSample {
  std::string name;
  ProbeCounters kernel;
  uint64_t decoded = 0;
  std::vector<std::pair<std::string, int>> programs;  // program name, fd
};

struct SelfMetricsSources {
  std::function<std::vector<ProbeSample>()> probes;
  std::function<uint64_t()> malformed;
  std::function<uint64_t()> retired;      // events of probes a reload replaced, dropped
  std::function<uint64_t()> generations;  // loaded versions of the policy (1 unless a reload kept probes)
  std::function<HandlerCounters()> handlers;  // empty when the policy has no handlers
  const std::map<std::string, std::unique_ptr<Sink>>* sinks = nullptr;
  std::function<std::vector<AttachRecord>()> attach_records;
  const Registry* registry = nullptr;  // for the handler-metric overflow count
};

Registry::Collector self_metrics_collector(SelfMetricsSources sources);

// Resident set size of this process in bytes (from /proc/self/statm).
uint64_t resident_bytes();

}  // namespace probe
