#include "runtime/lua/lua_event.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>

#include <cstring>

namespace probe {
namespace {

constexpr const char* kMeta = "probekit.event";

// Field codes: >= 0 index into the probe's fields; header fields are negative.
enum : int {
  kPid = -1,
  kTid = -2,
  kTs = -3,
  kCgroup = -4,
  kProbe = -5,
  kLenBase = -1000,  // kLenBase - i: original length of bytes field i (`<name>_len`)
};

struct EventRef {
  const EventView* view;
  uint64_t generation;
  const uint64_t* current;  // the runtime's generation counter
};

const EventView& check_event(lua_State* L, int idx) {
  if (!lua_isuserdata(L, idx) || !lua_getmetatable(L, idx)) luaL_argerror(L, idx, "an event");
  lua_getfield(L, -1, "__name");
  bool is_event = lua_isstring(L, -1) && std::strcmp(lua_tostring(L, -1), kMeta) == 0;
  lua_pop(L, 2);
  if (!is_event) luaL_argerror(L, idx, "an event");
  auto* ref = static_cast<EventRef*>(lua_touserdata(L, idx));
  if (ref->generation != *ref->current)
    luaL_error(L, "an event is readable only inside its handler; copy the fields you keep");
  return *ref->view;
}

void push_field(lua_State* L, const EventView& ev, const FieldLayout& f) {
  if (plan::is_variable(f.type) || f.type == plan::FieldType::kString) {
    auto b = ev.bytes(f);
    if (b) lua_pushlstring(L, b->data.data(), b->data.size());
    else lua_pushnil(L);
    return;
  }
  auto v = ev.integer(f);
  if (!v) lua_pushnil(L);
  else if (f.type == plan::FieldType::kBool) lua_pushboolean(L, *v != 0);
  else lua_pushinteger(L, static_cast<lua_Integer>(*v));
}

void push_code(lua_State* L, const EventView& ev, int code) {
  const auto& fields = ev.probe().fields;
  switch (code) {
    case kPid: lua_pushinteger(L, ev.pid()); return;
    case kTid: lua_pushinteger(L, ev.tid()); return;
    case kTs: lua_pushinteger(L, static_cast<lua_Integer>(ev.ts_ns())); return;
    case kCgroup: lua_pushinteger(L, static_cast<lua_Integer>(ev.cgroup_id())); return;
    case kProbe: lua_pushstring(L, ev.probe().name.c_str()); return;
  }
  if (code <= kLenBase) {
    size_t i = static_cast<size_t>(kLenBase - code);
    auto b = i < fields.size() ? ev.bytes(fields[i]) : std::nullopt;
    if (b) lua_pushinteger(L, b->original);
    else lua_pushnil(L);
    return;
  }
  push_field(L, ev, fields[static_cast<size_t>(code)]);
}

}  // namespace

LuaEvents::LuaEvents(lua_State* L, const Manifest& manifest) : L_(L) {
  for (const auto& p : manifest.probes) {
    lua_createtable(L, 0, 4);  // the probe's metatable
    lua_createtable(L, 0, static_cast<int>(p.fields.size() + 5));  // interned name → code
    auto set = [&](const std::string& name, int code) {
      lua_pushinteger(L, code);
      lua_setfield(L, -2, name.c_str());
    };
    set("pid", kPid);
    set("tid", kTid);
    set("ts", kTs);
    set("cgroup", kCgroup);
    set("probe", kProbe);
    for (size_t i = 0; i < p.fields.size(); ++i) {
      set(p.fields[i].name, static_cast<int>(i));
      if (p.fields[i].type == plan::FieldType::kBytes) set(p.fields[i].name + "_len", kLenBase - static_cast<int>(i));
    }
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, kMeta);
    lua_setfield(L, -2, "__name");
    if (metatable_refs_.size() <= p.id) metatable_refs_.resize(p.id + 1, LUA_NOREF);
    metatable_refs_[p.id] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushcfunction(L, l_event_table);
  lua_setglobal(L, "event_table");
}

void LuaEvents::push(const EventView& view) {
  auto* ref = static_cast<EventRef*>(lua_newuserdatauv(L_, sizeof(EventRef), 0));
  ref->view = &view;
  ref->generation = generation_;
  ref->current = &generation_;
  lua_rawgeti(L_, LUA_REGISTRYINDEX, metatable_refs_[view.probe().id]);
  lua_setmetatable(L_, -2);
}

int LuaEvents::l_index(lua_State* L) {
  auto* ref = static_cast<EventRef*>(lua_touserdata(L, 1));
  if (ref->generation != *ref->current)
    return luaL_error(L, "an event is readable only inside its handler; copy the fields you keep");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNUMBER) {
    lua_pushnil(L);  // not a field of this probe
    return 1;
  }
  push_code(L, *ref->view, static_cast<int>(lua_tointeger(L, -1)));
  return 1;
}

int LuaEvents::l_event_table(lua_State* L) {
  const EventView& ev = check_event(L, 1);
  const auto& fields = ev.probe().fields;
  lua_createtable(L, 0, static_cast<int>(fields.size() + 5));
  for (int code : {kProbe, kPid, kTid, kTs, kCgroup}) {
    push_code(L, ev, code);
    static const char* names[] = {"pid", "tid", "ts", "cgroup", "probe"};
    lua_setfield(L, -2, names[-code - 1]);
  }
  for (const auto& f : fields) {
    push_field(L, ev, f);
    lua_setfield(L, -2, f.name.c_str());
  }
  return 1;
}

}  // namespace probe
