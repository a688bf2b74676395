// Pass: [handlers], [sinks.NAME] and [runtime] — where events go after decoding.
#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/files.h"
#include "compiler/sema/context.h"
#include "compiler/sema/table_reader.h"

namespace probe {
namespace {

struct SinkSchema {
  const char* type;
  std::vector<std::string> keys;
  std::map<std::string, std::string> defaults;
};

const std::vector<SinkSchema>& sink_schemas() {
  static const std::vector<SinkSchema> schemas = {
      {"jsonl", {"path", "queue_size"}, {{"path", "-"}}},
      {"orchestrator",
       {"endpoint", "log_calls", "queue_size"},
       {{"endpoint", "${METRIST_ORCHESTRATOR_ENDPOINT:-127.0.0.1:51712}"}}},
      {"prometheus", {"listen"}, {{"listen", "127.0.0.1:9435"}}},
      {"otlp",
       {"endpoint", "encoding", "service_name", "resource_attributes", "headers", "timeout",
        "batch_size", "batch_delay", "queue_size", "metrics_interval", "retry_initial",
        "retry_max_interval", "retry_max_elapsed"},
       {{"endpoint", "${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318}"},
        {"encoding", "protobuf"},
        {"service_name", "${OTEL_SERVICE_NAME:-}"},
        {"resource_attributes", "${OTEL_RESOURCE_ATTRIBUTES:-}"},
        {"headers", "${OTEL_EXPORTER_OTLP_HEADERS:-}"}}},
  };
  return schemas;
}

const SinkSchema* find_schema(const std::string& type) {
  for (const auto& s : sink_schemas())
    if (type == s.type) return &s;
  return nullptr;
}

std::vector<std::string> sink_type_names() {
  std::vector<std::string> v;
  for (const auto& s : sink_schemas()) v.emplace_back(s.type);
  return v;
}

// "8MiB", "512KiB", "16M" or a plain integer → bytes.
std::optional<uint64_t> parse_size(const Node& n) {
  if (n.is_integer()) return n.integer > 0 ? std::optional<uint64_t>(n.integer) : std::nullopt;
  if (!n.is_string()) return std::nullopt;
  char* end = nullptr;
  unsigned long long v = strtoull(n.str.c_str(), &end, 10);
  std::string unit = end ? end : "";
  if (unit.empty() || unit == "B") return v;
  if (unit == "K" || unit == "KiB") return v << 10;
  if (unit == "M" || unit == "MiB") return v << 20;
  if (unit == "G" || unit == "GiB") return v << 30;
  return std::nullopt;
}

void read_handlers(SemaContext& ctx, const Node& node) {
  TableReader r(node, "[handlers]", ctx.diags);
  ctx.plan.handlers.range = node.key_range.valid() ? node.key_range : node.range;
  if (auto s = r.string("script", true)) {
    ctx.plan.handlers.script = resolve_relative(ctx.plan.policy_path, *s);
    if (ctx.options.check_host && access(ctx.plan.handlers.script.c_str(), R_OK) != 0) {
      const SourceRange& at = node.get("script")->range;
      std::string shown = std::filesystem::path(resolve_relative(at.file->path(), *s)).lexically_normal();
      ctx.diags.error(at, fmt::format("handler script '{}' not found (looked for {})", *s, shown),
                      "paths are relative to the policy file");
    }
  }
  r.finish();
}

void read_sinks(SemaContext& ctx, const Node& node) {
  for (const auto& [id, sink] : node.table) {
    std::string what = fmt::format("sink '{}'", id);
    if (!sink.is_table()) {
      ctx.diags.error(sink.range, fmt::format("{} must be a table", what));
      continue;
    }
    plan::Sink s;
    s.range = sink.key_range.valid() ? sink.key_range : sink.range;
    s.settings["id"] = id;
    TableReader r(sink, what, ctx.diags);
    const Node* type = r.get("type", Node::Kind::kString);
    s.type = type ? type->str : id;
    const SinkSchema* schema = find_schema(s.type);
    if (!schema) {
      ctx.diags.error(type ? type->range : s.range, fmt::format("unknown sink type '{}'", s.type),
                      did_you_mean(s.type, sink_type_names()).empty()
                          ? "sinks are jsonl, orchestrator, prometheus and otlp"
                          : did_you_mean(s.type, sink_type_names()));
      continue;
    }
    for (const auto& [k, v] : schema->defaults) s.settings[k] = v;
    for (const auto& key : schema->keys) {
      const Node* v = r.get_any(key);
      if (!v) continue;
      if (v->is_string()) s.settings[key] = v->str;
      else if (v->is_integer()) s.settings[key] = std::to_string(v->integer);
      else if (v->is_bool()) s.settings[key] = v->boolean ? "true" : "false";
      else ctx.diags.error(v->range, fmt::format("'{}' in {} must be a string", key, what));
    }
    r.finish();
    ctx.plan.sinks.push_back(std::move(s));
  }
}

void read_runtime(SemaContext& ctx, const Node& node) {
  TableReader r(node, "[runtime]", ctx.diags);
  if (const Node* rb = r.get_any("ring_buffer")) {
    auto size = parse_size(*rb);
    if (!size || *size < 4096 || (*size & (*size - 1)) != 0 || *size > (1ull << 30))
      ctx.diags.error(rb->range, "ring_buffer must be a power of two between 4KiB and 1GiB",
                      "for example ring_buffer = \"8MiB\"");
    else
      ctx.plan.runtime.ring_buffer_bytes = *size;
  }
  if (auto n = r.integer("pairing_entries", 64, 1 << 22))
    ctx.plan.runtime.pairing_entries = static_cast<uint32_t>(*n);
  r.finish();
}

}  // namespace

void read_outputs(SemaContext& ctx) {
  if (const Node* h = ctx.root.get("handlers"); h && h->is_table()) read_handlers(ctx, *h);
  if (const Node* s = ctx.root.get("sinks"); s && s->is_table()) read_sinks(ctx, *s);
  if (const Node* r = ctx.root.get("runtime"); r && r->is_table()) read_runtime(ctx, *r);
}

}  // namespace probe
