// Owns a loaded BPF object: opened from memory, sized for this machine, verified by the
// kernel. Programs and maps are looked up by the names the manifest gives.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/artifact.h"

struct bpf_object;
struct bpf_program;
struct bpf_map;

namespace probe {

// Routes libbpf's messages into our log (debug level unless they are warnings).
void install_libbpf_logger();

// Waits until the kernel has freed these programs (links release them after an RCU grace
// period); returns false if some are still loaded after `timeout_ms`.
bool wait_programs_freed(const std::vector<uint32_t>& ids, int timeout_ms);

struct ProbeCounters {
  uint64_t hits = 0, emitted = 0, filtered = 0, ringbuf_drops = 0, read_errors = 0, map_full = 0,
           no_entry = 0, truncated = 0;
};

class BpfObject {
 public:
  // Opens and loads `artifact`'s object. `btf_path` overrides the kernel BTF used for CO-RE.
  // Programs of optional probes the kernel refuses are left out; their probe names go to
  // `skipped`. Errors name the probe, its policy location and the verifier's reason.
  // `share_state_from`: a running object (an earlier version of the policy) whose state maps
  // that outlive a probe — the connections streams follow — this object uses too.
  // `leave_out`: probes whose programs are not loaded (a reload keeps them running elsewhere).
  static Result<std::unique_ptr<BpfObject>> load(const Artifact& artifact, const std::string& btf_path,
                                                 std::set<std::string>* skipped = nullptr,
                                                 const BpfObject* share_state_from = nullptr,
                                                 const std::set<std::string>& leave_out = {});
  ~BpfObject();
  BpfObject(const BpfObject&) = delete;
  BpfObject& operator=(const BpfObject&) = delete;

  bpf_program* program(const std::string& name) const;
  // Kernel ids of the loaded programs (to confirm they are gone after close).
  std::vector<uint32_t> program_ids() const;
  bpf_map* map(const std::string& name) const;
  int events_fd() const;
  // Per-probe counters kept in BPF, summed over CPUs.
  std::vector<ProbeCounters> read_counters() const;
  // Maps this object shares with the one it was loaded beside.
  const std::vector<std::string>& shared_maps() const { return shared_maps_; }

 private:
  BpfObject(bpf_object* obj, uint32_t probes);
  Status insert_overflow_series(const Manifest& m);
  static Result<std::unique_ptr<BpfObject>> open_and_load(const Artifact& artifact,
                                                          const std::string& btf_path,
                                                          const std::set<std::string>& disabled,
                                                          const BpfObject* share_state_from, std::string* log);
  bpf_object* obj_;
  uint32_t probes_;
  std::vector<std::string> shared_maps_;
};

}  // namespace probe
