#include "runtime/daemon/daemon.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "common/files.h"
#include "common/log.h"
#include "common/sha256.h"
#include "runtime/attach/attacher.h"
#include "runtime/attach/discovery.h"
#include "runtime/events/event_json.h"
#include "runtime/events/pipeline.h"
#include "runtime/events/event_view.h"
#include "runtime/events/ring_reader.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/loader/kernel_check.h"
#include "runtime/metrics/bpf_collector.h"
#include "runtime/metrics/registry.h"
#include "runtime/metrics/self_metrics.h"
#include "runtime/sinks/env_subst.h"
#include "runtime/sinks/sink.h"

namespace probe {
namespace {

constexpr int kExitUser = 1;
constexpr int kExitEnv = 2;

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : opts_(o) {}
  int run();

 private:
  int setup();
  int loop();
  Status load_handlers();
  void reload();
  void arm_lua_timer(int fd);
  bool emit(const std::string& sink, const nlohmann::json& record);
  void report_stats(bool final);

  const DaemonOptions& opts_;
  Artifact artifact_;
  // Declared before the sinks: exporters read the registry until the sinks are destroyed.
  Registry registry_;
  HandlerStats handler_stats_;  // across handler reloads; read by exporters' threads
  std::map<std::string, std::unique_ptr<Sink>> sinks_;
  std::unique_ptr<LuaRuntime> lua_;
  std::unique_ptr<BpfObject> object_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<Discovery> discovery_;
  std::unique_ptr<RingReader> ring_;
  std::unique_ptr<PipelineCounters> counters_;
  std::unique_ptr<Pipeline> pipeline_;
  uint64_t unknown_sink_ = 0;
  std::string handlers_digest_;  // of the script the running handlers came from
  std::vector<ProbeCounters> last_counters_;
};

bool Daemon::emit(const std::string& sink, const nlohmann::json& record) {
  auto it = sinks_.find(sink);
  if (it == sinks_.end()) {
    if (unknown_sink_++ == 0) log::warn("handler emitted to unknown sink '{}'", sink);
    return false;
  }
  it->second->emit(record);
  return true;
}

// The policy's Lua handlers. Metrics they made live in the registry, so a reload keeps them.
Status Daemon::load_handlers() {
  const Manifest& m = artifact_.manifest;
  if (m.handler_script.empty()) return {};
  auto text = read_file(m.handler_script);
  handlers_digest_ = text ? sha256_hex(*text) : "";
  LuaRuntime::Options o;
  o.limits = opts_.lua;
  o.registry = &registry_;
  o.stats = &handler_stats_;
  PROBE_ASSIGN_OR_RETURN(
      auto lua,
      LuaRuntime::create(m.handler_script, m, [this](const std::string& s, const nlohmann::json& r) { return emit(s, r); },
                         std::move(o)));
  lua_ = std::move(lua);
  if (pipeline_) pipeline_->set_handlers(lua_.get());
  return {};
}

// SIGHUP: reopen sinks (log rotation) and, if the handler script changed, reload it. An
// unchanged script keeps its state (a logrotate SIGHUP must not reset what handlers hold); a
// script that no longer loads is reported and the running one is kept.
void Daemon::reload() {
  for (auto& [id, s] : sinks_) s->reopen();
  if (artifact_.manifest.handler_script.empty()) return;
  auto text = read_file(artifact_.manifest.handler_script);
  if (text && sha256_hex(*text) == handlers_digest_) {
    log::info("SIGHUP: sinks reopened; {} unchanged", artifact_.manifest.handler_script);
    return;
  }
  std::string running_digest = handlers_digest_;
  auto old = std::move(lua_);
  if (auto st = load_handlers(); !st) {
    log::error("SIGHUP: keeping the running handlers: {}", st.error().message);
    lua_ = std::move(old);
    handlers_digest_ = running_digest;
    pipeline_->set_handlers(lua_.get());
    return;
  }
  if (old) old->call_hook("on_stop");
  lua_->call_hook("on_start");
  log::info("SIGHUP: reloaded {} (metrics kept)", artifact_.manifest.handler_script);
}

// Runs the Lua timers that are due and arms `fd` for the next one.
void Daemon::arm_lua_timer(int fd) {
  uint64_t next = pipeline_->run_timers();
  itimerspec its{};
  if (next != 0) {
    its.it_value.tv_sec = static_cast<time_t>(next / 1000000000ull);
    its.it_value.tv_nsec = static_cast<long>(next % 1000000000ull);
  }
  timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, nullptr);
}

int Daemon::setup() {
  auto start = std::chrono::steady_clock::now();
  install_libbpf_logger();
  KernelCheckOptions kc;
  kc.btf_path = opts_.btf_path;
  if (auto st = check_kernel_support(kc); !st) {
    log::error("{}", st.error().message);
    return kExitEnv;
  }
  if (auto st = check_bpf_privileges(); !st) {
    log::error("{}", st.error().message);
    return kExitEnv;
  }
  auto outcome = obtain_artifact(opts_.artifact);
  if (!outcome) {
    std::fprintf(stderr, "%s\n", outcome.error().message.c_str());
    return kExitUser;
  }
  artifact_ = std::move(outcome->artifact);
  const Manifest& m = artifact_.manifest;
  log::info("policy {}: {} probes, object {} bytes ({} in {:.1f} ms)", m.policy_name,
            m.probes.size(), artifact_.object.size(), outcome->cache_hit ? "cache hit" : "compiled",
            outcome->ms);
  kc.min_version = m.min_kernel;
  if (auto st = check_kernel_support(kc); !st) {
    log::error("{}", st.error().message);
    return kExitEnv;
  }

  // A policy without sinks prints its events: the bpftrace-like default users expect.
  std::vector<SinkManifest> sinks = m.sinks;
  if (sinks.empty() && opts_.sink_overrides.empty()) sinks.push_back({"jsonl", {{"id", "jsonl"}, {"path", "-"}}});
  for (const auto& o : opts_.sink_overrides) {
    auto it = std::find_if(sinks.begin(), sinks.end(), [&](const SinkManifest& s) {
      return (s.settings.count("id") ? s.settings.at("id") : s.type) == o.id;
    });
    if (it == sinks.end()) {
      sinks.push_back({o.id, {{"id", o.id}}});
      it = sinks.end() - 1;
    }
    if (o.key == "type") it->type = o.value;
    else it->settings[o.key] = o.value;
  }
  for (const auto& s : sinks) {
    SinkManifest resolved = s;
    for (auto& [k, v] : resolved.settings) {
      auto sub = substitute_env(v, process_env());
      if (!sub) {
        log::error("sink '{}': {}", s.settings.count("id") ? s.settings.at("id") : s.type,
                   sub.error().message);
        return kExitUser;
      }
      v = *sub;
    }
    auto sink = make_sink(resolved, SinkContext{&registry_, m.policy_name});
    if (!sink) {
      log::error("{}", sink.error().message);
      return kExitUser;
    }
    log::info("sink {} ({})", (*sink)->id(), resolved.type);
    std::string id = (*sink)->id();
    sinks_[id] = std::move(*sink);
  }
  if (auto st = load_handlers(); !st) {
    log::error("{}", st.error().message);
    return kExitUser;
  }

  std::set<std::string> not_loaded;
  auto object = BpfObject::load(artifact_, opts_.btf_path, &not_loaded);
  if (!object) {
    log::error("{}", object.error().message);
    return kExitEnv;
  }
  object_ = std::move(*object);
  counters_ = std::make_unique<PipelineCounters>(m.probes.size());
  pipeline_ = std::make_unique<Pipeline>(artifact_.manifest, *counters_, [this](const nlohmann::json& r) {
    for (auto& [id, s] : sinks_)
      if (std::strcmp(s->type(), "jsonl") == 0) s->emit(r);
  });
  pipeline_->set_handlers(lua_.get());
  registry_.add_collector(bpf_metrics_collector(*object_, artifact_.manifest));
  SelfMetricsSources self;
  self.manifest = &artifact_.manifest;
  self.object = object_.get();
  self.pipeline = counters_.get();
  if (lua_) self.handlers = [this] { return handler_stats_.snapshot(); };
  self.sinks = &sinks_;
  self.attach_records = [this] { return attacher_ ? attacher_->records() : std::vector<AttachRecord>{}; };
  self.registry = &registry_;
  registry_.add_collector(self_metrics_collector(self));
  auto ring = RingReader::open(object_->events_fd(),
                               [this](const void* d, size_t n) { pipeline_->on_record(d, n); });
  if (!ring) {
    log::error("{}", ring.error().message);
    return kExitEnv;
  }
  ring_ = std::move(*ring);
  attacher_ = std::make_unique<Attacher>(*object_, artifact_.manifest, not_loaded);
  if (auto st = attacher_->attach_all(); !st) {
    log::error("{}", st.error().message);
    return kExitUser;
  }
  // Processes already running: their own copies of libraries (containers), and the pids
  // process selectors match.
  discovery_ = std::make_unique<Discovery>(artifact_.manifest, *object_, *attacher_);
  if (auto st = discovery_->open_watcher(); !st) log::warn("process watcher: {}", st.error().message);
  discovery_->scan_all();
  if (lua_) lua_->call_hook("on_start");
  log::info("ready: {} links attached in {:.1f} ms", attacher_->link_count(), ms_since(start));
  return 0;
}

void Daemon::report_stats(bool final) {
  auto counters = object_->read_counters();
  last_counters_.resize(counters.size());
  for (size_t i = 0; i < counters.size(); ++i) {
    const auto& c = counters[i];
    const auto& prev = last_counters_[i];
    bool loss = c.ringbuf_drops != prev.ringbuf_drops || c.map_full != prev.map_full ||
                c.read_errors != prev.read_errors;
    if (final || loss)
      log::info("probe {}: hits {} emitted {} filtered {} ring-buffer drops {} read errors {} "
                "map full {} no entry {} truncated {}",
                artifact_.manifest.probes[i].name, c.hits, c.emitted, c.filtered, c.ringbuf_drops,
                c.read_errors, c.map_full, c.no_entry, c.truncated);
  }
  last_counters_ = counters;
  uint64_t malformed = counters_->malformed.load();
  if (final || malformed || (lua_ && lua_->counters().errors)) {
    log::info("events {} malformed {} handler calls {} handler errors {}", counters_->records.load(), malformed,
              lua_ ? lua_->counters().calls : 0, lua_ ? lua_->counters().errors : 0);
  }
  for (const auto& [id, s] : sinks_)
    if (final || s->counters().dropped || s->counters().failed)
      log::info("sink {}: sent {} dropped {} failed {}", id, s->counters().sent.load(),
                s->counters().dropped.load(), s->counters().failed.load());
}

int Daemon::loop() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  itimerspec its{};
  its.it_interval.tv_sec = opts_.stats_interval_s;
  its.it_value.tv_sec = opts_.stats_interval_s;
  timerfd_settime(tfd, 0, &its, nullptr);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = ring_->epoll_fd();
  epoll_ctl(ep, EPOLL_CTL_ADD, ring_->epoll_fd(), &ev);
  int wfd = discovery_->watcher_fd();
  if (wfd >= 0) {
    ev.data.fd = wfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev);
  }
  // The periodic rescan of /proc catches what watcher events missed (a full ring, a file
  // mapped before probed attached).
  int rescan = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  itimerspec rs{};
  rs.it_interval.tv_sec = opts_.rescan_interval_s;
  rs.it_value.tv_sec = opts_.rescan_interval_s;
  timerfd_settime(rescan, 0, &rs, nullptr);
  ev.data.fd = rescan;
  epoll_ctl(ep, EPOLL_CTL_ADD, rescan, &ev);
  // Lua timers (every(...)): one timerfd armed for the next one due.
  int lua_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  ev.data.fd = lua_timer;
  epoll_ctl(ep, EPOLL_CTL_ADD, lua_timer, &ev);
  arm_lua_timer(lua_timer);
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  ev.data.fd = tfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

  auto start = std::chrono::steady_clock::now();
  bool running = true;
  while (running) {
    int timeout = -1;
    if (opts_.duration_s > 0) {
      double left = opts_.duration_s * 1000 - ms_since(start);
      if (left <= 0) break;
      timeout = static_cast<int>(left) + 1;
    }
    epoll_event events[8];
    int n = epoll_wait(ep, events, 8, timeout);
    if (n < 0 && errno != EINTR) {
      log::error("epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ring_->epoll_fd()) {
        for (auto& [id, s] : sinks_) s->hold();
        int consumed = ring_->consume();
        for (auto& [id, s] : sinks_) s->release();
        if (consumed > 0 && opts_.batch_window_ms > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(opts_.batch_window_ms));
      } else if (fd == wfd) {
        discovery_->consume();
      } else if (fd == lua_timer) {
        uint64_t ticks = 0;
        (void)!read(lua_timer, &ticks, sizeof ticks);
        arm_lua_timer(lua_timer);
      } else if (fd == rescan) {
        uint64_t ticks = 0;
        (void)!read(rescan, &ticks, sizeof ticks);
        discovery_->scan_all();
      } else if (fd == sfd) {
        signalfd_siginfo si{};
        while (read(sfd, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGHUP) {
            reload();
            arm_lua_timer(lua_timer);
            continue;
          }
          log::info("received {}, stopping", strsignal(static_cast<int>(si.ssi_signo)));
          running = false;
        }
      } else if (fd == tfd) {
        uint64_t ticks = 0;
        (void)!read(tfd, &ticks, sizeof ticks);
        report_stats(false);
      }
    }
  }
  ring_->consume();  // deliver what is already in the ring before stopping
  close(rescan);
  close(lua_timer);
  close(ep);
  close(tfd);
  close(sfd);
  return 0;
}

int Daemon::run() {
  // Signals are handled on the loop's signalfd; block them before any thread starts.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (int rc = setup(); rc != 0) {
    // Exporter threads read the object and the handlers through the registry: stop them first.
    sinks_.clear();
    if (attacher_) attacher_->detach_all();
    return rc;
  }
  loop();
  if (lua_) lua_->call_hook("on_stop");
  for (auto& [id, s] : sinks_) s->flush();
  report_stats(true);
  auto stop = std::chrono::steady_clock::now();
  // Exporters (e.g. a /metrics scrape) read the object through registry collectors: stop
  // them before the object goes away.
  sinks_.clear();
  lua_.reset();
  std::vector<uint32_t> ids = object_->program_ids();
  discovery_.reset();
  attacher_->detach_all();
  attacher_.reset();
  ring_.reset();
  object_.reset();
  // Links release their programs after an RCU grace period; exit only once they are gone, so
  // `bpftool prog show` lists nothing of ours when probed has exited.
  if (!wait_programs_freed(ids, 2000)) log::warn("some BPF programs were still loaded 2 s after detaching");
  log::info("detached in {:.1f} ms", ms_since(stop));
  return 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  Daemon d(options);
  return d.run();
}

}  // namespace probe
