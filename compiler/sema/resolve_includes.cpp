// Pass: `include` in [policy] (and in packs) pulls stdlib packs or policy files into the
// tree. A pack is a policy fragment with a [pack] table declaring parameters:
//
//   [pack]
//   name = "tls/openssl"
//   params = { library = "libssl.so.3", max = 4096 }
//
// and "{{max}}" anywhere in its values is replaced by the parameter (a string that is only
// "{{max}}" takes the parameter's type, so max = "{{max}}" becomes an integer). Its
// targets, probes and metrics are merged into the including policy; locations keep pointing
// into the pack. `prefix = "static_"` renames the pack's own targets, probes and metrics (and
// its references to them), so one pack can serve two files in one policy.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "common/files.h"
#include "common/strings.h"
#include "compiler/frontend/parse_policy.h"
#include "compiler/sema/context.h"
#include "compiler/sema/table_reader.h"
#include "stdlib/stdlib.h"

namespace probe {
namespace {

constexpr int kMaxIncludeDepth = 16;
const char* kMergedSections[] = {"target", "probe", "metric"};

std::vector<std::string> pack_names() {
  std::vector<std::string> names;
  for (auto path : stdlib::list("packs/")) {
    std::string p(path.substr(6));
    if (ends_with(p, ".toml")) names.push_back(p.substr(0, p.size() - 5));
  }
  return names;
}

// Same spelling for the same file, so include cycles are seen whatever the relative path.
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// The path shown to users: relative to where they pointed us, without "./" noise.
std::string display_path(const std::string& from_file, const std::string& spec) {
  return std::filesystem::path(resolve_relative(from_file, spec)).lexically_normal().string();
}

std::string param_text(const Node& v) {
  switch (v.kind) {
    case Node::Kind::kString: return v.str;
    case Node::Kind::kInteger: return std::to_string(v.integer);
    case Node::Kind::kBool: return v.boolean ? "true" : "false";
    case Node::Kind::kFloat: return fmt::format("{}", v.number);
    default: return "";
  }
}

struct Includer {
  SemaContext& ctx;
  std::vector<std::string> stack;    // include chain (canonical paths), for cycles
  std::vector<std::string> shown;    // the same chain as users wrote it
  std::map<std::string, std::string> defined_in;  // "probe.x" → file that defined it
  std::set<std::string> included;  // pack path + parameter values already merged

  // Replaces {{name}} in every string of `n`.
  void substitute(Node& n, const std::map<std::string, Node>& params, const std::string& pack) {
    if (n.is_string()) {
      std::string& s = n.str;
      if (s.size() > 4 && starts_with(s, "{{") && ends_with(s, "}}") &&
          s.find("{{", 2) == std::string::npos) {
        auto it = params.find(std::string(trim(s.substr(2, s.size() - 4))));
        if (it != params.end()) {
          SourceRange r = n.range, kr = n.key_range;
          n = it->second;
          n.range = r;
          n.key_range = kr;
          return;
        }
      }
      size_t pos = 0;
      while ((pos = s.find("{{", pos)) != std::string::npos) {
        size_t end = s.find("}}", pos);
        if (end == std::string::npos) break;
        std::string name(trim(s.substr(pos + 2, end - pos - 2)));
        auto it = params.find(name);
        if (it == params.end()) {
          std::vector<std::string> names;
          for (const auto& [k, v] : params) names.push_back(k);
          ctx.diags.error(n.range, fmt::format("pack '{}' has no parameter '{}'", pack, name),
                          did_you_mean(name, names));
          pos = end + 2;
          continue;
        }
        std::string v = param_text(it->second);
        s.replace(pos, end + 2 - pos, v);
        pos += v.size();
      }
      return;
    }
    for (auto& [k, child] : n.table) substitute(child, params, pack);
    for (auto& child : n.array) substitute(child, params, pack);
  }

  void note_definitions(const Node& doc, const std::string& file) {
    for (const char* section : kMergedSections)
      if (const Node* t = doc.get(section); t && t->is_table())
        for (const auto& [name, v] : t->table) defined_in[std::string(section) + "." + name] = file;
  }

  // Adds the pack's targets, probes and metrics to the root, refusing duplicates.
  void merge(Node& pack, const std::string& pack_label, const SourceRange& at) {
    for (const char* section : kMergedSections) {
      Node* from = nullptr;
      for (auto& [k, v] : pack.table)
        if (k == section && v.is_table()) from = &v;
      if (!from) continue;
      Node* into = nullptr;
      for (auto& [k, v] : ctx.root.table)
        if (k == section) into = &v;
      if (!into) {
        ctx.root.table.push_back({section, Node{}});
        into = &ctx.root.table.back().second;
        into->kind = Node::Kind::kTable;
        into->range = at;
      }
      for (auto& [name, v] : from->table) {
        std::string key = std::string(section) + "." + name;
        if (into->get(name)) {
          ctx.diags.error(at, fmt::format("{} '{}' from {} is already defined in {}", section, name,
                                          pack_label, defined_in[key]),
                          "rename one of them; pack definitions cannot be overridden");
          continue;
        }
        defined_in[key] = pack_label;
        into->table.push_back({name, std::move(v)});
      }
    }
  }

  // Renames the pack's own definitions and the references between them: a probe's target,
  // a metric's probe. Names from elsewhere (another pack's target) stay as they are.
  void apply_prefix(Node& doc, const std::string& prefix) {
    std::map<std::string, std::set<std::string>> renamed;  // section → old names
    for (auto& [section, defs] : doc.table) {
      if (!defs.is_table() || std::find(std::begin(kMergedSections), std::end(kMergedSections), section) ==
                                  std::end(kMergedSections))
        continue;
      for (auto& [name, v] : defs.table) {
        renamed[section].insert(name);
        name = prefix + name;
      }
    }
    auto follow = [&](Node& def, const char* key, const char* section) {
      for (auto& [k, v] : def.table)
        if (k == key && v.is_string() && renamed[section].count(v.str)) v.str = prefix + v.str;
    };
    for (auto& [section, defs] : doc.table) {
      if (!defs.is_table()) continue;
      for (auto& [name, def] : defs.table) {
        if (section == "probe") follow(def, "target", "target");
        if (section == "metric") follow(def, "probe", "probe");
      }
    }
  }

  std::optional<Node> load(const std::string& spec, const std::string& from_file, const SourceRange& at,
                           std::string* label) {
    bool is_file = starts_with(spec, "./") || starts_with(spec, "../") || starts_with(spec, "/") ||
                   ends_with(spec, ".toml") || ends_with(spec, ".lua");
    std::string path, text, shown_path;
    if (is_file) {
      shown_path = display_path(from_file, spec);
      path = canonical(shown_path);
      auto t = read_text_file(shown_path);
      if (!t) {
        ctx.diags.error(at, fmt::format("cannot include '{}': {}", spec, t.error().message));
        return std::nullopt;
      }
      text = std::move(*t);
      *label = shown_path;
    } else {
      auto embedded = stdlib::find("packs/" + spec + ".toml");
      if (!embedded) {
        std::string hint = did_you_mean(spec, pack_names());
        ctx.diags.error(at, fmt::format("unknown pack '{}'", spec),
                        hint.empty() ? "available packs: " + join(pack_names(), ", ") : hint);
        return std::nullopt;
      }
      text = std::string(*embedded);
      path = shown_path = "<stdlib>/packs/" + spec + ".toml";
      *label = "pack '" + spec + "'";
    }
    if (std::find(stack.begin(), stack.end(), path) != stack.end()) {
      std::vector<std::string> chain = shown;
      chain.push_back(shown_path);
      ctx.diags.error(at, fmt::format("include cycle: {}", join(chain, " -> ")));
      return std::nullopt;
    }
    auto file = std::make_shared<SourceFile>(shown_path, std::move(text));
    return parse_policy_source(file, ctx.diags);
  }

  // Reads `include` from `holder` (the [policy] or [pack] table of `doc_path`).
  void include_all(const Node& holder, const std::string& doc_path, int depth) {
    const Node* list = holder.get("include");
    if (!list) return;
    if (depth > kMaxIncludeDepth) {
      ctx.diags.error(list->range, "includes nest too deeply");
      return;
    }
    std::vector<const Node*> items;
    if (list->is_array()) for (const auto& i : list->array) items.push_back(&i);
    else items.push_back(list);
    for (const Node* item : items) include_one(*item, doc_path, depth);
  }

  void include_one(const Node& item, const std::string& doc_path, int depth) {
    std::string spec, prefix;
    const Node* params = nullptr;
    if (item.is_string()) {
      spec = item.str;
    } else if (item.is_table()) {
      TableReader r(item, "include", ctx.diags);
      auto p = r.string("pack", true);
      params = r.get("params", Node::Kind::kTable);
      if (const Node* pre = r.get("prefix", Node::Kind::kString)) {
        prefix = pre->str;
        bool word = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
        if (!word) {
          ctx.diags.error(pre->range, fmt::format("prefix '{}' is not a name part", prefix),
                          "use letters, digits and '_', e.g. prefix = \"static_\"");
          return;  // one error, not one per renamed definition
        }
      }
      r.finish();
      if (!p) return;
      spec = *p;
    } else {
      ctx.diags.error(item.range, "an include is a pack name, a file path, or { pack = \"...\", params = { ... } }");
      return;
    }
    std::string label;
    auto doc = load(spec, doc_path, item.range, &label);
    if (!doc) return;
    const Node* pack_table = doc->get("pack");
    std::map<std::string, Node> values;
    std::string pack_shown = doc->range.file ? doc->range.file->path() : spec;
    std::string pack_path = starts_with(pack_shown, "<stdlib>") ? pack_shown : canonical(pack_shown);
    if (pack_table && pack_table->is_table()) {
      TableReader pr(*pack_table, "[pack]", ctx.diags);
      pr.string("name");
      pr.string("description");
      pr.get_any("include");
      if (const Node* defaults = pr.get("params", Node::Kind::kTable))
        for (const auto& [k, v] : defaults->table) values[k] = v;
      pr.finish();
    }
    if (params) {
      for (const auto& [k, v] : params->table) {
        if (!values.count(k)) {
          std::vector<std::string> names;
          for (const auto& [n, d] : values) names.push_back(n);
          ctx.diags.error(v.key_range, fmt::format("{} has no parameter '{}'", label, k),
                          names.empty() ? "it takes no parameters" : did_you_mean(k, names));
          continue;
        }
        if (v.kind != values[k].kind) {
          ctx.diags.error(v.range, fmt::format("parameter '{}' of {} must be {}, not {}", k, label,
                                               a_kind(values[k].kind), a_kind(v.kind)));
          continue;
        }
        values[k] = v;
      }
    }
    // The same pack with the same parameters twice (tls/openssl and tls/gnutls both include
    // tls/sockets) is one set of definitions, not a conflict.
    std::string identity = pack_path + "\nprefix=" + prefix;
    for (const auto& [k, v] : values) identity += "\n" + k + "=" + param_text(v);
    if (!included.insert(identity).second) return;
    substitute(*doc, values, spec);
    stack.push_back(pack_path);
    shown.push_back(pack_shown);
    if (pack_table) include_all(*doc->get("pack"), pack_shown, depth + 1);
    else if (const Node* pol = doc->get("policy"); pol && pol->is_table()) include_all(*pol, pack_shown, depth + 1);
    stack.pop_back();
    shown.pop_back();
    // Only definitions travel; a file's own [policy], handlers and sinks stay with it.
    TableReader top(*doc, label, ctx.diags);
    for (const char* s : kMergedSections) top.get(s, Node::Kind::kTable);
    top.get_any("pack");
    top.get_any("policy");
    top.finish();
    if (!prefix.empty()) apply_prefix(*doc, prefix);
    merge(*doc, label, item.range);
  }
};

}  // namespace

void resolve_includes(SemaContext& ctx) {
  const Node* policy = ctx.root.get("policy");
  if (!policy || !policy->is_table() || !policy->get("include")) return;
  Includer inc{ctx, {}, {}, {}};
  std::string main_shown = ctx.root.range.file ? ctx.root.range.file->path() : "";
  inc.stack.push_back(canonical(main_shown));
  inc.shown.push_back(main_shown);
  inc.note_definitions(ctx.root, main_shown);
  Node policy_copy = *policy;  // the root changes while includes are merged
  inc.include_all(policy_copy, main_shown, 0);
}

}  // namespace probe
