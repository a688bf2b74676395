// require("probekit.proc"): what /proc says about a process, for records that name who made a
// call.
//   local proc = require("probekit.proc")
//   local p = proc.info(pid)   -- { exe = "/usr/bin/curl", cgroup = "/system.slice/x.service",
//                              --   container = "<64-hex id>" or nil }
// Answers come from ProcessInfoCache (runtime/events/process_info.h): read when the process
// exec'd or mapped a file, so a client that exited before its event was handled is still
// named; a process never seen that is gone yields an empty table, never an error.
#pragma once

struct lua_State;

namespace probe {

int open_lua_proc(lua_State* L);

}  // namespace probe
