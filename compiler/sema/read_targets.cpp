// Pass: [target.NAME] tables — what files and processes probes attach to.
#include <fmt/format.h>

#include <regex>

#include "compiler/sema/context.h"
#include "compiler/sema/table_reader.h"

namespace probe {
namespace {

void read_process_selector(const Node& node, const std::string& what, plan::ProcessSelector* sel,
                           Diagnostics& diags) {
  TableReader r(node, what, diags);
  std::vector<SourceRange> comm_ranges;
  sel->comm = r.strings("comm", &comm_ranges);
  for (size_t i = 0; i < sel->comm.size(); ++i)
    if (sel->comm[i].size() > 15)
      diags.error(comm_ranges[i], fmt::format("comm '{}' is longer than 15 characters", sel->comm[i]),
                  "the kernel truncates a task's comm to 15 characters; use 'exe' or 'cmdline'");
  sel->exe = r.strings("exe");
  if (auto c = r.string("cmdline")) {
    try {
      std::regex re(*c, std::regex::extended);
      sel->cmdline = *c;
    } catch (const std::regex_error& e) {
      diags.error(node.get("cmdline")->range, fmt::format("invalid cmdline regex: {}", e.what()));
    }
  }
  if (const Node* pids = r.get_any("pid")) {
    auto add = [&](const Node& n) {
      if (!n.is_integer() || n.integer <= 0)
        diags.error(n.range, "pid must be a positive integer");
      else
        sel->pid.push_back(n.integer);
    };
    if (pids->is_array())
      for (const auto& p : pids->array) add(p);
    else
      add(*pids);
  }
  sel->cgroup = r.strings("cgroup");
  if (auto c = r.string("container")) {
    static const std::vector<std::string> kModes = {"any", "host", "containers"};
    if (std::find(kModes.begin(), kModes.end(), *c) == kModes.end())
      diags.error(node.get("container")->range, fmt::format("unknown container mode '{}'", *c),
                  "expected \"any\", \"host\" or \"containers\"");
    else
      sel->container = *c;
  }
  r.finish();
}

}  // namespace

void read_targets(SemaContext& ctx) {
  const Node* targets = ctx.root.get("target");
  if (!targets || !targets->is_table()) return;
  for (const auto& [name, node] : targets->table) {
    std::string what = fmt::format("target '{}'", name);
    if (!node.is_table()) {
      ctx.diags.error(node.range, fmt::format("{} must be a table", what));
      continue;
    }
    plan::Target t;
    t.name = name;
    t.range = node.key_range.valid() ? node.key_range : node.range;
    TableReader r(node, what, ctx.diags);
    auto lib = r.string("library");
    auto bin = r.string("binary");
    if (lib && bin) {
      ctx.diags.error(node.get("binary")->range, fmt::format("{} names both a library and a binary", what),
                      "split it into two targets");
    }
    if (lib) {
      t.kind = plan::Target::Kind::kLibrary;
      t.spec = *lib;
    } else if (bin) {
      t.kind = plan::Target::Kind::kBinary;
      t.spec = *bin;
    } else {
      t.kind = plan::Target::Kind::kProcess;
    }
    if ((lib && lib->empty()) || (bin && bin->empty()))
      ctx.diags.error(t.range, fmt::format("{} has an empty file name", what));
    if (const Node* p = r.get("process", Node::Kind::kTable))
      read_process_selector(*p, what + " process selector", &t.process, ctx.diags);
    if (auto opt = r.boolean("optional")) t.optional = *opt;
    r.finish();
    if (t.kind == plan::Target::Kind::kProcess && t.process.empty() && !node.get("process"))
      ctx.diags.error(t.range, fmt::format("{} names no library, binary or process", what),
                      "set library = \"libssl.so.3\", binary = \"/usr/bin/node\" or a process "
                      "selector such as process = { comm = [\"curl\"] }");
    ctx.plan.targets.push_back(std::move(t));
  }
}

}  // namespace probe
