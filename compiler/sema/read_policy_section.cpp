// Pass: the [policy] table and the top-level key set.
#include <fmt/format.h>

#include "compiler/sema/context.h"
#include "compiler/sema/table_reader.h"

namespace probe {

void read_policy_section(SemaContext& ctx) {
  TableReader top(ctx.root, "the policy", ctx.diags);
  for (const char* section : {"target", "probe", "metric", "handlers", "sinks", "runtime"})
    top.get(section, Node::Kind::kTable);
  const Node* policy = top.require("policy", Node::Kind::kTable);
  top.finish();
  if (!policy) return;

  TableReader r(*policy, "[policy]", ctx.diags);
  if (auto name = r.string("name", /*required=*/true)) {
    ctx.plan.name = *name;
    if (name->empty()) ctx.diags.error(policy->get("name")->range, "policy name must not be empty");
  }
  if (auto d = r.string("description")) ctx.plan.description = *d;
  r.get_any("include");  // handled by resolve_includes
  if (auto k = r.string("min_kernel")) {
    int major = 0, minor = 0;
    if (sscanf(k->c_str(), "%d.%d", &major, &minor) != 2 || major < 5 ||
        (major == 5 && minor < 8)) {
      ctx.diags.error(policy->get("min_kernel")->range,
                      fmt::format("min_kernel '{}' must be a version 5.8 or later", *k),
                      "probekit needs BPF ring buffers and CO-RE, available from Linux 5.8");
    } else {
      ctx.plan.min_kernel = *k;
    }
  }
  r.finish();
}

}  // namespace probe
