// require("probekit.proc"): what /proc says about a process, for records that name who made a
// call.
//   local proc = require("probekit.proc")
//   local p = proc.info(pid)   -- { exe = "/usr/bin/curl", cgroup = "/system.slice/x.service",
//                              --   container = "<64-hex id>" or nil }
// Results are cached per pid for a few seconds (pids are reused, processes exec); a process
// that is gone yields an empty table, never an error.
#pragma once

struct lua_State;

namespace probe {

int open_lua_proc(lua_State* L);

}  // namespace probe
