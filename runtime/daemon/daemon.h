// probed's lifecycle: check the kernel, get the artifact, load, attach, run the event loop
// until a signal, then detach everything.
#pragma once

#include <string>

#include "runtime/daemon/artifact_source.h"
#include "runtime/lua/lua_runtime.h"

namespace probe {

struct DaemonOptions {
  ArtifactRequest artifact;
  std::string btf_path = "/sys/kernel/btf/vmlinux";
  double duration_s = 0;  // stop after this long; 0 = until SIGINT/SIGTERM
  int stats_interval_s = 10;
  int rescan_interval_s = 10;
  LuaLimits lua;
};

// Exit codes: 0 clean stop, 1 policy/user error, 2 environment (kernel, privileges) or
// internal failure.
int run_daemon(const DaemonOptions& options);

}  // namespace probe
