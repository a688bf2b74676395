// The `ev` a handler receives: a small userdata over the decoded record, not a table.
// Fields are decoded when the handler reads them (ev.pid, ev.data, ev.data_len), so fields it
// does not read cost nothing and bytes are copied into Lua only when asked for. An event is
// readable only during its handler; a handler that keeps `ev` and reads it later gets an
// error instead of another event's data.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/artifact/manifest.h"
#include "runtime/events/event_view.h"

struct lua_State;

namespace probe {

class LuaEvents {
 public:
  // Builds the per-probe field tables and the metatable in `L`.
  LuaEvents(lua_State* L, const Manifest& manifest);
  // Pushes a new `ev` for this view. Call end() when the handler returns.
  void push(const EventView& view);
  void end() { ++generation_; }
  // Pushes a table with every field of the event at `index` (for emit(..., event_table(ev))).
  static int l_event_table(lua_State* L);

 private:
  static int l_index(lua_State* L);
  lua_State* L_;
  uint64_t generation_ = 1;
  // One metatable per probe; its __index closes over the probe's { name → code } table, so
  // reading a field is one hash lookup and no registry lookups.
  std::vector<int> metatable_refs_;
};

}  // namespace probe
