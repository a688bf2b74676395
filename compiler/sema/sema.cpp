#include "compiler/sema/sema.h"

#include <climits>
#include <cstdlib>

#include "common/files.h"
#include "compiler/frontend/parse_policy.h"

namespace probe {
namespace {

using Pass = void (*)(SemaContext&);

// Reading passes each report everything they find; checking passes run only on a tree that
// read cleanly, so users are not shown errors that follow from an earlier one.
constexpr Pass kReadPasses[] = {resolve_includes, read_policy_section, read_targets, read_probes,
                                read_metrics, read_outputs};
constexpr Pass kCheckPasses[] = {check_references, check_host, plan_watcher};

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

}  // namespace

std::optional<plan::Plan> analyze_policy_text(const std::string& path, std::string text,
                                              const SemaOptions& options, Diagnostics& diags) {
  auto file = std::make_shared<SourceFile>(path, std::move(text));
  std::optional<Node> root = parse_policy_source(file, diags);
  if (!root) return std::nullopt;
  SemaContext ctx{*root, options, diags, {}, {}};
  ctx.plan.policy_path = absolute(path);
  for (Pass pass : kReadPasses) pass(ctx);
  if (diags.has_errors()) return std::nullopt;
  for (Pass pass : kCheckPasses) {
    pass(ctx);
    if (diags.has_errors()) return std::nullopt;
  }
  return std::move(ctx.plan);
}

std::optional<plan::Plan> analyze_policy_file(const std::string& path, const SemaOptions& options,
                                              Diagnostics& diags) {
  auto text = read_text_file(path);
  if (!text) {
    diags.error({}, text.error().message);
    return std::nullopt;
  }
  return analyze_policy_text(path, std::move(*text), options, diags);
}

}  // namespace probe
