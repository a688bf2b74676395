#include "runtime/daemon/generation.h"

#include <bpf/libbpf.h>

#include <future>

#include "common/log.h"

namespace probe {

Result<std::unique_ptr<Generation>> Generation::load(Artifact artifact, uint32_t number, Options o) {
  auto g = std::unique_ptr<Generation>(new Generation(std::move(artifact), number));
  const Manifest& m = g->artifact_.manifest;
  // Programs of probes another generation runs are not loaded (nor verified) here.
  std::set<std::string> elsewhere;
  if (o.owned)
    for (const auto& p : m.probes)
      if (!o.owned->count(p.id)) elsewhere.insert(p.name);
  // The placement analysis of the host's files runs while the kernel verifies the programs.
  std::function<bool(const ProbeManifest&)> mine = [&o](const ProbeManifest& p) {
    return !o.owned || o.owned->count(p.id) > 0;
  };
  auto plans = std::async(std::launch::async, [&m, &mine] { return plan_host_files(m, mine); });
  auto object = BpfObject::load(g->artifact_, o.btf_path, &g->not_loaded_,
                                o.previous ? o.previous->object_.get() : nullptr, elsewhere);
  PlansByFile planned = plans.get();
  PROBE_ASSIGN_OR_RETURN(g->object_, std::move(object));
  for (const auto& name : g->object_->shared_maps()) log::debug("generation {}: shares map {}", number, name);
  g->counters_ = std::make_unique<PipelineCounters>(m.probes.size());
  g->pipeline_ = std::make_unique<Pipeline>(m, *g->counters_, std::move(o.default_output));
  Generation* self = g.get();
  PROBE_ASSIGN_OR_RETURN(g->ring_, RingReader::open(g->object_->events_fd(), [self](const void* d, size_t n) {
                           self->pipeline_->on_record(d, n);
                         }));
  g->attacher_ = std::make_unique<Attacher>(*g->object_, m, g->not_loaded_, std::move(o.owned));
  // Plans made with a probe the kernel then refused could cover calls with its sites: plan
  // again at attach in that case.
  if (g->not_loaded_.empty()) g->attacher_->use_plans(std::move(planned));
  g->discovery_ = std::make_unique<Discovery>(m, *g->object_, *g->attacher_);
  return g;
}

Generation::~Generation() {
  // Links first (they hold the programs), then whatever reads the object.
  discovery_.reset();
  if (attacher_) attacher_->detach_all();
  attacher_.reset();
  ring_.reset();
  pipeline_.reset();
  object_.reset();
}

Status Generation::attach() {
  PROBE_TRY(attacher_->attach_all());
  // Processes already running: their own copies of libraries (containers), and the pids
  // process selectors match.
  if (auto st = discovery_->open_watcher(); !st) log::warn("process watcher: {}", st.error().message);
  discovery_->scan_all();
  return {};
}

void Generation::stop_watching() {
  discovery_->close_watcher();
  attacher_->detach_own_links();
}

ProbeSample Generation::sample(uint32_t id, const std::vector<ProbeCounters>& kernel) const {
  const ProbeManifest& p = artifact_.manifest.probes[id];
  ProbeSample s;
  s.name = p.name;
  if (id < kernel.size()) s.kernel = kernel[id];
  if (id < counters_->decoded_per_probe.size()) s.decoded = counters_->decoded_per_probe[id].load();
  for (const std::string* prog : {&p.entry_program, &p.return_program}) {
    if (prog->empty()) continue;
    if (bpf_program* bp = object_->program(*prog)) s.programs.emplace_back(*prog, bpf_program__fd(bp));
  }
  return s;
}

}  // namespace probe
