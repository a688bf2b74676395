// Attaches each probe's programs where the manifest says. Uprobes and USDT attach once per
// file (inode): the kernel then fires them in every process that maps it, now or later.
// Files are found on the host at start (the loader's search path) and, through discovery,
// in processes that start later or run in containers (attach_file). Detaching is done in
// parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/manifest.h"
#include "compiler/placement/site_plan.h"
#include "runtime/loader/bpf_object.h"

struct bpf_link;

namespace probe {

enum class AttachState { kAttached, kPending, kFailed, kSkipped };
const char* attach_state_name(AttachState s);

struct AttachRecord {
  uint32_t probe_id = 0;
  std::string probe;
  std::string where;  // "/usr/lib/.../libssl.so.3:SSL_write+0x0"
  AttachState state = AttachState::kFailed;
  std::string reason;
};

// The placement optimizer's answer for the planned probes of one target in one file.
struct FilePlans {
  std::unique_ptr<FilePlanner> planner;  // owns the file the plans point into
  std::vector<ProbePlan> plans;
  std::map<std::string, std::string> errors;  // probe → why it could not be planned
};
using PlansByFile = std::map<std::pair<std::string, std::string>, FilePlans>;  // (target, path)

// The files on the host a library or binary target names (readable ones only).
std::vector<std::string> host_files(const TargetManifest& target);

// Plans every planned probe `wanted` keeps, on every host file of its target, one file per
// thread. Reads only the manifest and the files: it can run while the object loads.
PlansByFile plan_host_files(const Manifest& manifest, const std::function<bool(const ProbeManifest&)>& wanted);

class Attacher {
 public:
  // `not_loaded`: optional probes the kernel refused (recorded as skipped). `owned`: the ids
  // of the probes this attacher attaches (a reload's new version of the policy attaches only
  // what changed); all when absent.
  Attacher(const BpfObject& object, const Manifest& manifest, std::set<std::string> not_loaded = {},
           std::optional<std::set<uint32_t>> owned = std::nullopt);
  ~Attacher();
  Attacher(const Attacher&) = delete;
  Attacher& operator=(const Attacher&) = delete;

  // Plans made ahead (plan_host_files, for the same probes this attacher attaches): attach_all
  // uses them instead of planning again.
  void use_plans(PlansByFile plans) { preplanned_ = std::move(plans); }

  // Kernel probes, and user-space probes on the files the host resolves for their targets.
  // Fails on a non-optional probe that cannot attach; a library not on the host is pending
  // until a process maps one.
  Status attach_all();
  // Attaches every probe of `target` to a file a process maps (once per inode). `path` is
  // openable by probed (/proc/PID/root/...); `shown` is how the process names it. Returns
  // whether anything new was attached; failures are recorded, not fatal.
  bool attach_file(const TargetManifest& target, const std::string& path, uint64_t dev, uint64_t inode,
                   const std::string& shown);
  bool has_file(const std::string& target, uint64_t dev, uint64_t inode) const;
  // Attaches a program of the object (not a policy probe, e.g. the watcher) to a tracepoint.
  Status attach_tracepoint(const std::string& program, const std::string& category, const std::string& name);

  const std::vector<AttachRecord>& records() const { return records_; }
  size_t link_count() const { return links_.size(); }
  bool owns(uint32_t probe_id) const { return probe_id < owned_.size() && owned_[probe_id]; }
  bool owns_any() const;
  // Destroys all links concurrently; returns how long it took (ms).
  double detach_all();
  // Destroys the links of these probes (concurrently) and stops attaching them to files found
  // later; their records go too. Returns how long it took (ms).
  double detach_probes(const std::set<uint32_t>& probe_ids);
  // Destroys the object's own links (attach_tracepoint: the watcher), keeping the probes'.
  double detach_own_links() { return detach_probes({kNoProbe}); }

 private:
  // Every probe of `target` on one file: planned probes where the placement optimizer puts
  // them (attacher_placement.cpp), the others as written. Per probe: attached, or why not.
  std::vector<std::pair<std::string, Status>> attach_target_file(const TargetManifest& target, const std::string& path,
                                                                 const std::string& shown);
  Status attach_probe_to_file(const ProbeManifest& p, const std::string& path, const std::string& shown);
  Status attach_planned(const ProbePlan& plan, const ElfFile& elf, const std::string& path, const std::string& shown);
  Result<uint64_t> recipe_cookie(const PlannedSite& site);
  Status attach_uprobe_program(uint32_t probe, const std::string& prog, bool retprobe, const std::string& path,
                              const std::vector<uint64_t>& offsets, const std::vector<uint64_t>& cookies = {});
  Status attach_kernel_probe(const ProbeManifest& p);
  Status keep(uint32_t probe, bpf_link* link, const std::string& what);
  void record(const ProbeManifest& p, std::string where, AttachState state, std::string reason);
  // Not attached here: owned by another version of the policy, or refused by the kernel.
  bool leaves_out(const ProbeManifest& p) const { return !owns(p.id) || not_loaded_.count(p.name) > 0; }

  // A kernel link and the probe it serves (kNoProbe: the object's own, e.g. the watcher).
  static constexpr uint32_t kNoProbe = 0xffffffffu;
  struct Link {
    uint32_t probe = kNoProbe;
    bpf_link* link = nullptr;  // libbpf link, or
    int fd = -1;               // a raw link (uprobe_multi)
  };
  // Releases links concurrently (each uprobe release waits for an RCU grace period).
  static double destroy(std::vector<Link> links);

  const BpfObject& object_;
  const Manifest& manifest_;
  std::set<std::string> not_loaded_;
  std::vector<bool> owned_;  // by probe id
  std::vector<Link> links_;
  std::set<std::tuple<std::string, uint64_t, uint64_t>> files_;  // (target, dev, inode)
  std::vector<AttachRecord> records_;
  std::map<std::string, uint32_t> recipe_slots_;  // pk_site entry bytes → its pk_sites index
  PlansByFile preplanned_;
};

}  // namespace probe
