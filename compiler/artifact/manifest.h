// The manifest travels with the BPF object in an artifact. It tells the runtime everything
// it must know without re-reading the policy: programs per probe, where to attach them, and
// the layout of every event so records are decoded without hard-coded structs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "compiler/plan/plan.h"

namespace probe {

struct FieldLayout {
  std::string name;
  plan::FieldType type = plan::FieldType::kU64;
  uint32_t offset = 0;  // fixed fields: byte offset from the start of the record
  uint32_t size = 0;    // fixed fields: bytes (strings: array size incl. NUL)
  int var_index = -1;   // variable fields: position among the record's variable fields
  uint32_t max = 0;     // variable fields: capacity
  bool is_variable() const { return var_index >= 0; }
};

struct ProbeManifest {
  uint32_t id = 0;
  std::string name;
  plan::ProbeKind kind = plan::ProbeKind::kUprobe;
  std::string target;
  std::string symbol;
  uint64_t offset = 0;
  bool optional = false;
  plan::ReturnMode return_mode = plan::ReturnMode::kAuto;
  plan::Placement placement = plan::Placement::kOff;  // as probed may apply it (off: not placeable)
  plan::Abi abi = plan::Abi::kC;
  std::vector<std::string> entry_reads;  // argument registers the entry side reads ("rdi", "edx")
  bool placed_return = false;            // the return program reads its result through pk_ret
  // The return program can take its arguments at a return-side site that holds them (no
  // entry time needed): a dispatched-return placement is allowed.
  bool return_site_args = false;
  std::vector<std::string> dispatch_tables;  // plan::Probe::dispatch_tables
  std::string entry_program;   // BPF program run at entry ("" if none)
  std::string return_program;  // BPF program run at return ("" if none)
  std::string handler;         // Lua function name
  bool emit_event = true;
  std::string location;        // "policy.toml:12:1" for messages about this probe
  // Digest of everything that decides what the probe does once attached (its program text
  // with the id left out, target, placement, fields, metrics); equal fingerprints let a
  // reload keep a probe attached. Empty: unknown, never equal.
  std::string fingerprint;
  uint32_t fixed_size = 0;     // header + fixed fields, 8-aligned
  std::vector<FieldLayout> fields;
  const FieldLayout* field(const std::string& name) const;
};

struct TargetManifest {
  std::string name;
  plan::Target::Kind kind = plan::Target::Kind::kLibrary;
  std::string spec;
  bool optional = false;
  plan::ProcessSelector process;
  std::string pid_map;     // map of matching pids probed keeps current ("" if not needed)
  std::string cgroup_map;  // map of matching cgroup ids ("" if not needed)
};

// A metric kept in a BPF map: how to read its keys and values back.
struct MetricManifest {
  struct Label {
    std::string name;
    plan::FieldType type = plan::FieldType::kU64;
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  std::string name;
  std::string help;
  plan::Metric::Kind kind = plan::Metric::Kind::kCounter;
  std::string probe;
  std::string map;
  uint32_t key_size = 0;
  uint32_t overflow_offset = 0;
  std::vector<Label> labels;
  std::vector<int64_t> bounds;  // histogram "le" bounds (+Inf implied)
  uint32_t value_size = 0;
  uint32_t max_series = 0;
};

struct SinkManifest {
  std::string type;
  std::map<std::string, std::string> settings;
  bool operator==(const SinkManifest& o) const { return type == o.type && settings == o.settings; }
  bool operator!=(const SinkManifest& o) const { return !(*this == o); }
};

struct Manifest {
  static constexpr int kFormat = 2;  // 2: placement, abi, entry_reads, placed_return
  std::string policy_name;
  std::string policy_description;
  std::string policy_path;
  std::string min_kernel;
  uint32_t event_max = 0;
  uint64_t ring_buffer_bytes = 0;
  uint32_t probe_count = 0;
  std::vector<TargetManifest> targets;
  std::vector<ProbeManifest> probes;
  std::vector<MetricManifest> metrics;
  std::string handler_script;
  std::vector<SinkManifest> sinks;
  bool watcher = false;  // the object has the process watcher programs (pk_watch_*)

  const ProbeManifest* probe(uint32_t id) const;
  const ProbeManifest* find_probe(const std::string& name) const;
  const TargetManifest* target(const std::string& name) const;
};

std::string manifest_to_json(const Manifest& m);
Result<Manifest> manifest_from_json(const std::string& text);

}  // namespace probe
