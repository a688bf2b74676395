// SIGHUP. Sinks reopen (log rotation). A policy whose BPF object is unchanged keeps every
// probe; its handler script is reloaded if it changed. A changed policy is diffed probe by
// probe (probe_diff.h): unchanged probes stay attached in the generation that attached them,
// the rest load and attach as a new generation, and only then are replaced probes detached.
// Anything that fails before the switch leaves the running policy as it was.
#include <set>
#include <thread>

#include "common/files.h"
#include "common/log.h"
#include "common/sha256.h"
#include "runtime/daemon/daemon_state.h"
#include "runtime/daemon/probe_diff.h"

namespace probe {

// The policy's Lua handlers. Metrics they make live in the registry, so a reload keeps them.
Result<std::unique_ptr<LuaRuntime>> Daemon::make_handlers(const Manifest& m, std::string* digest) {
  auto text = read_file(m.handler_script);
  *digest = text ? sha256_hex(*text) : "";
  LuaRuntime::Options o;
  o.limits = opts_.lua;
  o.registry = &registry_;
  o.stats = &handler_stats_;
  return LuaRuntime::create(
      m.handler_script, m, [this](const std::string& s, const nlohmann::json& r) { return emit(s, r); },
      std::move(o));
}

// Every generation's events go to the current handlers, under the id the current policy
// gives each probe; events of probes the current policy replaced are dropped (and counted).
void Daemon::connect_handlers() {
  for (auto& g : generations_) {
    if (g.get() == &current()) {
      g->pipeline().set_handlers(lua_.get());
      continue;
    }
    std::vector<uint32_t> ids(g->manifest().probes.size(), Pipeline::kRetired);
    for (uint32_t i = 0; i < owners_.size(); ++i)
      if (owners_[i].generation == g.get()) ids[owners_[i].id] = i;
    g->pipeline().set_handlers(lua_.get(), std::move(ids));
  }
}

void Daemon::reload() {
  auto start = std::chrono::steady_clock::now();
  for (auto& [id, s] : sinks_) s->reopen();
  auto outcome = obtain_artifact(opts_.artifact);
  if (!outcome) {
    log::error("SIGHUP: keeping the running policy: {}", outcome.error().message);
    return;
  }
  if (outcome->artifact.object != current().artifact().object) {
    std::string how = outcome->cache_hit ? "cache hit" : fmt::format("compiled in {:.1f} ms", outcome->ms);
    reload_policy(std::move(outcome->artifact), how, start);
    return;
  }
  reload_sinks(outcome->artifact.manifest);
  reload_handlers();
}

// An unchanged script keeps its state (a logrotate SIGHUP must not reset what handlers
// hold); a script that no longer loads is reported and the running one is kept.
void Daemon::reload_handlers() {
  const std::string& script = current().manifest().handler_script;
  if (script.empty()) return;
  auto text = read_file(script);
  if (text && sha256_hex(*text) == handlers_digest_) {
    log::info("SIGHUP: sinks reopened; {} unchanged", script);
    return;
  }
  std::string digest;
  auto lua = make_handlers(current().manifest(), &digest);
  if (!lua) {
    log::error("SIGHUP: keeping the running handlers: {}", lua.error().message);
    return;
  }
  if (lua_) lua_->call_hook("on_stop");
  lua_ = std::move(*lua);
  handlers_digest_ = digest;
  connect_handlers();
  lua_->call_hook("on_start");
  log::info("SIGHUP: reloaded {} (metrics kept)", script);
}

void Daemon::reload_policy(Artifact artifact, const std::string& compiled,
                           std::chrono::steady_clock::time_point start) {
  std::vector<ProbeRef> running;
  for (const auto& o : owners_) running.push_back({o.generation->number(), &o.generation->manifest().probes[o.id]});
  ProbeDiff diff = diff_probes(running, artifact.manifest);
  std::set<uint32_t> attach_anew;
  for (uint32_t i = 0; i < diff.keep.size(); ++i)
    if (!diff.keep[i]) attach_anew.insert(i);

  // Everything that can fail happens before the running policy is touched.
  Generation::Options go;
  go.btf_path = opts_.btf_path;
  go.previous = &current();
  go.owned = attach_anew;
  go.default_output = default_output();
  auto loaded = Generation::load(std::move(artifact), next_generation_++, std::move(go));
  if (!loaded) {
    log::error("SIGHUP: keeping the running policy; the new one does not load: {}", loaded.error().message);
    return;
  }
  std::unique_ptr<Generation> next = std::move(*loaded);
  std::unique_ptr<LuaRuntime> lua;
  std::string digest;
  if (!next->manifest().handler_script.empty()) {
    auto made = make_handlers(next->manifest(), &digest);
    if (!made) {
      log::error("SIGHUP: keeping the running policy; its handlers do not load: {}", made.error().message);
      return;
    }
    lua = std::move(*made);
  }
  // New probes attach before replaced ones detach, so no call goes unseen; until the old
  // ones are gone their events are dropped (they are no longer the current policy's).
  {
    std::lock_guard<std::mutex> lock(generations_mutex_);
    if (auto st = next->attach(); !st) {
      log::error("SIGHUP: keeping the running policy; the new one does not attach: {}", st.error().message);
      next.reset();  // detaches what it attached
      return;
    }
    owners_ = owners_after(diff, next.get());
    generations_.push_back(std::move(next));
  }
  if (lua_) lua_->call_hook("on_stop");
  reload_sinks(current().manifest());
  lua_ = std::move(lua);
  handlers_digest_ = digest;
  connect_handlers();
  if (lua_) lua_->call_hook("on_start");
  watch_generation(current());

  double detach_ms = detach_replaced(diff);
  retire_idle_generations();
  arrange_watchers();
  last_counters_.clear();
  log::info("SIGHUP: policy reloaded in {:.1f} ms ({}; detach {:.1f} ms): {}; {} generation(s) running",
            ms_since(start), compiled, detach_ms, diff.summary(), generations_.size());
}

// Who runs each probe of the next policy: the generation that kept it, or `next`.
std::vector<Daemon::Owner> Daemon::owners_after(const ProbeDiff& diff, Generation* next) const {
  std::vector<Owner> owners;
  for (uint32_t i = 0; i < diff.keep.size(); ++i) {
    if (!diff.keep[i]) {
      owners.push_back({next, i});
      continue;
    }
    for (const auto& g : generations_)
      if (g->number() == diff.keep[i]->generation) owners.push_back({g.get(), diff.keep[i]->probe->id});
  }
  return owners;
}

// Detaches the probes the new policy replaced or dropped, every generation at once; returns
// how long it took (ms).
double Daemon::detach_replaced(const ProbeDiff& diff) {
  std::map<uint32_t, std::set<uint32_t>> detach;  // generation number → probe ids there
  for (const auto& r : diff.detach) detach[r.generation].insert(r.probe->id);
  std::lock_guard<std::mutex> lock(generations_mutex_);
  std::vector<std::thread> detachers;
  for (auto& g : generations_)
    if (auto it = detach.find(g->number()); it != detach.end())
      detachers.emplace_back([&g, ids = it->second] { g->attacher().detach_probes(ids); });
  auto start = std::chrono::steady_clock::now();
  for (auto& t : detachers) t.join();
  return ms_since(start);
}

// One process watcher: the newest generation's that has one. The others stop theirs and
// follow it. Rebuilt after every reload, so no list names a retired generation.
void Daemon::arrange_watchers() {
  std::lock_guard<std::mutex> lock(generations_mutex_);
  Generation* leader = nullptr;
  for (auto it = generations_.rbegin(); it != generations_.rend() && !leader; ++it)
    if ((*it)->discovery().watcher_fd() >= 0) leader = it->get();
  if (!leader) return;  // no generation watches processes (no user-space targets)
  std::vector<Discovery*> followers;
  for (auto& g : generations_) {
    if (g.get() == leader) continue;
    if (g->discovery().watcher_fd() >= 0) {
      unwatch(g->discovery().watcher_fd());
      g->stop_watching();
    }
    followers.push_back(&g->discovery());
  }
  leader->discovery().set_followers(std::move(followers));
}

// Sinks whose settings changed are replaced as a whole: the running ones are flushed and
// closed first (a Prometheus sink may listen on the same port again), then the new ones open;
// if they cannot, the previous settings open again.
void Daemon::reload_sinks(const Manifest& m) {
  if (m.sinks == sink_settings_) return;
  for (auto& [id, s] : sinks_) s->flush();
  close_sinks();
  std::map<std::string, std::unique_ptr<Sink>> fresh;
  if (auto st = build_sinks(m.sinks, m.policy_name, &fresh); !st) {
    log::error("SIGHUP: keeping the previous sink settings: {}", st.error().message);
    fresh.clear();
    if (auto again = build_sinks(sink_settings_, m.policy_name, &fresh); !again)
      log::error("SIGHUP: the previous sinks do not open again either: {}", again.error().message);
  } else {
    sink_settings_ = m.sinks;
    log::info("SIGHUP: sinks replaced ({} now)", fresh.size());
  }
  std::lock_guard<std::mutex> lock(sinks_mutex_);
  sinks_ = std::move(fresh);
}

// A generation none of whose probes is current any more: deliver what is left in its ring,
// then let it go (its watcher with it).
void Daemon::retire_idle_generations() {
  for (size_t i = 0; i + 1 < generations_.size();) {
    Generation& g = *generations_[i];
    if (g.owns_any()) {
      ++i;
      continue;
    }
    unwatch_generation(g);
    g.ring().consume();
    std::unique_ptr<Generation> gone;
    {
      std::lock_guard<std::mutex> lock(generations_mutex_);
      gone = std::move(generations_[i]);
      generations_.erase(generations_.begin() + static_cast<long>(i));
      retired_generations_.add(gone->counters());
    }
    log::info("generation {} retired", gone->number());
  }
}

}  // namespace probe
