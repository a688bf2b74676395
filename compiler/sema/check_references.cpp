// Pass: names that refer to other parts of the policy (targets, captures) resolve, and the
// kinds on both ends fit together.
#include <fmt/format.h>

#include "compiler/sema/context.h"

namespace probe {
namespace {

using plan::ValueRef;

std::vector<std::string> target_names(const plan::Plan& p) {
  std::vector<std::string> names;
  for (const auto& t : p.targets) names.push_back(t.name);
  return names;
}

const plan::Capture* find_capture(const plan::Probe& p, const std::string& name) {
  for (const auto& c : p.captures)
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<std::string> capture_names(const plan::Probe& p) {
  std::vector<std::string> names;
  for (const auto& c : p.captures) names.push_back(c.name);
  return names;
}

}  // namespace

void check_references(SemaContext& ctx) {
  for (size_t i = 0; i < ctx.plan.probes.size(); ++i) {
    auto& p = ctx.plan.probes[i];
    const Node& node = *ctx.probe_nodes[i];
    if (!p.target.empty()) {
      const plan::Target* t = ctx.plan.find_target(p.target);
      const Node* tn = node.get("target");
      if (!t) {
        std::string hint = did_you_mean(p.target, target_names(ctx.plan));
        ctx.diags.error(tn->range, fmt::format("unknown target '{}'", p.target),
                        hint.empty() ? fmt::format("define it with [target.{}]", p.target) : hint);
      } else if (plan::is_user_space(p.kind) && t->kind == plan::Target::Kind::kProcess) {
        ctx.diags.error(tn->range,
                        fmt::format("{} needs a file, but target '{}' only selects processes",
                                    plan::probe_kind_name(p.kind), p.target),
                        "give the target a library or binary");
      } else if (!plan::is_user_space(p.kind) && t->kind != plan::Target::Kind::kProcess) {
        ctx.diags.error(tn->range,
                        fmt::format("a {} attaches to the kernel; target '{}' names a file",
                                    plan::probe_kind_name(p.kind), p.target),
                        "kernel probes take targets with only a process selector");
      }
    }
    if (p.offset != 0 && p.kind != plan::ProbeKind::kUprobe && p.kind != plan::ProbeKind::kKprobe)
      ctx.diags.error(node.get("offset")->range,
                      fmt::format("'offset' applies to uprobe and kprobe, not {}",
                                  plan::probe_kind_name(p.kind)));

    // Lengths and filters may name other captures of the same probe.
    for (auto& c : p.captures) {
      if (!c.len || c.len->source != ValueRef::Source::kCapture) continue;
      const plan::Capture* len = find_capture(p, c.len->name);
      if (!len || plan::is_variable(len->type) || len->name == c.name) {
        std::string hint = did_you_mean(c.len->name, capture_names(p));
        ctx.diags.error(c.len->range,
                        fmt::format("length '{}' is not an integer capture of this probe", c.len->name),
                        hint.empty() ? "a length is argN, ret, *argN or an integer capture" : hint);
      }
    }
    for (auto& f : p.filters) {
      if (f.lhs.source != ValueRef::Source::kCapture) {
        bool comm = f.lhs.source == ValueRef::Source::kBuiltin && f.lhs.builtin == plan::Builtin::kComm;
        if (comm != f.string_literal)
          ctx.diags.error(f.range, fmt::format("filter compares {} '{}' with {}", comm ? "text" : "number",
                                               f.lhs.text, f.string_literal ? "a string" : "a number"));
        else if (comm && f.str_value.size() > 15)
          ctx.diags.error(f.range, fmt::format("comm has at most 15 characters; \"{}\" has {}",
                                               f.str_value, f.str_value.size()));
        continue;
      }
      const plan::Capture* c = find_capture(p, f.lhs.name);
      if (!c) {
        std::string hint = did_you_mean(f.lhs.name, capture_names(p));
        ctx.diags.error(f.lhs.range, fmt::format("unknown value '{}' in filter", f.lhs.name),
                        hint.empty() ? "filters compare a capture name or argN, ret, pid, comm, ..."
                                     : hint);
        continue;
      }
      bool var = plan::is_variable(c->type);
      size_t limit = c->value.source == ValueRef::Source::kBuiltin ? 15 : 32;
      if (f.string_literal && f.str_value.size() > limit)
        ctx.diags.error(f.range,
                        fmt::format("in-kernel string filters compare at most {} bytes; \"{}\" has {}",
                                    limit, f.str_value, f.str_value.size()),
                        "filter on a shorter prefix and check the rest in a handler");
      if (var != f.string_literal) {
        ctx.diags.error(f.range,
                        fmt::format("filter compares {} capture '{}' with {}",
                                    var ? "text" : "numeric", c->name,
                                    f.string_literal ? "a string" : "a number"));
      }
    }
  }
}

}  // namespace probe
