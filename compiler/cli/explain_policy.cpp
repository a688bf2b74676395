#include "compiler/cli/explain_policy.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>

#include "common/ld_cache.h"
#include "common/strings.h"
#include "compiler/pipeline.h"
#include "compiler/placement/site_plan.h"

namespace probe {

int explain_policy(const std::string& policy_path) {
  SemaOptions sema;
  Diagnostics diags;
  auto program = run_front_end(policy_path, sema, diags);
  std::string text = diags.format(isatty(2));
  if (!text.empty()) fmt::print(stderr, "{}", text);
  if (!program) return 1;
  const Manifest& m = program->manifest;
  bool any = false;
  for (const auto& t : m.targets) {
    std::vector<const ProbeManifest*> planned, as_written;
    for (const auto& p : m.probes) {
      if (p.target != t.name) continue;
      (planned_probe(p) ? planned : as_written).push_back(&p);
    }
    if (planned.empty() && as_written.empty()) continue;
    std::vector<std::string> files = t.kind == plan::Target::Kind::kLibrary ? resolve_library(t.spec)
                                                                              : std::vector<std::string>{t.spec};
    if (t.kind == plan::Target::Kind::kProcess) continue;
    any = true;
    if (files.empty() || access(files[0].c_str(), R_OK) != 0) {
      fmt::print("target {} ({}): not on this machine; placement is decided when a process maps it\n\n", t.name,
                 t.spec);
      continue;
    }
    for (const auto& file : files) {
      fmt::print("target {}: {}\n", t.name, file);
      for (const auto* p : as_written)
        fmt::print("  {} ({} {}): as written{}\n", p->name, plan::probe_kind_name(p->kind), p->symbol,
                   p->kind == plan::ProbeKind::kUsdt ? "" : " (placement off, a pattern, an offset or reg.*)");
      if (planned.empty()) continue;
      auto planner = FilePlanner::open(file);
      if (!planner) {
        fmt::print("  cannot analyse: {}\n", planner.error().message);
        continue;
      }
      std::map<std::string, std::string> errors;
      auto plans = (*planner)->plan(planned, m, &errors);
      for (const auto* p : planned) {
        if (auto e = errors.find(p->name); e != errors.end()) {
          fmt::print("  {} ({} {}): {}\n", p->name, plan::probe_kind_name(p->kind), p->symbol, e->second);
          continue;
        }
        for (const auto& pl : plans) {
          if (pl.probe != p) continue;
          fmt::print("  {} ({} {}, placement {}): {}\n", p->name, plan::probe_kind_name(p->kind), p->symbol,
                     plan::placement_name(p->placement), pl.summary());
          if (pl.covered_by.empty())
            for (const auto& line : pl.placement.explanation) fmt::print("      - {}\n", line);
        }
      }
      fmt::print("\n");
    }
  }
  if (!any) fmt::print("{}: no user-space function probes to place\n", policy_path);
  return 0;
}

}  // namespace probe
