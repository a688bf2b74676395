// What /proc says about a process (executable, cgroup, container), read while it lives: the
// watcher's exec and mmap events record it at once, so an event handled after a short-lived
// client exited (curl is often gone before its last event is handled) still names it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace probe {

struct ProcessInfo {
  std::string exe;
  std::string cgroup;     // the unified (v2) cgroup path
  std::string container;  // 64-hex container id from the cgroup path, if any
};

class ProcessInfoCache {
 public:
  using Clock = std::chrono::steady_clock;
  // The cache probed's parts share (the watcher writes, Lua handlers read).
  static ProcessInfoCache& instance();
  explicit ProcessInfoCache(std::string proc = "/proc") : proc_(std::move(proc)) {}

  // Reads the process now (exec, a new mapping, a rescan).
  void remember(pid_t pid);
  // The process as last read: re-read when older than a few seconds and the process lives;
  // empty for a process never seen that is gone.
  ProcessInfo lookup(pid_t pid);
  // The process exited: keep what we know for a while, for events still in flight.
  void exited(pid_t pid);

 private:
  struct Entry {
    ProcessInfo info;
    Clock::time_point read_at;
    bool gone = false;
    Clock::time_point gone_at;
  };
  bool read(pid_t pid, ProcessInfo* out) const;
  void expire(Clock::time_point now);

  std::string proc_;
  std::mutex mu_;
  std::unordered_map<pid_t, Entry> entries_;
  Clock::time_point last_expiry_;
};

// The container id in a cgroup path (Docker, containerd and CRI-O spell it as 64 hex digits).
std::string container_id_from_cgroup(const std::string& cgroup);

}  // namespace probe
