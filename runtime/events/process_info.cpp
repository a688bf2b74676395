#include "runtime/events/process_info.h"

#include "common/files.h"

#include <unistd.h>

#include <cctype>
#include <fstream>

namespace probe {
namespace {

constexpr auto kFreshFor = std::chrono::seconds(5);
constexpr auto kKeepAfterExit = std::chrono::seconds(60);
constexpr size_t kMaxEntries = 65536;

// The "0::" line of /proc/PID/cgroup (cgroup v2), else the first hierarchy's path.
std::string read_cgroup(const std::string& path) {
  std::ifstream in(path);
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

}  // namespace

std::string container_id_from_cgroup(const std::string& cgroup) {
  size_t run = 0;
  std::string found;
  for (size_t i = 0; i <= cgroup.size(); ++i) {
    char c = i < cgroup.size() ? cgroup[i] : '/';
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      ++run;
      continue;
    }
    if (run == 64) found = cgroup.substr(i - 64, 64);
    run = 0;
  }
  return found;
}

ProcessInfoCache& ProcessInfoCache::instance() {
  static ProcessInfoCache cache;
  return cache;
}

bool ProcessInfoCache::read(pid_t pid, ProcessInfo* out) const {
  std::string base = proc_ + "/" + std::to_string(pid);
  out->exe = read_link(base + "/exe");
  if (out->exe.empty()) return false;  // gone (or a kernel thread)
  out->cgroup = read_cgroup(base + "/cgroup");
  out->container = container_id_from_cgroup(out->cgroup);
  return true;
}

void ProcessInfoCache::expire(Clock::time_point now) {
  if (now - last_expiry_ < kFreshFor && entries_.size() < kMaxEntries) return;
  last_expiry_ = now;
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool stale = it->second.gone ? now - it->second.gone_at > kKeepAfterExit
                                 : entries_.size() >= kMaxEntries && now - it->second.read_at > kFreshFor;
    it = stale ? entries_.erase(it) : std::next(it);
  }
}

void ProcessInfoCache::remember(pid_t pid) {
  ProcessInfo info;
  if (!read(pid, &info)) return;
  auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  expire(now);
  entries_[pid] = Entry{std::move(info), now};
}

ProcessInfo ProcessInfoCache::lookup(pid_t pid) {
  auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(pid);
  if (it != entries_.end() && (it->second.gone || now - it->second.read_at < kFreshFor)) return it->second.info;
  ProcessInfo info;
  if (!read(pid, &info)) return it != entries_.end() ? it->second.info : ProcessInfo{};
  expire(now);
  entries_[pid] = Entry{info, now};
  return info;
}

void ProcessInfoCache::exited(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(pid);
  if (it == entries_.end()) return;
  it->second.gone = true;
  it->second.gone_at = Clock::now();
}

}  // namespace probe
