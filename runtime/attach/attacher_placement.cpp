// Attaching through the placement optimizer: each planned probe goes where the analysis of
// this exact file puts it (compiler/placement/site_plan.h), verified against the file's bytes
// and build-id, with return-side recipes passed to BPF as attach cookies.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <future>
#include <map>
#include <tuple>

#include "common/elf_file.h"
#include "common/log.h"
#include "runtime/attach/attacher.h"

namespace probe {

namespace {

FilePlans plan_file(const Manifest& manifest, const TargetManifest& target, const std::string& path,
                    const std::function<bool(const ProbeManifest&)>& wanted) {
  FilePlans fp;
  std::vector<const ProbeManifest*> planned;
  for (const auto& p : manifest.probes)
    if (p.target == target.name && wanted(p) && planned_probe(p)) planned.push_back(&p);
  if (planned.empty()) return fp;
  auto opened = FilePlanner::open(path);
  if (!opened) {
    for (const auto* p : planned) fp.errors[p->name] = opened.error().message;
    return fp;
  }
  fp.planner = std::move(*opened);
  fp.plans = fp.planner->plan(planned, manifest, &fp.errors);
  return fp;
}

}  // namespace

PlansByFile plan_host_files(const Manifest& manifest, const std::function<bool(const ProbeManifest&)>& wanted) {
  std::vector<std::pair<const TargetManifest*, std::string>> work;
  for (const auto& t : manifest.targets)
    if (t.kind != plan::Target::Kind::kProcess)
      for (const auto& f : host_files(t)) work.emplace_back(&t, f);
  std::vector<std::future<FilePlans>> running;
  for (const auto& [t, f] : work)
    running.push_back(std::async(std::launch::async, [&manifest, t = t, f = f, &wanted] {
      return plan_file(manifest, *t, f, wanted);
    }));
  PlansByFile out;
  for (size_t i = 0; i < work.size(); ++i) out[{work[i].first->name, work[i].second}] = running[i].get();
  return out;
}

std::vector<std::pair<std::string, Status>> Attacher::attach_target_file(const TargetManifest& target,
                                                                         const std::string& path,
                                                                         const std::string& shown) {
  std::vector<std::pair<std::string, Status>> results;
  FilePlans fp;
  if (auto it = preplanned_.find({target.name, path}); it != preplanned_.end()) {
    fp = std::move(it->second);
    preplanned_.erase(it);
  } else {
    fp = plan_file(manifest_, target, path, [this](const ProbeManifest& p) { return !leaves_out(p); });
  }
  for (const auto& p : manifest_.probes) {
    if (p.target != target.name || leaves_out(p)) continue;
    if (!planned_probe(p)) {
      results.emplace_back(p.name, attach_probe_to_file(p, path, shown));
      continue;
    }
    if (auto e = fp.errors.find(p.name); e != fp.errors.end()) {
      results.emplace_back(p.name, make_error("{}", e->second));
      continue;
    }
    for (const auto& plan : fp.plans)
      if (plan.probe == &p) results.emplace_back(p.name, attach_planned(plan, fp.planner->elf(), path, shown));
  }
  return results;
}

// The pk_sites slot holding a return-side recipe (the attach cookie); 0 for rax.
Result<uint64_t> Attacher::recipe_cookie(const PlannedSite& site) {
  if (site.recipe == ResultRecipe::kRax) return 0;
  struct {  // struct pk_site in stdlib/bpf/base.h
    uint32_t kind;
    int32_t rsp_offset;
    uint8_t args[6];
    uint8_t count_reg;
    uint8_t zero_reg;
  } value{static_cast<uint32_t>(site.recipe), site.rsp_offset, {}, site.count_reg, site.zero_reg};
  std::copy(site.arg_regs.begin(), site.arg_regs.end(), value.args);
  std::string key(reinterpret_cast<const char*>(&value), sizeof(value));
  if (auto it = recipe_slots_.find(key); it != recipe_slots_.end()) return it->second;
  bpf_map* sites = object_.map("pk_sites");
  if (!sites) return make_error("the object has no pk_sites map for return recipes");
  if (bpf_map__value_size(sites) != sizeof(value))
    return make_error("the object's pk_sites entries are {} bytes, probed writes {}", bpf_map__value_size(sites),
                      sizeof(value));
  uint32_t slot = static_cast<uint32_t>(recipe_slots_.size()) + 1;
  if (slot >= bpf_map__max_entries(sites)) return make_error("out of return-recipe slots");
  if (bpf_map_update_elem(bpf_map__fd(sites), &slot, &value, BPF_ANY) != 0)
    return make_error("cannot write return recipe: {}", std::strerror(errno));
  recipe_slots_[key] = slot;
  return slot;
}

Status Attacher::attach_planned(const ProbePlan& plan, const ElfFile& elf, const std::string& path,
                                const std::string& shown) {
  const ProbeManifest& p = *plan.probe;
  std::string where = fmt::format("{}:{}", shown, p.symbol);
  if (!plan.covered_by.empty()) {
    record(p, fmt::format("{} [{}]", where, plan.summary()), AttachState::kAttached, "");
    log::info("placed {} at {}: {}", p.name, where, plan.summary());
    return {};
  }
  // One link per (program, uretprobe or not), with every site of that kind.
  struct Batch {
    std::vector<uint64_t> offsets, cookies;
  };
  std::map<std::pair<std::string, bool>, Batch> batches;
  for (const auto& site : plan.sites) {
    const std::string& program = site.role == ProbeSite::Role::kEntry ? p.entry_program : p.return_program;
    if (program.empty()) continue;  // e.g. a return probe that keeps no entry state
    PROBE_ASSIGN_OR_RETURN(uint64_t cookie, recipe_cookie(site));
    Batch& b = batches[{program, site.role == ProbeSite::Role::kUretprobe}];
    b.offsets.push_back(site.file_offset);
    b.cookies.push_back(cookie);
  }
  for (const auto& [key, b] : batches)
    PROBE_TRY(attach_uprobe_program(p.id, key.first, key.second, path, b.offsets, b.cookies));
  record(p, fmt::format("{} [{}]", where, plan.summary()), AttachState::kAttached, "");
  log::info("placed {} at {} (build-id {}): {}", p.name, where,
            elf.build_id().empty() ? "none" : elf.build_id().substr(0, 16), plan.summary());
  for (const auto& line : plan.placement.explanation) log::debug("  {}: {}", p.name, line);
  return {};
}

}  // namespace probe
