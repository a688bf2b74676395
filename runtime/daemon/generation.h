// One version of the running policy: its artifact and BPF object, the probes it still has
// attached, its ring buffer and decoder, and the discovery that attaches those probes to
// files found later. A reload keeps unchanged probes attached in the generation that attached
// them and loads a new generation for the rest (docs/decisions/0007-reload-by-probe.md); a
// generation goes once none of its probes is left.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/artifact.h"
#include "runtime/attach/attacher.h"
#include "runtime/attach/discovery.h"
#include "runtime/events/pipeline.h"
#include "runtime/events/ring_reader.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/metrics/self_metrics.h"

namespace probe {

class Generation {
 public:
  struct Options {
    std::string btf_path;
    const Generation* previous = nullptr;             // shares its connection state
    std::optional<std::set<uint32_t>> owned;          // probes to attach; all when absent
    Pipeline::DefaultOutput default_output;           // events when there are no handlers
  };

  // Loads the object (the kernel verifies it); attaches nothing yet.
  static Result<std::unique_ptr<Generation>> load(Artifact artifact, uint32_t number, Options options);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Attaches the owned probes (kernel probes, files on the host, running processes) and
  // starts watching for processes. Fails on a non-optional probe that cannot attach.
  Status attach();

  uint32_t number() const { return number_; }
  const Artifact& artifact() const { return artifact_; }
  const Manifest& manifest() const { return artifact_.manifest; }
  BpfObject& object() { return *object_; }
  const BpfObject& object() const { return *object_; }
  Attacher& attacher() { return *attacher_; }
  const Attacher& attacher() const { return *attacher_; }
  Discovery& discovery() { return *discovery_; }
  Pipeline& pipeline() { return *pipeline_; }
  const PipelineCounters& counters() const { return *counters_; }
  RingReader& ring() { return *ring_; }
  const std::set<std::string>& not_loaded() const { return not_loaded_; }
  // A newer generation watches for processes now: this one's watcher goes (its discovery
  // follows the newer one's).
  void stop_watching();
  bool owns(uint32_t probe_id) const { return attacher_->owns(probe_id); }
  bool owns_any() const { return attacher_->owns_any(); }

  // Exporters' view of one of this generation's probes (by its id here).
  ProbeSample sample(uint32_t probe_id, const std::vector<ProbeCounters>& kernel) const;

 private:
  Generation(Artifact artifact, uint32_t number) : artifact_(std::move(artifact)), number_(number) {}

  Artifact artifact_;  // the manifest's address is held by everything below: never moved
  uint32_t number_;
  std::set<std::string> not_loaded_;
  std::unique_ptr<BpfObject> object_;
  std::unique_ptr<PipelineCounters> counters_;
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<RingReader> ring_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<Discovery> discovery_;
};

}  // namespace probe
