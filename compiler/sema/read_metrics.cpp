// Pass: [metric.NAME] tables — in-kernel aggregations keyed by labels. The user names labels
// and where their values come from; the compiler lays out the key.
#include <fmt/format.h>

#include <regex>

#include "compiler/sema/context.h"
#include "compiler/sema/signature.h"
#include "compiler/sema/table_reader.h"
#include "compiler/sema/value_expr.h"

namespace probe {
namespace {

using plan::FieldType;
using plan::Metric;
using plan::ValueRef;

constexpr uint32_t kMaxStringLabel = 64;

bool valid_metric_name(const std::string& n) {
  static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(n, re);
}

bool valid_label_name(const std::string& n) {
  static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(n, re) && n.rfind("__", 0) != 0;
}

// A label or value source: a capture of the probe, a signature parameter, or any value
// expression the probe can read. Returns the value and its type.
std::optional<std::pair<ValueRef, FieldType>> resolve_source(const Node& n, const plan::Probe& probe,
                                                             Diagnostics& diags) {
  for (const auto& c : probe.captures)
    if (c.name == n.str) return std::pair(c.value, c.type);
  if (probe.signature) {
    int idx = signature_param_index(*probe.signature, n.str);
    if (idx >= 0) {
      ValueRef v;
      v.source = ValueRef::Source::kArg;
      v.index = idx;
      v.text = n.str;
      v.range = n.range;
      return std::pair(v, probe.signature->params[idx].type);
    }
  }
  ValueParseError err;
  auto v = parse_value_ref(n.str, /*allow_capture=*/true, &err);
  if (!v || v->source == ValueRef::Source::kCapture) {
    std::vector<std::string> names;
    for (const auto& c : probe.captures) names.push_back(c.name);
    std::string hint = did_you_mean(n.str, names);
    diags.error(n.range, fmt::format("'{}' is not a capture of probe '{}' or a value it can read", n.str, probe.name),
                hint.empty() ? "use a capture name, a builtin (pid, comm, cgroup, ...), argN or ret" : hint);
    return std::nullopt;
  }
  v->range = n.range;
  FieldType t = FieldType::kI64;
  if (v->source == ValueRef::Source::kBuiltin) t = builtin_type(v->builtin);
  else if (v->source == ValueRef::Source::kRet) t = probe.returns;
  bool needs_ret = v->needs_return() || (v->source == ValueRef::Source::kBuiltin &&
                                         v->builtin == plan::Builtin::kElapsed);
  if (needs_ret && !plan::fires_at_return(probe.kind)) {
    diags.error(n.range, fmt::format("'{}' is only known at return, but probe '{}' is a {}", n.str,
                                     probe.name, plan::probe_kind_name(probe.kind)),
                "aggregate on a return probe (uretprobe, kretprobe, fexit)");
    return std::nullopt;
  }
  return std::pair(*v, t);
}

void read_buckets(const Node* n, Metric& m, Diagnostics& diags) {
  if (!n) return;
  if (n->is_string()) {
    if (n->str != "log2")
      diags.error(n->range, fmt::format("unknown bucket scheme '{}'", n->str),
                  "use \"log2\", { linear = { min = 0, max = 1000, step = 100 } } or [1, 5, 10]");
    return;
  }
  if (n->is_array()) {
    m.buckets.kind = Metric::Buckets::Kind::kExplicit;
    for (const auto& b : n->array) {
      if (!b.is_integer()) {
        diags.error(b.range, "explicit bucket bounds must be integers (in the unit of the value)");
        return;
      }
      if (!m.buckets.bounds.empty() && b.integer <= m.buckets.bounds.back()) {
        diags.error(b.range, "bucket bounds must increase");
        return;
      }
      m.buckets.bounds.push_back(b.integer);
    }
    if (m.buckets.bounds.empty() || m.buckets.bounds.size() > 256)
      diags.error(n->range, "give between 1 and 256 bucket bounds");
    return;
  }
  if (n->is_table()) {
    TableReader r(*n, "buckets", diags);
    const Node* lin = r.require("linear", Node::Kind::kTable);
    r.finish();
    if (!lin) return;
    TableReader lr(*lin, "linear buckets", diags);
    auto min = lr.integer("min", INT64_MIN / 2, INT64_MAX / 2);
    auto max = lr.integer("max", INT64_MIN / 2, INT64_MAX / 2);
    auto step = lr.integer("step", 1, INT64_MAX / 2);
    bool complete = lin->get("min") && lin->get("max") && lin->get("step");
    lr.finish();
    if (!complete) {
      diags.error(lin->range, "linear buckets need min, max and step");
      return;
    }
    if (!min || !max || !step) return;
    if (*max <= *min || (*max - *min) / *step > 1024) {
      diags.error(lin->range, "linear buckets need min < max and at most 1024 steps");
      return;
    }
    m.buckets.kind = Metric::Buckets::Kind::kLinear;
    m.buckets.min = *min;
    m.buckets.max = *max;
    m.buckets.step = *step;
    return;
  }
  diags.error(n->range, "buckets must be \"log2\", a table { linear = ... } or an array of bounds");
}

void read_metric(SemaContext& ctx, const std::string& name, const Node& node) {
  std::string what = fmt::format("metric '{}'", name);
  Metric m;
  m.name = name;
  m.range = node.key_range.valid() ? node.key_range : node.range;
  if (!valid_metric_name(name))
    ctx.diags.error(m.range, fmt::format("'{}' is not a valid Prometheus metric name", name),
                    "use letters, digits, '_' and ':', not starting with a digit");
  TableReader r(node, what, ctx.diags);
  const Node* kind = r.require("kind", Node::Kind::kString);
  const Node* probe = r.require("probe", Node::Kind::kString);
  const Node* labels = r.get("labels", Node::Kind::kTable);
  const Node* value = r.get("value", Node::Kind::kString);
  const Node* buckets = r.get_any("buckets");
  if (auto h = r.string("help")) m.help = *h;
  if (auto s = r.integer("max_series", 1, 1000000)) m.max_series = static_cast<uint32_t>(*s);
  r.finish();
  if (!kind || !probe) return;

  if (kind->str == "counter") m.kind = Metric::Kind::kCounter;
  else if (kind->str == "sum") m.kind = Metric::Kind::kSum;
  else if (kind->str == "histogram") m.kind = Metric::Kind::kHistogram;
  else {
    ctx.diags.error(kind->range, fmt::format("unknown metric kind '{}'", kind->str),
                    did_you_mean(kind->str, {"counter", "sum", "histogram"}).empty()
                        ? "use counter, sum or histogram"
                        : did_you_mean(kind->str, {"counter", "sum", "histogram"}));
    return;
  }
  const plan::Probe* p = ctx.plan.find_probe(probe->str);
  if (!p) {
    std::vector<std::string> names;
    for (const auto& pr : ctx.plan.probes) names.push_back(pr.name);
    std::string hint = did_you_mean(probe->str, names);
    ctx.diags.error(probe->range, fmt::format("unknown probe '{}'", probe->str),
                    hint.empty() ? "name a [probe.NAME] of this policy" : hint);
    return;
  }
  m.probe = p->name;
  if (m.kind == Metric::Kind::kCounter && value)
    ctx.diags.error(value->range, "a counter counts events and takes no value",
                    "use kind = \"sum\" to add up a value, or \"histogram\" for its distribution");
  if (m.kind != Metric::Kind::kCounter && !value)
    ctx.diags.error(node.key_range.valid() ? node.key_range : node.range,
                    fmt::format("{} {} needs a value", plan::metric_kind_name(m.kind), what),
                    "add value = \"<capture or value>\", e.g. value = \"elapsed\"");
  if (value) {
    if (auto src = resolve_source(*value, *p, ctx.diags)) {
      if (plan::is_variable(src->second)) {
        ctx.diags.error(value->range, fmt::format("'{}' is not a number", value->str));
      } else {
        m.value = src->first;
        m.value_type = src->second;
      }
    }
  }
  if (buckets && m.kind != Metric::Kind::kHistogram)
    ctx.diags.error(buckets->range, "'buckets' applies only to histograms");
  else if (m.kind == Metric::Kind::kHistogram)
    read_buckets(buckets, m, ctx.diags);
  if (labels) {
    for (const auto& [label, src] : labels->table) {
      if (!valid_label_name(label)) {
        ctx.diags.error(src.key_range, fmt::format("'{}' is not a valid label name", label));
        continue;
      }
      if (!src.is_string()) {
        ctx.diags.error(src.range, fmt::format("label '{}' needs a source: a capture name or value", label));
        continue;
      }
      auto s = resolve_source(src, *p, ctx.diags);
      if (!s) continue;
      plan::Metric::Label l;
      l.name = label;
      l.value = s->first;
      l.type = s->second;
      if (s->second == FieldType::kBytes) {
        ctx.diags.error(src.range, fmt::format("label '{}' would be a byte buffer", label),
                        "labels are numbers or short strings (str captures up to 64 bytes, comm)");
        continue;
      }
      if (s->second == FieldType::kString) {
        uint32_t max = 16;
        for (const auto& c : p->captures)
          if (c.name == src.str) max = c.max;
        if (max > kMaxStringLabel) {
          ctx.diags.error(src.range, fmt::format("label '{}' is a string of up to {} bytes; labels hold at most {}",
                                                 label, max, kMaxStringLabel),
                          "lower the capture's max");
          continue;
        }
        l.size = max;
      } else {
        l.size = plan::scalar_size(s->second);
      }
      m.labels.push_back(std::move(l));
    }
  }
  if (m.kind == Metric::Kind::kCounter && valid_metric_name(name) &&
      (name.size() < 6 || name.substr(name.size() - 6) != "_total"))
    ctx.diags.warning(m.range, fmt::format("counter '{}' does not end in _total", name),
                      "Prometheus convention: counters are named *_total");
  ctx.plan.metrics.push_back(std::move(m));
}

}  // namespace

void read_metrics(SemaContext& ctx) {
  const Node* metrics = ctx.root.get("metric");
  if (!metrics || !metrics->is_table()) return;
  for (const auto& [name, node] : metrics->table) {
    if (!node.is_table()) {
      ctx.diags.error(node.range, fmt::format("metric '{}' must be a table", name));
      continue;
    }
    read_metric(ctx, name, node);
  }
}

}  // namespace probe
