// probed running an inline policy (written with its Lua handler to a temporary directory), as
// the sink end-to-end tests drive it: ready when it says so, stopped with SIGTERM, and its
// final report (handler calls, per-sink sent/dropped/failed) read back from its log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe::test {

struct SinkTotals {
  uint64_t sent = 0, dropped = 0, failed = 0;
  uint64_t all() const { return sent + dropped + failed; }
};

class ProbedRun {
 public:
  // `args` go to `probed run` after the policy (e.g. {"--sink", "jsonl.path=FILE"}).
  ProbedRun(const std::string& policy_toml, const std::string& handler_lua = "",
            std::map<std::string, std::string> env = {}, const std::vector<std::string>& args = {});
  // Empty when probed is ready; otherwise what went wrong (with its log).
  const std::string& error() const { return error_; }
  Process& process() { return *probed_; }
  pid_t pid() const { return probed_->pid(); }
  bool running();
  // The port of a prometheus sink, from probed's "serving metrics on ..." line (0 if none).
  int metrics_port();
  // Resident memory of probed (VmRSS), in bytes.
  uint64_t rss_bytes() const;
  // SIGTERM and wait; the exit code, or nullopt if it did not stop in time.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // From the report probed logs when it stops.
  std::optional<SinkTotals> final_totals(const std::string& sink);
  std::optional<uint64_t> final_handler_calls();
  std::optional<uint64_t> final_handler_errors();
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> probed_;
  std::string error_;
};

// The probe the sink tests fire: a tracepoint on getppid(), filtered to this test process, so
// fire_markers(n) makes exactly n events whose handler is on_marker(ev).
std::string marker_probe_toml();
void fire_markers(int n);

}  // namespace probe::test
