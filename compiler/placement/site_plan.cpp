#include "compiler/placement/site_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/elf_sections.h"
#include "common/strings.h"
#include "common/x86_disasm.h"

namespace probe {
namespace {

PlacementRequest request_for(const ProbeManifest& p, bool allow_forwarding) {
  PlacementRequest r;
  r.function = p.symbol;
  r.side = p.kind == plan::ProbeKind::kUretprobe ? ProbeSide::kReturn : ProbeSide::kEntry;
  for (const auto& name : p.entry_reads)
    if (auto reg = parse_gpr(name)) r.reads.push_back(*reg);
  r.allow_forwarding = allow_forwarding;
  r.ret_sites = p.return_mode == plan::ReturnMode::kRetSites || p.abi == plan::Abi::kGo;
  r.dispatch_tables = p.dispatch_tables;
  r.site_args_allowed = p.return_site_args;
  return r;
}

// Probes whose events are interchangeable: a site both resolve to may be attached once.
bool interchangeable(const ProbeManifest& a, const ProbeManifest& b, const Manifest& m) {
  if (a.kind != b.kind || a.handler != b.handler || a.emit_event != b.emit_event) return false;
  if (a.fields.size() != b.fields.size()) return false;
  for (size_t i = 0; i < a.fields.size(); ++i)
    if (a.fields[i].name != b.fields[i].name || a.fields[i].type != b.fields[i].type) return false;
  for (const auto& metric : m.metrics)
    if (metric.probe == a.name || metric.probe == b.name) return false;  // counts would differ
  return true;
}

std::string site_key(const PlannedSite& s) { return fmt::format("{}:{}", s.file_offset, static_cast<int>(s.role)); }

}  // namespace

bool planned_probe(const ProbeManifest& p) {
  bool function = p.kind == plan::ProbeKind::kUprobe || p.kind == plan::ProbeKind::kUretprobe;
  if (!function || is_function_pattern(p.symbol) || p.offset != 0) return false;
  return p.placement != plan::Placement::kOff || p.abi == plan::Abi::kGo ||
         p.return_mode == plan::ReturnMode::kRetSites;
}

std::string ProbePlan::summary() const {
  if (!covered_by.empty()) return fmt::format("covered by probe '{}' (its sites see these calls; same handler and fields)", covered_by);
  std::vector<std::string> parts;
  for (const auto& s : sites) parts.push_back(fmt::format("{} {}", site_role_name(s.role), s.describe));
  return fmt::format("{}: {}", placement_kind_name(placement.kind), join(parts, ", "));
}

Result<std::unique_ptr<FilePlanner>> FilePlanner::open(const std::string& path) {
  auto planner = std::unique_ptr<FilePlanner>(new FilePlanner());
  PROBE_ASSIGN_OR_RETURN(ElfFile elf, ElfFile::open(path));
  planner->elf_ = std::make_unique<ElfFile>(std::move(elf));
  PROBE_ASSIGN_OR_RETURN(X86Decoder decoder, X86Decoder::create());
  planner->decoder_ = std::make_unique<X86Decoder>(std::move(decoder));
  return planner;
}

FilePlanner::~FilePlanner() = default;

// The sweep costs ~0.1 s per MiB of code: above this much, attaching would stall (Node.js
// has 27 MiB), so such files get only the placements that need no sweep.
static uint64_t sweep_limit_bytes() {
  const char* env = std::getenv("PROBEKIT_PLACEMENT_SWEEP_MAX_MIB");
  return (env ? std::strtoull(env, nullptr, 10) : 16) << 20;
}

const BranchIndex& FilePlanner::branches() {
  if (!branches_) {
    uint64_t code = 0;
    if (auto sections = read_elf_sections(*elf_))
      for (const auto& s : *sections)
        if (s.executable) code += s.size;
    std::optional<BranchIndex> built;
    if (code <= sweep_limit_bytes())
      if (auto b = BranchIndex::build(*elf_)) built = std::move(*b);
    // Unbuilt (too large, or unreadable): an index that proves nothing, so the analysis falls
    // back wherever it needs the sweep.
    branches_ = std::make_unique<BranchIndex>(built ? std::move(*built) : BranchIndex::not_swept());
  }
  return *branches_;
}

Result<Placement> FilePlanner::place(const ProbeManifest& p, bool allow_forwarding) {
  PlacementContext ctx{*elf_, *decoder_, branches()};
  PlacementRequest req = request_for(p, allow_forwarding);
  PROBE_ASSIGN_OR_RETURN(Placement placement, place_probe(ctx, req));
  // A result read through the entry's rcx needs the entry side's stash.
  if (placement.result && placement.kind == PlacementKind::kForwardedInternalFunction && p.entry_program.empty())
    return place_fallback(ctx, req, "the result needs the entry side's rcx, and this probe keeps no entry state");
  if (placement.result && !p.placed_return)
    return place_fallback(ctx, req, "the probe's return program reads rax only");
  if (auto st = verify_placement(*elf_, placement); !st)
    return place_fallback(ctx, req, fmt::format("the sites did not verify: {}", st.error().message));
  return placement;
}

std::vector<PlannedSite> FilePlanner::to_sites(const Placement& pl) {
  std::vector<PlannedSite> sites;
  for (const auto& s : pl.sites) {
    PlannedSite ps;
    ps.file_offset = s.file_offset;
    ps.role = s.role;
    ps.describe = fmt::format("{} `{}` ({})", s.where, s.instruction,
                              s.handling == UprobeHandling::kSingleStep ? "single-stepped" : "emulated");
    if (pl.at_site && s.role == ProbeSite::Role::kReturn) {
      ps.recipe = ResultRecipe::kAtSite;
      for (size_t i = 0; i < ps.arg_regs.size(); ++i)
        if (pl.at_site->args[i]) ps.arg_regs[i] = static_cast<uint8_t>(*pl.at_site->args[i]);
      ps.count_reg = static_cast<uint8_t>(pl.at_site->count_pointer);
      if (pl.at_site->zero_guard) ps.zero_reg = static_cast<uint8_t>(*pl.at_site->zero_guard);
    } else if (pl.result && s.role != ProbeSite::Role::kEntry) {
      ps.recipe = pl.kind == PlacementKind::kPostCallJcc ? ResultRecipe::kCountAtRsp : ResultRecipe::kCountViaEntryRcx;
      ps.rsp_offset = static_cast<int32_t>(pl.result->count_rsp_offset);
    }
    sites.push_back(ps);
  }
  return sites;
}

std::vector<ProbePlan> FilePlanner::plan(const std::vector<const ProbeManifest*>& probes, const Manifest& manifest,
                                         std::map<std::string, std::string>* errors) {
  std::vector<ProbePlan> plans;
  for (const ProbeManifest* p : probes) {
    auto placement = place(*p, p->placement == plan::Placement::kShared);
    if (!placement) {
      if (errors) (*errors)[p->name] = placement.error().message;
      continue;
    }
    ProbePlan pp;
    pp.probe = p;
    pp.placement = std::move(*placement);
    plans.push_back(std::move(pp));
  }
  auto base_name = [](const std::string& symbol) { return symbol.substr(0, symbol.find('@')); };
  auto re_place_unforwarded = [&](ProbePlan& pp, const std::string& why) {
    if (auto again = place(*pp.probe, false)) {
      pp.placement = std::move(*again);
      pp.placement.explanation.push_back(why);
    }
  };
  // A forwarded probe also sees the calls of the other wrappers it covers. Another probe on one
  // of those wrappers is then covered by it when their events are interchangeable; otherwise
  // the forwarded one keeps to its own function, so no call is reported twice.
  for (auto& a : plans) {
    bool shared_site = a.placement.kind == PlacementKind::kForwardedInternalFunction ||
                       a.placement.kind == PlacementKind::kDispatchedReturnJcc;
    if (!shared_site || !a.covered_by.empty()) continue;
    for (auto& b : plans) {
      if (&a == &b || !b.covered_by.empty()) continue;
      const auto& covers = a.placement.covers;
      if (std::find(covers.begin(), covers.end(), base_name(b.probe->symbol)) == covers.end()) continue;
      if (interchangeable(*a.probe, *b.probe, manifest)) {
        b.covered_by = a.probe->name;
      } else {
        re_place_unforwarded(a, fmt::format("not forwarded: the shared function also serves probe '{}', whose "
                                            "events differ",
                                            b.probe->name));
        break;
      }
    }
  }
  // Probes landing on one site: attached once when interchangeable and the sites are the
  // same; otherwise each attaches its own links there.
  std::map<std::string, size_t> owner;  // site key → index into plans
  for (size_t i = 0; i < plans.size(); ++i) {
    ProbePlan& pp = plans[i];
    if (!pp.covered_by.empty()) continue;
    pp.sites = to_sites(pp.placement);
    std::set<size_t> clashes;
    for (const auto& s : pp.sites)
      if (auto it = owner.find(site_key(s)); it != owner.end()) clashes.insert(it->second);
    if (clashes.size() == 1) {
      const ProbePlan& first = plans[*clashes.begin()];
      bool same_sites = first.sites.size() == pp.sites.size();
      for (size_t k = 0; same_sites && k < pp.sites.size(); ++k)
        same_sites = site_key(first.sites[k]) == site_key(pp.sites[k]);
      if (same_sites && interchangeable(*first.probe, *pp.probe, manifest)) {
        pp.covered_by = first.probe->name;
        pp.sites.clear();
        continue;
      }
    }
    for (const auto& s : pp.sites) owner.emplace(site_key(s), i);
  }
  return plans;
}

}  // namespace probe
