#include "runtime/lua/lua_metrics.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>

#include <string>
#include <vector>

#include "runtime/metrics/registry.h"

namespace probe {
namespace {

constexpr const char* kMeta = "probekit.metric";
constexpr const char* kRegistry = "probekit.registry";

// Methods close over the metric metatable, so checking `self` is a pointer comparison.
MetricFamily* check_metric(lua_State* L) {
  if (!lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    luaL_argerror(L, 1, "a metric (call methods with ':')");
  lua_pop(L, 1);
  return *static_cast<MetricFamily**>(lua_touserdata(L, 1));
}

// A label table { name = value }; values may be strings, numbers or booleans.
Labels read_labels(lua_State* L, int idx) {
  Labels labels;
  if (lua_isnoneornil(L, idx)) return labels;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "label names must be strings");
    std::string name = lua_tostring(L, -2);
    if (!valid_label_name(name)) luaL_error(L, "'%s' is not a valid label name", name.c_str());
    size_t n = 0;
    const char* v = luaL_tolstring(L, -1, &n);  // pushes the text
    labels.emplace_back(name, std::string(v, n));
    lua_pop(L, 2);
  }
  return labels;
}

int l_inc(lua_State* L) {
  MetricFamily* m = check_metric(L);
  m->add(read_labels(L, 2), 1);
  return 0;
}

int l_add(lua_State* L) {
  MetricFamily* m = check_metric(L);
  double v = luaL_checknumber(L, 2);
  if (m->kind() == MetricKind::kCounter && v < 0) return luaL_error(L, "counter %s cannot go down", m->name().c_str());
  m->add(read_labels(L, 3), v);
  return 0;
}

int l_set(lua_State* L) {
  MetricFamily* m = check_metric(L);
  if (m->kind() != MetricKind::kGauge) return luaL_error(L, "%s is not a gauge", m->name().c_str());
  m->set(read_labels(L, 3), luaL_checknumber(L, 2));
  return 0;
}

int l_observe(lua_State* L) {
  MetricFamily* m = check_metric(L);
  if (m->kind() != MetricKind::kHistogram) return luaL_error(L, "%s is not a histogram", m->name().c_str());
  m->observe(read_labels(L, 3), luaL_checknumber(L, 2));
  return 0;
}

int l_get(lua_State* L) {
  MetricFamily* m = check_metric(L);
  lua_pushnumber(L, m->value(read_labels(L, 2)));
  return 1;
}

Registry* registry(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kRegistry);
  auto* r = static_cast<Registry*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return r;
}

int push_metric(lua_State* L, Result<MetricFamily*> m) {
  if (!m) return luaL_error(L, "%s", m.error().message.c_str());
  *static_cast<MetricFamily**>(lua_newuserdatauv(L, sizeof(MetricFamily*), 0)) = *m;
  luaL_setmetatable(L, kMeta);
  return 1;
}

size_t max_series(lua_State* L, int idx) {
  if (!lua_istable(L, idx)) return Registry::kDefaultMaxSeries;
  lua_getfield(L, idx, "max_series");
  lua_Integer n = luaL_optinteger(L, -1, Registry::kDefaultMaxSeries);
  lua_pop(L, 1);
  return n > 0 ? static_cast<size_t>(n) : Registry::kDefaultMaxSeries;
}

int l_counter(lua_State* L) {
  return push_metric(L, registry(L)->counter(luaL_checkstring(L, 1), luaL_optstring(L, 2, ""), max_series(L, 3)));
}

int l_gauge(lua_State* L) {
  return push_metric(L, registry(L)->gauge(luaL_checkstring(L, 1), luaL_optstring(L, 2, ""), max_series(L, 3)));
}

int l_histogram(lua_State* L) {
  luaL_checktype(L, 3, LUA_TTABLE);
  std::vector<double> bounds;
  for (lua_Integer i = 1, n = static_cast<lua_Integer>(lua_rawlen(L, 3)); i <= n; ++i) {
    lua_rawgeti(L, 3, i);
    bounds.push_back(luaL_checknumber(L, -1));
    lua_pop(L, 1);
  }
  return push_metric(L, registry(L)->histogram(luaL_checkstring(L, 1), luaL_optstring(L, 2, ""),
                                               std::move(bounds), max_series(L, 4)));
}

}  // namespace

void install_lua_metrics(lua_State* L, Registry* reg) {
  lua_pushlightuserdata(L, reg);
  lua_setfield(L, LUA_REGISTRYINDEX, kRegistry);
  luaL_newmetatable(L, kMeta);
  lua_newtable(L);
  const luaL_Reg methods[] = {{"inc", l_inc}, {"add", l_add}, {"set", l_set}, {"observe", l_observe}, {"get", l_get}, {nullptr, nullptr}};
  lua_pushvalue(L, -2);  // the metatable, as each method's upvalue
  luaL_setfuncs(L, methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  const luaL_Reg fns[] = {{"counter", l_counter}, {"gauge", l_gauge}, {"histogram", l_histogram}, {nullptr, nullptr}};
  luaL_setfuncs(L, fns, 0);
  lua_setglobal(L, "metrics");
}

}  // namespace probe
