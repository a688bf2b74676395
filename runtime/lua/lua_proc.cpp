#include "runtime/lua/lua_proc.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <string>
#include <unordered_map>

namespace probe {
namespace {

constexpr auto kCacheFor = std::chrono::seconds(5);
constexpr size_t kMaxCached = 4096;

struct ProcInfo {
  std::string exe;
  std::string cgroup;
  std::string container;
  std::chrono::steady_clock::time_point read_at;
};

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The unified (v2) cgroup path: the "0::" line of /proc/PID/cgroup.
std::string read_cgroup(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, any;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
    if (any.empty()) {
      auto at = line.find(':', line.find(':') + 1);
      if (at != std::string::npos) any = line.substr(at + 1);
    }
  }
  return any;
}

// Docker, containerd and CRI-O put the 64-hex container id in the cgroup path
// (".../docker-<id>.scope", ".../cri-containerd-<id>.scope", "/docker/<id>").
std::string container_id(const std::string& cgroup) {
  size_t run = 0;
  std::string found;
  for (size_t i = 0; i <= cgroup.size(); ++i) {
    if (i < cgroup.size() && std::isxdigit(static_cast<unsigned char>(cgroup[i])) &&
        !std::isupper(static_cast<unsigned char>(cgroup[i]))) {
      ++run;
      continue;
    }
    if (run == 64) found = cgroup.substr(i - 64, 64);
    run = 0;
  }
  return found;
}

std::unordered_map<int, ProcInfo>& cache() {
  static std::unordered_map<int, ProcInfo> c;
  return c;
}

const ProcInfo& lookup(int pid) {
  auto now = std::chrono::steady_clock::now();
  auto& c = cache();
  auto it = c.find(pid);
  if (it != c.end() && now - it->second.read_at < kCacheFor) return it->second;
  if (c.size() >= kMaxCached) c.clear();
  ProcInfo info;
  std::string base = "/proc/" + std::to_string(pid);
  info.exe = read_link(base + "/exe");
  info.cgroup = read_cgroup(pid);
  info.container = container_id(info.cgroup);
  info.read_at = now;
  return c[pid] = std::move(info);
}

void set_field(lua_State* L, const char* name, const std::string& value) {
  if (value.empty()) return;
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, name);
}

int l_info(lua_State* L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_createtable(L, 0, 3);
  if (pid <= 0 || pid > 0x7fffffff) return 1;
  const ProcInfo& p = lookup(static_cast<int>(pid));
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
