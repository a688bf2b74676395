#include "runtime/daemon/probe_diff.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "common/strings.h"
#include "compiler/placement/site_plan.h"

namespace probe {
namespace {

std::string list(const std::vector<std::string>& names) {
  return names.empty() ? "" : fmt::format(" ({})", join(names, ", "));
}

}  // namespace

std::string ProbeDiff::summary() const {
  return fmt::format("{} unchanged, {} changed{}, {} added{}, {} removed{}", unchanged.size(), changed.size(),
                     list(changed), added.size(), list(added), removed.size(), list(removed));
}

ProbeDiff diff_probes(const std::vector<ProbeRef>& running, const Manifest& next) {
  std::map<std::string, ProbeRef> by_name;
  for (const auto& r : running) by_name[r.probe->name] = r;

  ProbeDiff d;
  d.keep.resize(next.probes.size());
  for (const auto& p : next.probes) {
    auto it = by_name.find(p.name);
    if (it != by_name.end() && !p.fingerprint.empty() && p.fingerprint == it->second.probe->fingerprint)
      d.keep[p.id] = it->second;
  }
  // A target whose planned probes do not all stay the same is replaced as a whole.
  std::set<std::string> replanned;
  for (const auto& p : next.probes)
    if (planned_probe(p) && !d.keep[p.id]) replanned.insert(p.target);
  std::set<std::string> next_names;
  for (const auto& p : next.probes) next_names.insert(p.name);
  for (const auto& r : running)
    if (planned_probe(*r.probe) && !next_names.count(r.probe->name)) replanned.insert(r.probe->target);
  for (const auto& p : next.probes)
    if (planned_probe(p) && replanned.count(p.target)) d.keep[p.id].reset();

  std::set<std::string> kept;
  for (const auto& p : next.probes) {
    if (d.keep[p.id]) {
      kept.insert(p.name);
      d.unchanged.push_back(p.name);
    } else {
      (by_name.count(p.name) ? d.changed : d.added).push_back(p.name);
    }
  }
  for (const auto& r : running) {
    if (kept.count(r.probe->name)) continue;
    d.detach.push_back(r);
    if (!next_names.count(r.probe->name)) d.removed.push_back(r.probe->name);
  }
  return d;
}

}  // namespace probe
