// Finds what the policy names in processes that start later, load libraries later
// (dlopen), run in containers (their own copy of a library, reached through
// /proc/PID/root), or exec a replaced binary (a new inode). Driven by the watcher's events
// (exec, executable mmap, exit) and a periodic rescan of /proc as a safety net. Also keeps
// the per-target maps of matching pids (exe, cmdline, container selectors) and cgroups.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/manifest.h"
#include "runtime/attach/attacher.h"
#include "runtime/events/ring_reader.h"
#include "runtime/loader/bpf_object.h"

namespace probe {

// Whether a mapped file (its path inside the process) is what a target names.
bool target_matches_file(const TargetManifest& target, const std::string& path);

class Discovery {
 public:
  Discovery(const Manifest& manifest, const BpfObject& object, Attacher& attacher,
            std::string proc = "/proc");

  // The watcher's ring buffer, if the policy has one (for the event loop's epoll set).
  Status open_watcher();
  int watcher_fd() const;
  // Stops this discovery's watcher (its programs are detached by the attacher's owner); a
  // newer version of the policy watches instead and passes the processes on (followers).
  void close_watcher() { ring_.reset(); }
  // Drains watcher events and handles the processes they name, here and in the followers.
  // Returns how many events.
  int consume();
  // Discoveries of other versions of the policy that a reload kept running: they see the
  // processes this one's watcher and rescans report, and follow nothing themselves.
  void set_followers(std::vector<Discovery*> followers);
  // Whether another discovery passes processes to this one (it then needs no scan of its own).
  bool following() const { return leader_ != nullptr; }

  // Looks at every process (start-up and the periodic safety net), for the followers too.
  void scan_all();
  // Looks at one process (and records who it is), for the followers too.
  void scan_pid(pid_t pid);
  void forget_pid(pid_t pid);

  uint64_t scans() const { return scans_; }
  uint64_t attaches() const { return attaches_; }

 private:
  void on_event(const void* data, size_t size);
  // Attaches to the process's new matching files and updates the selector maps.
  void look_at(pid_t pid);
  void update_selectors(pid_t pid);
  void refresh_cgroups();

  struct TargetState {
    const TargetManifest* target;
    int pid_map_fd = -1;
    int cgroup_map_fd = -1;
    std::unique_ptr<std::regex> cmdline;
  };

  const Manifest& manifest_;
  const BpfObject& object_;
  Attacher& attacher_;
  std::string proc_;
  std::vector<TargetState> targets_;
  std::unique_ptr<RingReader> ring_;
  std::set<pid_t> pending_;
  std::vector<Discovery*> followers_;
  Discovery* leader_ = nullptr;
  std::string host_mnt_ns_;
  uint64_t scans_ = 0;
  uint64_t attaches_ = 0;
};

}  // namespace probe
