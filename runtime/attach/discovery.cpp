#include "runtime/attach/discovery.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "runtime/events/process_info.h"
#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/attach/proc_maps.h"
#include "stdlib/bpf/event.h"

namespace probe {
namespace {

std::string read_cmdline(const std::string& path) {
  auto text = read_file(path);
  if (!text) return {};
  std::string s = *text;
  for (char& c : s)
    if (c == '\0') c = ' ';
  return std::string(trim(s));
}

// The cgroup v2 hierarchy: its mount point, where cgroup ids are directory inodes.
std::string cgroup2_root() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (in >> dev >> dir >> type && std::getline(in, rest))
    if (type == "cgroup2") return dir;
  return "/sys/fs/cgroup";
}

void add_cgroup_tree(const std::string& dir, int map_fd, int depth) {
  struct stat st;
  if (depth > 32 || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  uint64_t id = st.st_ino;
  uint8_t one = 1;
  bpf_map_update_elem(map_fd, &id, &one, BPF_ANY);
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      add_cgroup_tree(dir + "/" + e->d_name, map_fd, depth + 1);
  }
  closedir(d);
}

}  // namespace

bool target_matches_file(const TargetManifest& target, const std::string& path) {
  if (target.kind == plan::Target::Kind::kBinary) return path == target.spec;
  if (target.kind != plan::Target::Kind::kLibrary) return false;
  const std::string& spec = target.spec;
  if (spec.find('/') != std::string::npos)
    return has_glob_chars(spec) ? glob_match(spec, path) : path == spec;
  std::string base = basename_of(path);
  if (has_glob_chars(spec)) return glob_match(spec, base);
  if (spec.find(".so") == std::string::npos) return glob_match(spec + ".so*", base);
  return base == spec;
}

Discovery::Discovery(const Manifest& manifest, const BpfObject& object, Attacher& attacher, std::string proc)
    : manifest_(manifest), object_(object), attacher_(attacher), proc_(std::move(proc)) {
  host_mnt_ns_ = read_link(proc_ + "/1/ns/mnt");
  for (const auto& t : manifest_.targets) {
    TargetState s;
    s.target = &t;
    if (!t.pid_map.empty())
      if (bpf_map* m = object_.map(t.pid_map)) s.pid_map_fd = bpf_map__fd(m);
    if (!t.cgroup_map.empty())
      if (bpf_map* m = object_.map(t.cgroup_map)) s.cgroup_map_fd = bpf_map__fd(m);
    if (!t.process.cmdline.empty()) s.cmdline = std::make_unique<std::regex>(t.process.cmdline, std::regex::extended);
    targets_.push_back(std::move(s));
  }
}

Status Discovery::open_watcher() {
  if (!manifest_.watcher) return {};
  bpf_map* m = object_.map("pk_watch");
  if (!m) return make_error("the watcher's ring buffer is missing from the object");
  PROBE_TRY(attacher_.attach_tracepoint("pk_watch_exec", "sched", "sched_process_exec"));
  PROBE_TRY(attacher_.attach_tracepoint("pk_watch_mmap_enter", "syscalls", "sys_enter_mmap"));
  PROBE_TRY(attacher_.attach_tracepoint("pk_watch_mmap_exit", "syscalls", "sys_exit_mmap"));
  PROBE_TRY(attacher_.attach_tracepoint("pk_watch_exit", "sched", "sched_process_exit"));
  PROBE_ASSIGN_OR_RETURN(ring_, RingReader::open(bpf_map__fd(m), [this](const void* d, size_t n) { on_event(d, n); }));
  return {};
}

int Discovery::watcher_fd() const { return ring_ ? ring_->epoll_fd() : -1; }

void Discovery::on_event(const void* data, size_t size) {
  if (size < sizeof(pk_watch_event)) return;
  pk_watch_event ev;
  std::memcpy(&ev, data, sizeof ev);
  if (ev.kind == PK_WATCH_EXIT) {
    pending_.erase(static_cast<pid_t>(ev.pid));
    forget_pid(static_cast<pid_t>(ev.pid));
    for (Discovery* f : followers_) f->forget_pid(static_cast<pid_t>(ev.pid));
    ProcessInfoCache::instance().exited(static_cast<pid_t>(ev.pid));
  } else {
    pending_.insert(static_cast<pid_t>(ev.pid));  // one scan per process per batch of events
  }
}

int Discovery::consume() {
  if (!ring_) return 0;
  int n = ring_->consume();
  std::set<pid_t> todo;
  todo.swap(pending_);
  for (pid_t pid : todo) scan_pid(pid);
  return n;
}

void Discovery::set_followers(std::vector<Discovery*> followers) {
  leader_ = nullptr;
  followers_ = std::move(followers);
  for (Discovery* f : followers_) {
    f->followers_.clear();
    f->leader_ = this;
  }
}

void Discovery::scan_pid(pid_t pid) {
  // Who the process is, while it is there to ask (its events may be handled after it exits).
  if (proc_ == "/proc") ProcessInfoCache::instance().remember(pid);
  look_at(pid);
  for (Discovery* f : followers_) f->look_at(pid);
}

void Discovery::look_at(pid_t pid) {
  ++scans_;
  update_selectors(pid);
  bool any_files = false;
  for (const auto& s : targets_) any_files |= s.target->kind != plan::Target::Kind::kProcess;
  if (!any_files) return;
  for (const auto& f : executable_mappings(pid, proc_)) {
    for (const auto& s : targets_) {
      const TargetManifest& t = *s.target;
      if (t.kind == plan::Target::Kind::kProcess || attacher_.has_file(t.name, f.dev, f.inode)) continue;
      if (!target_matches_file(t, f.path)) continue;
      std::string shown = fmt::format("{} (pid {})", f.path, pid);
      if (attacher_.attach_file(t, f.host_path, f.dev, f.inode, shown)) ++attaches_;
    }
  }
}

void Discovery::update_selectors(pid_t pid) {
  std::string base = proc_ + "/" + std::to_string(pid);
  for (const auto& s : targets_) {
    if (s.pid_map_fd < 0) continue;
    const plan::ProcessSelector& sel = s.target->process;
    bool match = true;
    if (!sel.exe.empty()) {
      std::string exe = read_link(base + "/exe");
      const std::string deleted = " (deleted)";
      if (ends_with(exe, deleted)) exe.resize(exe.size() - deleted.size());
      match &= std::find(sel.exe.begin(), sel.exe.end(), exe) != sel.exe.end();
    }
    if (match && s.cmdline) match &= std::regex_search(read_cmdline(base + "/cmdline"), *s.cmdline);
    if (match && !sel.container.empty() && sel.container != "any") {
      std::string ns = read_link(base + "/ns/mnt");
      if (ns.empty()) match = false;
      else match &= (sel.container == "host") == (ns == host_mnt_ns_);
    }
    uint32_t key = static_cast<uint32_t>(pid);
    if (match) {
      uint8_t one = 1;
      bpf_map_update_elem(s.pid_map_fd, &key, &one, BPF_ANY);
    } else {
      bpf_map_delete_elem(s.pid_map_fd, &key);
    }
  }
}

void Discovery::forget_pid(pid_t pid) {
  uint32_t key = static_cast<uint32_t>(pid);
  for (const auto& s : targets_)
    if (s.pid_map_fd >= 0) bpf_map_delete_elem(s.pid_map_fd, &key);
}

void Discovery::refresh_cgroups() {
  std::string root = cgroup2_root();
  for (const auto& s : targets_) {
    if (s.cgroup_map_fd < 0) continue;
    // A selector path covers the cgroup and everything below it, as of this scan.
    for (const auto& c : s.target->process.cgroup) {
      std::string rel = c.empty() || c[0] == '/' ? c : "/" + c;
      add_cgroup_tree(root + rel, s.cgroup_map_fd, 0);
    }
  }
}

void Discovery::scan_all() {
  refresh_cgroups();
  for (Discovery* f : followers_) f->refresh_cgroups();
  for (pid_t pid : all_pids(proc_)) scan_pid(pid);
}

}  // namespace probe
