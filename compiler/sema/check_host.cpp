// Pass: what the policy names exists on this machine — libraries, binaries, symbols and
// tracepoints. Errors say what was looked for and where; optional targets only warn.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/elf_file.h"
#include "common/ld_cache.h"
#include "common/go_binary.h"
#include "common/strings.h"
#include "common/tracefs.h"
#include "compiler/sema/context.h"

namespace probe {
namespace {

void report(SemaContext& ctx, bool optional, const SourceRange& r, std::string msg,
            std::string hint) {
  if (optional) ctx.diags.warning(r, msg + " (optional, skipped)", std::move(hint));
  else ctx.diags.error(r, std::move(msg), std::move(hint));
}

void resolve_targets(SemaContext& ctx) {
  for (auto& t : ctx.plan.targets) {
    // Not being on this machine is not an error: probed attaches when a process maps the
    // file (a container's own copy, a later install). Symbols are then checked at attach.
    if (t.kind == plan::Target::Kind::kLibrary) {
      t.resolved = resolve_library(t.spec, ctx.options.ld_cache);
      if (t.resolved.empty())
        ctx.diags.warning(t.range,
                          fmt::format("library '{}' is not on this machine; its probes attach when a "
                                      "process maps it",
                                      t.spec),
                          fmt::format("looked in {} and {}", ctx.options.ld_cache,
                                      join(standard_library_dirs(), ", ")));
    } else if (t.kind == plan::Target::Kind::kBinary) {
      if (t.spec.empty() || t.spec[0] != '/')
        ctx.diags.error(t.range, fmt::format("binary '{}' must be an absolute path", t.spec),
                        "write the executable's path as processes see it, e.g. /usr/bin/node");
      else if (access(t.spec.c_str(), R_OK) == 0)
        t.resolved.push_back(t.spec);
      else
        ctx.diags.warning(t.range,
                          fmt::format("binary '{}' is not on this machine; its probes attach when a "
                                      "process runs it",
                                      t.spec));
    }
  }
}

// Stripped Go binaries name their functions only in .gopclntab.
bool in_go_table(const ElfFile& f, const std::string& name) {
  if (!GoBinary::is_go(f)) return false;
  auto go = GoBinary::open(f);
  return go && go->find_function(name).has_value();
}

void check_symbols(SemaContext& ctx) {
  std::map<std::string, std::optional<ElfFile>> files;
  auto open = [&](const std::string& path) -> ElfFile* {
    auto it = files.find(path);
    if (it == files.end()) {
      auto f = ElfFile::open(path);
      it = files.emplace(path, f ? std::optional<ElfFile>(std::move(*f)) : std::nullopt).first;
    }
    return it->second ? &*it->second : nullptr;
  };
  // Plain function names are looked up in one pass over each file's symbol tables; only a
  // miss (for its hint), a versioned name or a pattern opens the full symbol list.
  auto plain = [](const std::string& sym) { return !is_function_pattern(sym) && sym.find('@') == std::string::npos; };
  std::map<std::string, std::set<std::string>> wanted, defined;
  for (const auto& p : ctx.plan.probes) {
    const plan::Target* t = ctx.plan.find_target(p.target);
    if ((p.kind == plan::ProbeKind::kUprobe || p.kind == plan::ProbeKind::kUretprobe) && t && plain(p.symbol))
      for (const auto& path : t->resolved) wanted[path].insert(p.symbol);
  }
  for (const auto& [path, names] : wanted)
    if (auto d = defined_functions(path, names)) defined[path] = std::move(*d);
  for (size_t i = 0; i < ctx.plan.probes.size(); ++i) {
    const auto& p = ctx.plan.probes[i];
    const Node& node = *ctx.probe_nodes[i];
    const SourceRange& at = node.get(plan::probe_kind_name(p.kind))->range;
    if (p.kind == plan::ProbeKind::kUprobe || p.kind == plan::ProbeKind::kUretprobe) {
      const plan::Target* t = ctx.plan.find_target(p.target);
      if (!t || t->resolved.empty()) continue;
      if (plain(p.symbol) && std::any_of(t->resolved.begin(), t->resolved.end(), [&](const std::string& path) {
            auto d = defined.find(path);
            return d != defined.end() && d->second.count(p.symbol);
          }))
        continue;
      bool found = false;
      std::vector<std::string> near;
      for (const auto& path : t->resolved) {
        ElfFile* f = open(path);
        if (!f) continue;
        if (is_function_pattern(p.symbol) ? !f->match_functions(p.symbol).empty()
                                          : f->find_function(p.symbol).has_value() || in_go_table(*f, p.symbol)) {
          found = true;
          break;
        }
        if (!is_function_pattern(p.symbol))
          for (const auto& n : f->nearest_functions(p.symbol)) near.push_back(n);
      }
      if (!found) {
        std::string hint = near.empty() ? fmt::format("`probec list --{} {}` shows its functions",
                                                      plan::target_kind_name(t->kind), t->spec)
                                        : fmt::format("did you mean '{}'?", near.front());
        report(ctx, p.optional || t->optional, at,
               is_function_pattern(p.symbol)
                   ? fmt::format("no function matches '{}' in {}", p.symbol, join(t->resolved, ", "))
                   : fmt::format("function '{}' not found in {}", p.symbol, join(t->resolved, ", ")),
               hint);
      }
    }
  }
}

}  // namespace

void check_host(SemaContext& ctx) {
  if (!ctx.options.check_host) return;
  resolve_targets(ctx);
  check_symbols(ctx);
}

}  // namespace probe
