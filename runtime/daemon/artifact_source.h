// Gets the artifact probed runs: from a .pko file, or by compiling the policy. The front end
// and code generation run here (no LLVM); only a cache miss runs `probec cc` in a child
// process, so Clang and LLVM are never loaded into the daemon.
#pragma once

#include <string>

#include "common/result.h"
#include "compiler/artifact/artifact.h"

namespace probe {

struct ArtifactRequest {
  std::string policy;    // policy file, or
  std::string artifact;  // precompiled .pko
  std::string cache_dir;
  bool use_cache = true;
  std::string probec;    // compiler binary; default: next to probed, then $PATH
};

struct ArtifactOutcome {
  Artifact artifact;
  bool cache_hit = false;
  double ms = 0;
};

// Errors are formatted for the user (policy diagnostics included).
Result<ArtifactOutcome> obtain_artifact(const ArtifactRequest& request);

}  // namespace probe
