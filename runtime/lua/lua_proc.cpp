#include "runtime/lua/lua_proc.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>

#include "runtime/events/process_info.h"

namespace probe {
namespace {

void set_field(lua_State* L, const char* name, const std::string& value) {
  if (value.empty()) return;
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, name);
}

int l_info(lua_State* L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_createtable(L, 0, 3);
  if (pid <= 0 || pid > 0x7fffffff) return 1;
  ProcessInfo p = ProcessInfoCache::instance().lookup(static_cast<pid_t>(pid));
  set_field(L, "exe", p.exe);
  set_field(L, "cgroup", p.cgroup);
  set_field(L, "container", p.container);
  return 1;
}

}  // namespace

int open_lua_proc(lua_State* L) {
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_info);
  lua_setfield(L, -2, "info");
  return 1;
}

}  // namespace probe
