// probed's lifecycle: check the kernel, get the artifact, load, attach, run the event loop
// until a signal, then detach everything.
#pragma once

#include <string>
#include <vector>

#include "runtime/daemon/artifact_source.h"
#include "runtime/lua/lua_runtime.h"

namespace probe {

struct DaemonOptions {
  ArtifactRequest artifact;
  std::string btf_path = "/sys/kernel/btf/vmlinux";
  double duration_s = 0;  // stop after this long; 0 = until SIGINT/SIGTERM
  int stats_interval_s = 10;
  int rescan_interval_s = 10;
  // After a wake-up that found events, wait this long before looking again, so a busy ring
  // is drained in batches instead of one wake-up (and one kernel notification) per event.
  int batch_window_ms = 2;
  // --sink ID.KEY=VALUE: settings that replace (or add to) the policy's [sinks.ID] tables; an
  // ID the policy lacks adds a sink of type ID.
  struct SinkOverride {
    std::string id, key, value;
  };
  std::vector<SinkOverride> sink_overrides;
  LuaLimits lua;
};

// Exit codes: 0 clean stop, 1 policy/user error, 2 environment (kernel, privileges) or
// internal failure.
int run_daemon(const DaemonOptions& options);

}  // namespace probe
