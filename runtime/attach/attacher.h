// Attaches each probe's programs where the manifest says: uprobes on the files a target
// resolves to (once per file; the kernel then fires them in every process mapping it).
// Detaching is done in parallel: each uprobe link takes ~100 ms to release in the kernel.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/manifest.h"
#include "runtime/loader/bpf_object.h"

struct bpf_link;

namespace probe {

enum class AttachState { kAttached, kFailed, kSkipped };

struct AttachRecord {
  uint32_t probe_id = 0;
  std::string probe;
  std::string where;  // "/usr/lib/.../libssl.so.3:SSL_write+0x0 (uprobe)"
  AttachState state = AttachState::kFailed;
  std::string reason;
};

class Attacher {
 public:
  explicit Attacher(const BpfObject& object) : object_(object) {}
  ~Attacher();
  Attacher(const Attacher&) = delete;
  Attacher& operator=(const Attacher&) = delete;

  // Attaches every probe. Fails on the first non-optional probe that cannot attach; optional
  // ones are recorded as skipped with the reason.
  // Probes in `not_loaded` (optional probes the kernel refused) are recorded as skipped.
  Status attach_all(const Manifest& manifest, const std::set<std::string>& not_loaded = {});
  const std::vector<AttachRecord>& records() const { return records_; }
  size_t link_count() const { return links_.size() + link_fds_.size(); }
  // Destroys all links concurrently; returns how long it took.
  double detach_all();

 private:
  Status attach_user_probe(const Manifest& m, const ProbeManifest& p);
  Status attach_kernel_probe(const ProbeManifest& p);
  Status attach_usdt(const Manifest& m, const ProbeManifest& p);
  Status keep(bpf_link* link, const std::string& what);
  Status attach_program(const ProbeManifest& p, const std::string& prog, bool retprobe,
                        const std::string& file, uint64_t offset, const std::string& where);

  const BpfObject& object_;
  std::vector<bpf_link*> links_;
  std::vector<int> link_fds_;  // raw links (uprobe_multi)
  std::vector<AttachRecord> records_;
};

}  // namespace probe
