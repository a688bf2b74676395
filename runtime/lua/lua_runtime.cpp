#include "runtime/lua/lua_runtime.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/files.h"
#include "common/log.h"
#include "runtime/lua/lua_event.h"
#include "runtime/lua/lua_http2.h"
#include "runtime/lua/lua_metrics.h"
#include "runtime/lua/lua_proc.h"
#include "stdlib/stdlib.h"

namespace probe {
namespace {

constexpr int kHookEvery = 1000;  // instructions between budget checks
constexpr long long kErrorReportIntervalMs = 60'000;
constexpr const char* kSelfKey = "probekit.runtime";
constexpr const char* kModulesKey = "probekit.modules";

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Modules written in C++, found by require() before the Lua stdlib and the policy's directory.
struct NativeModule {
  const char* name;
  lua_CFunction open;  // pushes the module table
};
constexpr NativeModule kNativeModules[] = {
    {"probekit.http2", open_lua_http2},
    {"probekit.proc", open_lua_proc},
};

lua_CFunction find_native_module(const std::string& name) {
  for (const auto& m : kNativeModules)
    if (name == m.name) return m.open;
  return nullptr;
}

LuaRuntime* self(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kSelfKey);
  auto* rt = static_cast<LuaRuntime*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return rt;
}

}  // namespace

nlohmann::json lua_to_json(lua_State* L, int index, int depth) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return lua_toboolean(L, index) != 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return static_cast<int64_t>(lua_tointeger(L, index));
      return lua_tonumber(L, index);
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, index, &n);
      return std::string(s, n);
    }
    case LUA_TTABLE: {
      if (depth > 32) return "<too deep>";
      lua_Integer len = static_cast<lua_Integer>(lua_rawlen(L, index));
      size_t keys = 0;
      lua_pushnil(L);
      while (lua_next(L, index)) {
        ++keys;
        lua_pop(L, 1);
      }
      if (len > 0 && static_cast<size_t>(len) == keys) {
        nlohmann::json arr = nlohmann::json::array();
        for (lua_Integer i = 1; i <= len; ++i) {
          lua_rawgeti(L, index, i);
          arr.push_back(lua_to_json(L, -1, depth + 1));
          lua_pop(L, 1);
        }
        return arr;
      }
      nlohmann::json obj = nlohmann::json::object();
      lua_pushnil(L);
      while (lua_next(L, index)) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) key = lua_tostring(L, -2);
        else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        }
        if (!key.empty()) obj[key] = lua_to_json(L, -1, depth + 1);
        lua_pop(L, 1);
      }
      return obj;
    }
    default: return std::string("<") + luaL_typename(L, index) + ">";
  }
}

LuaRuntime::LuaRuntime(const Manifest& manifest, EmitFn emit, Options options)
    : manifest_(manifest), emit_(std::move(emit)), limits_(options.limits), registry_(options.registry),
      clock_(std::move(options.clock)) {
  if (options.stats) stats_ = options.stats;
  if (!clock_) clock_ = [] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  };
}

LuaRuntime::~LuaRuntime() {
  events_.reset();
  if (L_) lua_close(L_);
}

uint64_t parse_interval_ns(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v <= 0) return 0;
  std::string unit(end);
  double scale = unit.empty() || unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : 0;
  return static_cast<uint64_t>(v * scale);
}

// every(interval, fn): calls fn every interval (from now), on the event loop, with the same
// budget and error handling as handlers.
int LuaRuntime::l_every(lua_State* L) {
  std::string text = lua_type(L, 1) == LUA_TNUMBER ? std::to_string(lua_tonumber(L, 1)) : luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  uint64_t ns = parse_interval_ns(text);
  if (ns < 1000000) return luaL_error(L, "every: interval '%s' must be at least 1ms (e.g. \"10s\")", text.c_str());
  LuaRuntime* rt = self(L);
  lua_pushvalue(L, 2);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  rt->timers_.push_back({ns, rt->clock_() + ns, ref});
  return 0;
}

uint64_t LuaRuntime::run_timers() {
  uint64_t now = clock_();
  uint64_t next = 0;
  for (auto& t : timers_) {
    if (t.next_ns <= now) {
      lua_rawgeti(L_, LUA_REGISTRYINDEX, t.ref);
      protected_call(0, "timer");
      // Missed ticks are not replayed: a slow timer runs at most once per interval.
      while (t.next_ns <= now) t.next_ns += t.interval_ns;
    }
    if (next == 0 || t.next_ns < next) next = t.next_ns;
  }
  return next;
}

void* LuaRuntime::allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* rt = static_cast<LuaRuntime*>(ud);
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    rt->memory_ -= old;
    std::free(ptr);
    return nullptr;
  }
  // Refusing an allocation makes Lua raise "not enough memory" in the handler, not crash us.
  if (nsize > old && rt->memory_ + (nsize - old) > rt->limits_.memory_bytes) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p) rt->memory_ = rt->memory_ - old + nsize;
  return p;
}

void LuaRuntime::count_hook(lua_State* L, lua_Debug*) {
  LuaRuntime* rt = self(L);
  rt->instructions_ += kHookEvery;
  if (rt->instructions_ > rt->limits_.instructions_per_call) {
    rt->stats_->budget_exceeded.fetch_add(1, std::memory_order_relaxed);
    luaL_error(L, "instruction budget of %d exceeded", static_cast<int>(rt->limits_.instructions_per_call));
  }
}

int LuaRuntime::l_emit(lua_State* L) {
  const char* sink = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  LuaRuntime* rt = self(L);
  bool ok = rt->emit_(sink, lua_to_json(L, 2));
  lua_pushboolean(L, ok);
  return 1;
}

int LuaRuntime::l_log(lua_State* L) {
  luaL_where(L, 1);
  std::string where = lua_tostring(L, -1);
  log::info("lua: {}{}", where, luaL_tolstring(L, 1, nullptr));
  return 0;
}

// load() for text chunks only: precompiled bytecode can break out of the sandbox.
int LuaRuntime::l_load(lua_State* L) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, 1, &n);
  const char* name = luaL_optstring(L, 2, "=load");
  if (luaL_loadbufferx(L, s, n, name, "t") != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

// require("probekit.http") loads a native module (kNativeModules), else
// lua/probekit/http.lua from the embedded stdlib, else
// <policy dir>/<name>.lua; nothing else on the file system is reachable.
int LuaRuntime::l_require(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
      return luaL_error(L, "require: invalid module name '%s'", name.c_str());
  lua_getfield(L, LUA_REGISTRYINDEX, kModulesKey);
  lua_getfield(L, -1, name.c_str());
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  if (lua_CFunction open = find_native_module(name)) {
    lua_pushcfunction(L, open);
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name.c_str());
    return 1;
  }
  std::string rel = name;
  for (char& c : rel)
    if (c == '.') c = '/';
  std::string code, chunk;
  if (auto embedded = stdlib::find("lua/" + rel + ".lua")) {
    code = std::string(*embedded);
    chunk = "@stdlib/lua/" + rel + ".lua";
  } else {
    LuaRuntime* rt = self(L);
    std::string path = rt->policy_dir_ + "/" + rel + ".lua";
    auto text = read_file(path);
    if (!text)
      return luaL_error(L, "module '%s' not found (looked in the probekit stdlib and %s)",
                        name.c_str(), path.c_str());
    code = std::move(*text);
    chunk = "@" + path;
  }
  if (luaL_loadbufferx(L, code.data(), code.size(), chunk.c_str(), "t") != LUA_OK)
    return lua_error(L);
  lua_pushstring(L, name.c_str());
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name.c_str());
  return 1;
}

void LuaRuntime::install_sandbox() {
  // Only libraries without access to the outside world, plus a trimmed os.
  luaL_requiref(L_, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L_, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L_, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L_, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L_, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L_, LUA_COLIBNAME, luaopen_coroutine, 1);
  lua_settop(L_, 0);
  // Keep os.time/clock/date/difftime; drop execute, exit, remove, rename, getenv, tmpname.
  luaL_requiref(L_, LUA_OSLIBNAME, luaopen_os, 0);
  lua_newtable(L_);
  for (const char* keep : {"time", "clock", "date", "difftime"}) {
    lua_getfield(L_, -2, keep);
    lua_setfield(L_, -2, keep);
  }
  lua_setglobal(L_, "os");
  lua_settop(L_, 0);
  for (const char* banned : {"dofile", "loadfile", "collectgarbage"}) {
    lua_pushnil(L_);
    lua_setglobal(L_, banned);
  }
  lua_pushcfunction(L_, l_load);
  lua_setglobal(L_, "load");
  lua_pushcfunction(L_, l_require);
  lua_setglobal(L_, "require");
  lua_pushcfunction(L_, l_emit);
  lua_setglobal(L_, "emit");
  lua_pushcfunction(L_, l_log);
  lua_setglobal(L_, "log");
  lua_pushcfunction(L_, l_every);
  lua_setglobal(L_, "every");
  if (registry_) install_lua_metrics(L_, registry_);
  events_ = std::make_unique<LuaEvents>(L_, manifest_);
  lua_newtable(L_);
  lua_setfield(L_, LUA_REGISTRYINDEX, kModulesKey);
  lua_pushlightuserdata(L_, this);
  lua_setfield(L_, LUA_REGISTRYINDEX, kSelfKey);
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
}

void LuaRuntime::report_error(const std::string& what, const std::string& message) {
  stats_->errors.fetch_add(1, std::memory_order_relaxed);
  std::string key = what + ": " + message;
  long long now = now_ms();
  auto it = last_reported_.find(key);
  if (it != last_reported_.end() && now - it->second < kErrorReportIntervalMs) return;
  last_reported_[key] = now;
  log::error("handler {} failed: {}", what, message);
}

bool LuaRuntime::protected_call(int nargs, const std::string& what) {
  instructions_ = 0;
  if (lua_pcall(L_, nargs, 0, 0) == LUA_OK) return true;
  std::string msg = lua_isstring(L_, -1) ? lua_tostring(L_, -1) : "(error object is not a string)";
  lua_pop(L_, 1);
  report_error(what, msg);
  return false;
}

Status LuaRuntime::load_script(const std::string& script) {
  PROBE_ASSIGN_OR_RETURN(std::string code, read_file(script));
  policy_dir_ = dirname_of(script);
  std::string chunk = "@" + script;
  if (luaL_loadbufferx(L_, code.data(), code.size(), chunk.c_str(), "t") != LUA_OK) {
    std::string msg = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return make_error("handler script: {}", msg);
  }
  instructions_ = 0;
  if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    std::string msg = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return make_error("handler script failed to run: {}", msg);
  }
  handler_refs_.assign(manifest_.probes.size(), LUA_NOREF);
  for (const auto& p : manifest_.probes) {
    lua_getglobal(L_, p.handler.c_str());
    if (lua_isfunction(L_, -1)) {
      handler_refs_[p.id] = luaL_ref(L_, LUA_REGISTRYINDEX);
    } else {
      lua_pop(L_, 1);
      log::debug("no Lua handler {} for probe {}", p.handler, p.name);
    }
  }
  return {};
}

Result<std::unique_ptr<LuaRuntime>> LuaRuntime::create(const std::string& script,
                                                       const Manifest& manifest, EmitFn emit,
                                                       Options options) {
  auto rt = std::unique_ptr<LuaRuntime>(new LuaRuntime(manifest, std::move(emit), std::move(options)));
  rt->L_ = lua_newstate(&LuaRuntime::allocate, rt.get());
  if (!rt->L_) return make_error("cannot create a Lua state");
  // Handlers make short-lived tables and strings per event: the generational collector
  // reclaims them young instead of sweeping the whole heap (handlers cannot change it:
  // collectgarbage is not in the sandbox).
  lua_gc(rt->L_, LUA_GCGEN, 0, 0);
  rt->install_sandbox();
  PROBE_TRY(rt->load_script(script));
  return rt;
}

bool LuaRuntime::has_handler(uint32_t id) const {
  return id < handler_refs_.size() && handler_refs_[id] != LUA_NOREF;
}

void LuaRuntime::dispatch(const EventView& ev, uint32_t id) {
  if (!has_handler(id)) return;
  stats_->calls.fetch_add(1, std::memory_order_relaxed);
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, handler_refs_[id]);
  events_->push(ev);
  protected_call(1, ev.probe().handler);
  events_->end();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  stats_->nanoseconds.fetch_add(static_cast<uint64_t>((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)),
                                 std::memory_order_relaxed);
}

void LuaRuntime::call_hook(const char* name) {
  lua_getglobal(L_, name);
  if (!lua_isfunction(L_, -1)) {
    lua_pop(L_, 1);
    return;
  }
  protected_call(0, name);
}

}  // namespace probe
