// Runs a policy's Lua handlers: on_<probe>(ev) per event, on_start/on_stop, emit() to sinks.
// Sandboxed: no io/os.execute/debug, no bytecode loading, require() only from the embedded
// stdlib and the policy's directory, an instruction budget per call and a memory cap.
// A handler error is logged (file:line, once per distinct error per minute) and counted;
// it never stops the daemon.
#pragma once

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

class LuaRuntime {
 public:
  using EmitFn = std::function<bool(const std::string& sink, const nlohmann::json& record)>;

  static Result<std::unique_ptr<LuaRuntime>> create(const std::string& script, const Manifest& manifest,
                                                    EmitFn emit, LuaLimits limits = {});
  ~LuaRuntime();
  LuaRuntime(const LuaRuntime&) = delete;
  LuaRuntime& operator=(const LuaRuntime&) = delete;

  bool has_handler(uint32_t probe_id) const;
  void dispatch(const EventView& ev);
  void call_hook(const char* name);  // on_start / on_stop, if defined
  const HandlerCounters& counters() const { return counters_; }
  size_t memory_in_use() const { return memory_; }

 private:
  LuaRuntime(const Manifest& manifest, EmitFn emit, LuaLimits limits);
  Status load_script(const std::string& script);
  void install_sandbox();
  bool protected_call(int nargs, const std::string& what);
  void report_error(const std::string& what, const std::string& message);
  void push_event(const EventView& ev);

  static void* allocate(void* ud, void* ptr, size_t osize, size_t nsize);
  static void count_hook(lua_State* L, lua_Debug* ar);
  static int l_emit(lua_State* L);
  static int l_require(lua_State* L);
  static int l_log(lua_State* L);
  static int l_load(lua_State* L);

  lua_State* L_ = nullptr;
  const Manifest& manifest_;
  EmitFn emit_;
  LuaLimits limits_;
  size_t memory_ = 0;
  uint64_t instructions_ = 0;
  std::string policy_dir_;
  std::vector<int> handler_refs_;  // per probe id; LUA_NOREF if none
  HandlerCounters counters_;
  std::map<std::string, long long> last_reported_;  // error text → last log time (ms)
};

// Converts the Lua value at `index` to JSON (tables with keys 1..n become arrays).
nlohmann::json lua_to_json(lua_State* L, int index, int depth = 0);

}  // namespace probe
