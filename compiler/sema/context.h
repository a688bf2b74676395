// State shared by the semantic passes: the parsed tree, the plan being built, diagnostics.
#pragma once

#include <string>

#include "compiler/diag/diagnostics.h"
#include "compiler/frontend/node.h"
#include "compiler/plan/plan.h"

namespace probe {

struct SemaOptions {
  // Look for libraries, binaries and symbols on this machine. Off for pure syntax checks.
  bool check_host = true;
  std::string ld_cache = "/etc/ld.so.cache";
};

struct SemaContext {
  Node& root;  // included packs are merged into it
  SemaOptions options;
  Diagnostics& diags;
  plan::Plan plan;
  // Node of each probe, by probe index, for passes that revisit keys.
  std::vector<const Node*> probe_nodes;
};

// One pass per file; each reads or checks one part of the policy.
void resolve_includes(SemaContext& ctx);
void read_policy_section(SemaContext& ctx);
void read_targets(SemaContext& ctx);
void read_probes(SemaContext& ctx);
void read_metrics(SemaContext& ctx);
void read_outputs(SemaContext& ctx);
void check_references(SemaContext& ctx);
void check_host(SemaContext& ctx);
void plan_watcher(SemaContext& ctx);

}  // namespace probe
