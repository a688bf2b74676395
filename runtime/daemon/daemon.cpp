#include "runtime/daemon/daemon.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "runtime/daemon/daemon_state.h"
#include "runtime/loader/kernel_check.h"
#include "runtime/metrics/bpf_collector.h"
#include "runtime/metrics/self_metrics.h"
#include "runtime/sinks/env_subst.h"

namespace probe {
namespace {

// A periodic timerfd (interval in seconds; 0: disarmed).
int periodic_timer(int seconds) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  itimerspec its{};
  its.it_interval.tv_sec = seconds;
  its.it_value.tv_sec = seconds;
  timerfd_settime(fd, 0, &its, nullptr);
  return fd;
}

void drain_timer(int fd) {
  uint64_t ticks = 0;
  (void)!read(fd, &ticks, sizeof ticks);
}

}  // namespace

bool Daemon::emit(const std::string& sink, const nlohmann::json& record) {
  auto it = sinks_.find(sink);
  if (it == sinks_.end()) {
    if (unknown_sink_++ == 0) log::warn("handler emitted to unknown sink '{}'", sink);
    return false;
  }
  it->second->emit(record);
  return true;
}

// Without handlers, events go to the JSON-lines sinks as they are.
Pipeline::DefaultOutput Daemon::default_output() {
  return [this](const nlohmann::json& r) {
    for (auto& [id, s] : sinks_)
      if (std::strcmp(s->type(), "jsonl") == 0) s->emit(r);
  };
}

// Runs the Lua timers that are due and arms the timer for the next one.
void Daemon::arm_lua_timer() {
  uint64_t next = lua_ ? lua_->run_timers() : 0;
  itimerspec its{};
  if (next != 0) {
    its.it_value.tv_sec = static_cast<time_t>(next / 1000000000ull);
    its.it_value.tv_nsec = static_cast<long>(next % 1000000000ull);
  }
  timerfd_settime(lua_timer_, TFD_TIMER_ABSTIME, &its, nullptr);
}

// Builds the sinks `declared` names (a policy without sinks prints its events, the
// bpftrace-like default), with --sink overrides and ${ENV} substituted.
Status Daemon::build_sinks(const std::vector<SinkManifest>& declared, const std::string& policy,
                           std::map<std::string, std::unique_ptr<Sink>>* out) {
  std::vector<SinkManifest> sinks = declared;
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
      if (!sub)
        return make_error("sink '{}': {}", s.settings.count("id") ? s.settings.at("id") : s.type,
                          sub.error().message);
      v = *sub;
    }
    PROBE_ASSIGN_OR_RETURN(auto sink, make_sink(resolved, SinkContext{&registry_, policy}));
    log::info("sink {} ({})", sink->id(), resolved.type);
    std::string id = sink->id();
    (*out)[id] = std::move(sink);
  }
  return {};
}

int Daemon::open_sinks(const Manifest& m) {
  std::map<std::string, std::unique_ptr<Sink>> sinks;
  if (auto st = build_sinks(m.sinks, m.policy_name, &sinks); !st) {
    log::error("{}", st.error().message);
    return kExitUser;
  }
  sink_settings_ = m.sinks;
  std::lock_guard<std::mutex> lock(sinks_mutex_);
  sinks_ = std::move(sinks);
  return 0;
}

Daemon::PipelineTotals Daemon::pipeline_totals() const {
  PipelineTotals t = retired_generations_;
  for (const auto& g : generations_) t.add(g->counters());
  return t;
}

std::vector<ProbeSample> Daemon::probe_samples() const {
  std::map<const Generation*, std::vector<ProbeCounters>> kernel;
  std::vector<ProbeSample> out;
  for (const auto& o : owners_) {
    auto it = kernel.find(o.generation);
    if (it == kernel.end()) it = kernel.emplace(o.generation, o.generation->object().read_counters()).first;
    out.push_back(o.generation->sample(o.id, it->second));
  }
  return out;
}

// Exporters read the policy's in-kernel metrics and probed's own through these; both look at
// whichever generations run the current policy's probes.
void Daemon::register_collectors() {
  registry_.add_collector([this](std::vector<FamilySnapshot>& out) {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    for (const auto& g : generations_)
      for (const auto& metric : g->manifest().metrics) {
        const ProbeManifest* p = g->manifest().find_probe(metric.probe);
        if (p && g->owns(p->id)) collect_bpf_metric(g->object(), metric, out);
      }
  });
  SelfMetricsSources self;
  self.probes = [this] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    return probe_samples();
  };
  self.malformed = [this] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    return pipeline_totals().malformed;
  };
  self.retired = [this] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    return pipeline_totals().retired;
  };
  self.generations = [this] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    return static_cast<uint64_t>(generations_.size());
  };
  if (lua_) self.handlers = [this] { return handler_stats_.snapshot(); };
  self.sinks = &sinks_;  // read under sinks_mutex_ (below): a reload may replace them
  self.attach_records = [this] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    std::vector<AttachRecord> all;
    for (const auto& g : generations_)
      for (const auto& r : g->attacher().records()) all.push_back(r);
    return all;
  };
  self.registry = &registry_;
  registry_.add_collector([this, collect = self_metrics_collector(self)](std::vector<FamilySnapshot>& out) {
    std::lock_guard<std::mutex> lock(sinks_mutex_);
    collect(out);
  });
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
  const Manifest& m = outcome->artifact.manifest;
  log::info("policy {}: {} probes, object {} bytes ({} in {:.1f} ms)", m.policy_name, m.probes.size(),
            outcome->artifact.object.size(), outcome->cache_hit ? "cache hit" : "compiled", outcome->ms);
  kc.min_version = m.min_kernel;
  if (auto st = check_kernel_support(kc); !st) {
    log::error("{}", st.error().message);
    return kExitEnv;
  }
  if (int rc = open_sinks(m); rc != 0) return rc;

  Generation::Options go;
  go.btf_path = opts_.btf_path;
  go.default_output = default_output();
  auto loaded = Generation::load(std::move(outcome->artifact), next_generation_++, std::move(go));
  if (!loaded) {
    log::error("{}", loaded.error().message);
    return kExitEnv;
  }
  generations_.push_back(std::move(*loaded));
  Generation& g = current();
  for (uint32_t i = 0; i < g.manifest().probes.size(); ++i) owners_.push_back({&g, i});
  if (!g.manifest().handler_script.empty()) {
    auto lua = make_handlers(g.manifest(), &handlers_digest_);
    if (!lua) {
      log::error("{}", lua.error().message);
      return kExitUser;
    }
    lua_ = std::move(*lua);
  }
  connect_handlers();
  register_collectors();
  {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    if (auto st = g.attach(); !st) {
      log::error("{}", st.error().message);
      return kExitUser;
    }
  }
  if (lua_) lua_->call_hook("on_start");
  log::info("ready: {} links attached in {:.1f} ms", g.attacher().link_count(), ms_since(start));
  return 0;
}

void Daemon::report_stats(bool final) {
  std::vector<ProbeSample> samples;
  PipelineTotals totals;
  {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    samples = probe_samples();
    totals = pipeline_totals();
  }
  last_counters_.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& c = samples[i].kernel;
    const auto& prev = last_counters_[i];
    bool loss = c.ringbuf_drops != prev.ringbuf_drops || c.map_full != prev.map_full ||
                c.read_errors != prev.read_errors;
    if (final || loss)
      log::info("probe {}: hits {} emitted {} filtered {} ring-buffer drops {} read errors {} "
                "map full {} no entry {} truncated {}",
                samples[i].name, c.hits, c.emitted, c.filtered, c.ringbuf_drops, c.read_errors, c.map_full,
                c.no_entry, c.truncated);
    last_counters_[i] = c;
  }
  if (final || totals.malformed || (lua_ && lua_->counters().errors)) {
    log::info("events {} malformed {} handler calls {} handler errors {}{}", totals.records, totals.malformed,
              lua_ ? lua_->counters().calls : 0, lua_ ? lua_->counters().errors : 0,
              totals.retired ? fmt::format(" (dropped {} of probes a reload replaced)", totals.retired) : "");
  }
  for (const auto& [id, s] : sinks_)
    if (final || s->counters().dropped || s->counters().failed)
      log::info("sink {}: sent {} dropped {} failed {}", id, s->counters().sent.load(),
                s->counters().dropped.load(), s->counters().failed.load());
}

void Daemon::watch(int fd, std::function<void()> action) {
  if (fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  actions_[fd] = std::move(action);
}

void Daemon::unwatch(int fd) {
  if (fd < 0) return;
  epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  actions_.erase(fd);
}

void Daemon::consume_ring(Generation& g) {
  for (auto& [id, s] : sinks_) s->hold();
  int consumed = g.ring().consume();
  for (auto& [id, s] : sinks_) s->release();
  if (consumed > 0 && opts_.batch_window_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(opts_.batch_window_ms));
}

void Daemon::watch_generation(Generation& g) {
  watch(g.ring().epoll_fd(), [this, &g] { consume_ring(g); });
  watch(g.discovery().watcher_fd(), [this, &g] {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    g.discovery().consume();
  });
}

void Daemon::unwatch_generation(Generation& g) {
  unwatch(g.ring().epoll_fd());
  unwatch(g.discovery().watcher_fd());
}

int Daemon::loop() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  bool running = true;
  for (auto& g : generations_) watch_generation(*g);
  int stats = periodic_timer(opts_.stats_interval_s);
  watch(stats, [this, stats] {
    drain_timer(stats);
    report_stats(false);
  });
  // The periodic rescan of /proc catches what watcher events missed (a full ring, a file
  // mapped before probed attached).
  int rescan = periodic_timer(opts_.rescan_interval_s);
  watch(rescan, [this, rescan] {
    drain_timer(rescan);
    std::lock_guard<std::mutex> lock(generations_mutex_);
    for (auto& g : generations_)
      if (!g->discovery().following()) g->discovery().scan_all();
  });
  // Lua timers (every(...)): one timerfd armed for the next one due.
  lua_timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  watch(lua_timer_, [this] {
    drain_timer(lua_timer_);
    arm_lua_timer();
  });
  arm_lua_timer();
  watch(sfd, [this, sfd, &running] {
    signalfd_siginfo si{};
    while (read(sfd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGHUP) {
        reload();
        arm_lua_timer();
        continue;
      }
      log::info("received {}, stopping", strsignal(static_cast<int>(si.ssi_signo)));
      running = false;
    }
  });

  auto start = std::chrono::steady_clock::now();
  while (running) {
    int timeout = -1;
    if (opts_.duration_s > 0) {
      double left = opts_.duration_s * 1000 - ms_since(start);
      if (left <= 0) break;
      timeout = static_cast<int>(left) + 1;
    }
    epoll_event events[8];
    int n = epoll_wait(epoll_, events, 8, timeout);
    if (n < 0 && errno != EINTR) {
      log::error("epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      // An action may unwatch fds (a reload retires generations): look each one up afresh.
      auto it = actions_.find(events[i].data.fd);
      if (it == actions_.end()) continue;
      auto action = it->second;
      action();
    }
  }
  for (auto& g : generations_) g->ring().consume();  // deliver what is already there before stopping
  for (int fd : {rescan, lua_timer_, stats, sfd}) close(fd);
  close(epoll_);
  actions_.clear();
  return 0;
}

// Detaches every generation at once (each release blocks ~100 ms in the kernel), then waits
// until the kernel has freed the programs.
void Daemon::stop() {
  auto start = std::chrono::steady_clock::now();
  // Exporters (e.g. a /metrics scrape) read the objects through registry collectors: stop
  // them before the objects go away.
  close_sinks();
  lua_.reset();
  std::vector<uint32_t> ids;
  for (const auto& g : generations_) {
    auto mine = g->object().program_ids();
    ids.insert(ids.end(), mine.begin(), mine.end());
  }
  std::vector<std::thread> detachers;
  for (auto& g : generations_) detachers.emplace_back([&g] { g->attacher().detach_all(); });
  for (auto& t : detachers) t.join();
  owners_.clear();
  generations_.clear();
  // Links release their programs after an RCU grace period; exit only once they are gone, so
  // `bpftool prog show` lists nothing of ours when probed has exited.
  if (!wait_programs_freed(ids, 2000)) log::warn("some BPF programs were still loaded 2 s after detaching");
  log::info("detached in {:.1f} ms", ms_since(start));
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
    // Exporter threads read the objects and the handlers through the registry: stop them first.
    close_sinks();
    lua_.reset();
    owners_.clear();
    generations_.clear();
    return rc;
  }
  loop();
  if (lua_) lua_->call_hook("on_stop");
  for (auto& [id, s] : sinks_) s->flush();
  report_stats(true);
  stop();
  return 0;
}

// Sinks with exporter threads (Prometheus, OTLP) join them when destroyed; those threads may
// be waiting for sinks_mutex_ in a collector, so the sinks are destroyed outside it.
void Daemon::close_sinks() {
  std::map<std::string, std::unique_ptr<Sink>> closing;
  {
    std::lock_guard<std::mutex> lock(sinks_mutex_);
    closing.swap(sinks_);
  }
  closing.clear();
}

int run_daemon(const DaemonOptions& options) {
  Daemon d(options);
  return d.run();
}

}  // namespace probe
