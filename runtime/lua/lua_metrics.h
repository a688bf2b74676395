// `metrics` for handlers, backed by the daemon's registry (so values survive a script reload):
//   local calls = metrics.counter("api_calls_total", "API calls seen")
//   calls:inc{method = "GET", host = h}          calls:add(3, {method = "GET"})
//   local q = metrics.gauge("queue_depth", "...")   q:set(12)   q:add(-1, labels)
//   local lat = metrics.histogram("latency_ms", "...", {1, 5, 10, 50, 100})
//   lat:observe(7.5, {host = h})
#pragma once

struct lua_State;

namespace probe {

class Registry;

// Installs the global `metrics` table; `registry` must outlive the Lua state.
void install_lua_metrics(lua_State* L, Registry* registry);

}  // namespace probe
