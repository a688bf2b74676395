// Runs a policy's Lua handlers: on_<probe>(ev) per event, on_start/on_stop, timers
// (every("10s", fn)), metrics (lua_metrics.h) and emit() to sinks.
// Sandboxed: no io/os.execute/debug, no bytecode loading, require() only from the embedded
// stdlib and the policy's directory, an instruction budget per call and a memory cap.
// A handler error is logged (file:line, once per distinct error per minute) and counted;
// it never stops the daemon.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "compiler/artifact/manifest.h"
#include "runtime/events/event_view.h"

struct lua_State;
struct lua_Debug;

namespace probe {

struct LuaLimits {
  uint64_t instructions_per_call = 10'000'000;
  size_t memory_bytes = 256u << 20;
};

struct HandlerCounters {
  uint64_t calls = 0;
  uint64_t errors = 0;  // budget_exceeded included
  uint64_t budget_exceeded = 0;
  uint64_t nanoseconds = 0;  // time in handlers
};

// Where a runtime counts: atomics, because exporters (/metrics, OTLP) read them from their own
// threads; owned by the daemon so totals survive a handler reload.
struct HandlerStats {
  std::atomic<uint64_t> calls{0}, errors{0}, budget_exceeded{0}, nanoseconds{0};
  HandlerCounters snapshot() const {
    return {calls.load(std::memory_order_relaxed), errors.load(std::memory_order_relaxed),
            budget_exceeded.load(std::memory_order_relaxed), nanoseconds.load(std::memory_order_relaxed)};
  }
};

class Registry;
class LuaEvents;

class LuaRuntime {
 public:
  using EmitFn = std::function<bool(const std::string& sink, const nlohmann::json& record)>;
  using ClockFn = std::function<uint64_t()>;  // monotonic nanoseconds

  struct Options {
    LuaLimits limits;
    Registry* registry = nullptr;  // for `metrics`; without it `metrics` is not available
    ClockFn clock;                 // default: CLOCK_MONOTONIC (tests inject their own)
    HandlerStats* stats = nullptr;  // where to count; default: the runtime's own
  };

  static Result<std::unique_ptr<LuaRuntime>> create(const std::string& script, const Manifest& manifest,
                                                    EmitFn emit, Options options);
  static Result<std::unique_ptr<LuaRuntime>> create(const std::string& script, const Manifest& manifest,
                                                    EmitFn emit, LuaLimits limits = {}) {
    Options o;
    o.limits = limits;
    return create(script, manifest, std::move(emit), std::move(o));
  }
  ~LuaRuntime();
  LuaRuntime(const LuaRuntime&) = delete;
  LuaRuntime& operator=(const LuaRuntime&) = delete;

  bool has_handler(uint32_t probe_id) const;
  void dispatch(const EventView& ev) { dispatch(ev, ev.probe().id); }
  // `probe_id` names the handler in this runtime's manifest: an event decoded with an earlier
  // version of the policy (a probe a reload kept attached) carries that version's id.
  void dispatch(const EventView& ev, uint32_t probe_id);
  void call_hook(const char* name);  // on_start / on_stop, if defined
  // Runs the timers due at the clock's now; returns when the next one is due (0 if none).
  uint64_t run_timers();
  size_t timer_count() const { return timers_.size(); }
  HandlerCounters counters() const { return stats_->snapshot(); }
  size_t memory_in_use() const { return memory_; }

 private:
  LuaRuntime(const Manifest& manifest, EmitFn emit, Options options);
  Status load_script(const std::string& script);
  void install_sandbox();
  bool protected_call(int nargs, const std::string& what);
  void report_error(const std::string& what, const std::string& message);

  static void* allocate(void* ud, void* ptr, size_t osize, size_t nsize);
  static void count_hook(lua_State* L, lua_Debug* ar);
  static int l_emit(lua_State* L);
  static int l_require(lua_State* L);
  static int l_log(lua_State* L);
  static int l_load(lua_State* L);
  static int l_every(lua_State* L);

  struct Timer {
    uint64_t interval_ns;
    uint64_t next_ns;
    int ref;
  };

  lua_State* L_ = nullptr;
  const Manifest& manifest_;
  EmitFn emit_;
  LuaLimits limits_;
  Registry* registry_;
  ClockFn clock_;
  std::unique_ptr<LuaEvents> events_;
  std::vector<Timer> timers_;
  size_t memory_ = 0;
  uint64_t instructions_ = 0;
  std::string policy_dir_;
  std::vector<int> handler_refs_;  // per probe id; LUA_NOREF if none
  HandlerStats own_stats_;
  HandlerStats* stats_ = &own_stats_;
  std::map<std::string, long long> last_reported_;  // error text → last log time (ms)
};

// Converts the Lua value at `index` to JSON (tables with keys 1..n become arrays).
nlohmann::json lua_to_json(lua_State* L, int index, int depth = 0);

// "10s", "250ms", "2m", "1h" or a number of seconds → nanoseconds; 0 if invalid.
uint64_t parse_interval_ns(const std::string& text);

}  // namespace probe
