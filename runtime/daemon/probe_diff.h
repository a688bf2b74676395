// What a reloaded policy changes: which running probes it keeps attached (same name, same
// fingerprint), which it detaches and which it attaches anew.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "compiler/artifact/manifest.h"

namespace probe {

// A running probe: the version of the policy (generation) that attached it, and its entry in
// that version's manifest.
struct ProbeRef {
  size_t generation = 0;
  const ProbeManifest* probe = nullptr;
};

struct ProbeDiff {
  std::vector<std::optional<ProbeRef>> keep;  // by the next manifest's probe id
  std::vector<ProbeRef> detach;               // running probes the next version replaces or drops
  std::vector<std::string> unchanged, changed, added, removed;
  std::string summary() const;  // "2 unchanged, 1 changed (read), 1 added (close), 0 removed"
};

// Probes the placement optimizer plans together on one target are kept or replaced together:
// a plan may cover one probe's calls with another's sites.
ProbeDiff diff_probes(const std::vector<ProbeRef>& running, const Manifest& next);

}  // namespace probe
