// probed's running state, shared by daemon.cpp (start, event loop, stop) and
// daemon_reload.cpp (SIGHUP). Not part of the runtime's interface.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/daemon/daemon.h"
#include "runtime/daemon/generation.h"
#include "runtime/lua/lua_runtime.h"
#include "runtime/metrics/registry.h"
#include "runtime/sinks/sink.h"

namespace probe {

struct ProbeDiff;

constexpr int kExitUser = 1;
constexpr int kExitEnv = 2;

inline double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : opts_(o) {}
  int run();

 private:
  // Where a probe of the current policy runs: a generation and its id there.
  struct Owner {
    Generation* generation = nullptr;
    uint32_t id = 0;
  };

  // daemon.cpp
  int setup();
  int loop();
  void stop();
  int open_sinks(const Manifest& m);
  Status build_sinks(const std::vector<SinkManifest>& declared, const std::string& policy,
                     std::map<std::string, std::unique_ptr<Sink>>* out);
  void close_sinks();
  void register_collectors();
  void report_stats(bool final);
  void watch(int fd, std::function<void()> action);
  void unwatch(int fd);
  void watch_generation(Generation& g);
  void unwatch_generation(Generation& g);
  void consume_ring(Generation& g);
  void arm_lua_timer();
  bool emit(const std::string& sink, const nlohmann::json& record);
  Pipeline::DefaultOutput default_output();
  // Exporters' view of the current policy's probes; the caller holds generations_mutex_.
  std::vector<ProbeSample> probe_samples() const;
  Generation& current() { return *generations_.back(); }

  // daemon_reload.cpp
  Result<std::unique_ptr<LuaRuntime>> make_handlers(const Manifest& m, std::string* digest);
  void connect_handlers();
  void reload();
  void reload_handlers();
  // `compiled`: how the artifact was obtained; `start`: when the SIGHUP was taken.
  void reload_policy(Artifact artifact, const std::string& compiled, std::chrono::steady_clock::time_point start);
  void retire_idle_generations();
  std::vector<Owner> owners_after(const ProbeDiff& diff, Generation* next) const;
  double detach_replaced(const ProbeDiff& diff);
  void arrange_watchers();
  void reload_sinks(const Manifest& m);

  const DaemonOptions& opts_;
  // Declared before the sinks: exporters read the registry until the sinks are destroyed.
  Registry registry_;
  HandlerStats handler_stats_;  // across handler reloads; read by exporters' threads
  // Changed only on the loop thread; exporters' threads read it under sinks_mutex_.
  std::mutex sinks_mutex_;
  std::map<std::string, std::unique_ptr<Sink>> sinks_;
  std::vector<SinkManifest> sink_settings_;  // as opened, to tell a reload that changes them
  std::unique_ptr<LuaRuntime> lua_;
  std::string handlers_digest_;  // of the script the running handlers came from
  // Exporters (a /metrics scrape, OTLP) read generations from their own threads; the loop
  // holds this while it attaches, detaches or swaps them.
  mutable std::mutex generations_mutex_;
  std::vector<std::unique_ptr<Generation>> generations_;  // oldest first; back(): the policy as last loaded
  std::vector<Owner> owners_;                             // by the current policy's probe id
  // Records, malformed records and events of replaced probes, summed over generations.
  struct PipelineTotals {
    uint64_t records = 0, malformed = 0, retired = 0;
    void add(const PipelineCounters& c) {
      records += c.records.load();
      malformed += c.malformed.load();
      retired += c.retired.load();
    }
  };
  PipelineTotals retired_generations_;  // what generations counted before they were retired
  // Over every generation ever loaded (so totals never go down); the caller holds
  // generations_mutex_.
  PipelineTotals pipeline_totals() const;
  uint32_t next_generation_ = 1;
  int epoll_ = -1;
  int lua_timer_ = -1;
  std::map<int, std::function<void()>> actions_;  // epoll fd → what to do when it is ready
  uint64_t unknown_sink_ = 0;
  std::vector<ProbeCounters> last_counters_;
};

}  // namespace probe
