#include "compiler/codegen/codegen.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "compiler/codegen/code_writer.h"
#include "compiler/codegen/layout.h"
#include "compiler/codegen/probe_emitter.h"
#include "compiler/plan/matchers.h"

namespace probe {
namespace {

TargetManifest target_manifest(const plan::Target& t) {
  return {t.name, t.kind, t.spec, t.optional, t.process, "", ""};
}

bool uses_builtin(const plan::Plan& plan, plan::Builtin b) {
  auto is = [&](const plan::ValueRef& v) {
    return v.source == plan::ValueRef::Source::kBuiltin && v.builtin == b;
  };
  for (const auto& p : plan.probes)
    for (const auto& c : p.captures)
      if (is(c.value)) return true;
  for (const auto& m : plan.metrics) {
    for (const auto& l : m.labels)
      if (is(l.value)) return true;
    if (m.value && is(*m.value)) return true;
  }
  return false;
}

// What this build cannot generate yet or cannot generate without facts about the kernel.
void check_generable(const plan::Plan& plan, Diagnostics& diags) {
  for (const auto& p : plan.probes) {
    if (p.kind == plan::ProbeKind::kTracepoint && !p.tracepoint)
      diags.error(p.range, fmt::format("the record layout of tracepoint {} is unknown", p.symbol),
                  "it is read from tracefs while checking; do not pass --no-host-checks");
    if (p.kind == plan::ProbeKind::kFexit && p.kernel_arity < 0)
      diags.error(p.range, fmt::format("the parameters of {} are unknown, so its return value cannot be found",
                                       p.symbol),
                  "they are read from the kernel BTF while checking; do not pass --no-host-checks");
  }
}

void emit_metric_maps(const std::vector<MetricLayout>& metrics, CodeWriter& out) {
  uint32_t zero_size = 8;
  for (const auto& m : metrics) {
    zero_size = std::max(zero_size, m.value_size);
    out.line("/* metric {}: {} */", m.metric->name, plan::metric_kind_name(m.metric->kind));
    out.line("struct pk_{}_value {{", m.map);
    out.indent();
    switch (m.metric->kind) {
      case plan::Metric::Kind::kCounter: out.line("__u64 count;"); break;
      case plan::Metric::Kind::kSum: out.line("__s64 sum;"); break;
      case plan::Metric::Kind::kHistogram:
        out.line("__u64 count;");
        out.line("__s64 sum;");
        out.line("__u64 buckets[{}];", m.buckets);
        break;
    }
    out.dedent();
    out.line("}};");
    out.line("struct {{");
    out.indent();
    out.line("__uint(type, BPF_MAP_TYPE_PERCPU_HASH);");
    out.line("__uint(max_entries, {});  /* max_series + the overflow series */", m.metric->max_series + 1);
    out.line("__uint(key_size, {});", m.key_size);
    out.line("__type(value, struct pk_{}_value);", m.map);
    out.dedent();
    out.line("}} {} SEC(\".maps\");", m.map);
    out.blank();
  }
  if (metrics.empty()) return;
  // Source of zeroed values for new series (histogram values do not fit on the BPF stack).
  out.line("struct {{");
  out.indent();
  out.line("__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);");
  out.line("__uint(max_entries, 1);");
  out.line("__type(key, __u32);");
  out.line("__uint(value_size, {});", zero_size);
  out.dedent();
  out.line("}} pk_zero SEC(\".maps\");");
  out.blank();
}

// Per-target maps probed fills for selectors BPF cannot evaluate alone (exe, cmdline,
// container: the pids that match; cgroup: the cgroup ids).
void emit_selector_maps(const plan::Plan& plan, CodeWriter& out) {
  for (size_t i = 0; i < plan.targets.size(); ++i) {
    const auto& s = plan.targets[i].process;
    if (plan::needs_pid_map(s)) {
      out.line("struct {{ __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 65536); __type(key, __u32); "
               "__type(value, __u8); }} pk_t{}_pids SEC(\".maps\");",
               i);
    }
    if (plan::needs_cgroup_map(s)) {
      out.line("struct {{ __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096); __type(key, __u64); "
               "__type(value, __u8); }} pk_t{}_cgroups SEC(\".maps\");",
               i);
    }
  }
}

MetricManifest metric_manifest(const MetricLayout& l) {
  MetricManifest m;
  m.name = l.metric->name;
  m.help = l.metric->help;
  m.kind = l.metric->kind;
  m.probe = l.metric->probe;
  m.map = l.map;
  m.key_size = l.key_size;
  m.overflow_offset = l.overflow_offset;
  for (const auto& lab : l.labels) m.labels.push_back({lab.name, lab.type, lab.offset, lab.size});
  m.bounds = l.bounds;
  m.value_size = l.value_size;
  m.max_series = l.metric->max_series;
  return m;
}

// What a fingerprint covers besides the program text: every manifest field probed acts on
// (attaching, placing, decoding, exporting). A field added to ProbeManifest, TargetManifest
// or MetricManifest that changes behaviour belongs here too.
void describe_for_fingerprint(const ProbeManifest& p, const TargetManifest* t,
                              const std::vector<MetricManifest>& metrics, fmt::memory_buffer& out) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "probe {} {} {} {} {} {} {} {} {} [{}] {} {} [{}] {} {} {}\n", p.name,
                 plan::probe_kind_name(p.kind), p.target, p.symbol, p.offset, p.optional,
                 plan::return_mode_name(p.return_mode), plan::placement_name(p.placement), plan::abi_name(p.abi),
                 fmt::join(p.entry_reads, ","), p.placed_return, p.return_site_args,
                 fmt::join(p.dispatch_tables, ","), p.handler, p.emit_event, p.fixed_size);
  for (const auto& f : p.fields)
    fmt::format_to(it, "field {} {} {} {} {} {}\n", f.name, plan::field_type_name(f.type), f.offset, f.size,
                   f.var_index, f.max);
  if (t) {
    const plan::ProcessSelector& s = t->process;
    fmt::format_to(it, "target {} {} {} {} comm [{}] exe [{}] cmdline {} pid [{}] cgroup [{}] container {}\n",
                   t->name, plan::target_kind_name(t->kind), t->spec, t->optional, fmt::join(s.comm, ","),
                   fmt::join(s.exe, ","), s.cmdline, fmt::join(s.pid, ","), fmt::join(s.cgroup, ","), s.container);
  }
  for (const auto& m : metrics) {
    fmt::format_to(it, "metric {} {} {} {} {} {} {} {} [{}] {}\n", m.name, m.help, plan::metric_kind_name(m.kind),
                   m.probe, m.map, m.key_size, m.overflow_offset, m.value_size, fmt::join(m.bounds, ","),
                   m.max_series);
    for (const auto& l : m.labels)
      fmt::format_to(it, "label {} {} {} {}\n", l.name, plan::field_type_name(l.type), l.offset, l.size);
  }
}

// ProbeManifest::fingerprint: the probe's program text emitted with a placeholder id (ids
// shift when probes are added or removed before it), plus the manifest fields probed acts on.
// Program names and the source location are left out.
// `manifest` holds the targets and metrics already (the probe's own are looked up there).
std::string probe_fingerprint(const plan::Probe& probe, const plan::Target* target, int target_index,
                              const ProbeLayout& layout, const std::vector<const MetricLayout*>& metrics,
                              const plan::RuntimeOptions& runtime, const ProbeManifest& entry,
                              const Manifest& manifest) {
  plan::Probe anonymous = probe;
  anonymous.id = 0xffffffffu;
  CodeWriter text;
  ProbeEmitter(anonymous, target, target_index, layout, metrics, runtime, text).emit();
  fmt::memory_buffer described;
  described.append(text.str());
  std::vector<MetricManifest> mine;
  for (const auto& mm : manifest.metrics)
    if (mm.probe == probe.name) mine.push_back(mm);
  describe_for_fingerprint(entry, target_index >= 0 ? &manifest.targets[static_cast<size_t>(target_index)] : nullptr,
                           mine, described);
  return sha256_hex(std::string_view(described.data(), described.size()));
}

}  // namespace

std::string explain_compile_errors(const GeneratedProgram& program, const std::string& clang_output) {
  const std::string prefix = "/pk/prog.bpf.c:";
  std::string out;
  for (const auto& line : split(clang_output, '\n')) {
    if (line.rfind(prefix, 0) != 0 || line.find(": error: ") == std::string::npos) continue;
    uint32_t n = static_cast<uint32_t>(std::strtoul(line.c_str() + prefix.size(), nullptr, 10));
    std::string msg = line.substr(line.find(": error: ") + 9);
    const GeneratedSpan* span = nullptr;
    for (const auto& s : program.spans)
      if (n >= s.first_line && n <= s.last_line) span = &s;
    Diagnostic d;
    d.message = span ? fmt::format("internal error: the code generated for probe '{}' does not compile: {}",
                                   span->probe, msg)
                     : "internal error: the generated code does not compile: " + msg;
    if (span) d.range = span->range;
    d.hint = fmt::format("generated line {}: {} (see `probec emit-c`); please report this", n,
                         std::string(trim(split(program.source, '\n')[n > 0 ? n - 1 : 0])));
    out += format_diagnostic(d);
  }
  return out.empty() ? clang_output : out;
}

std::string location_string(const SourceRange& r) {
  if (!r.valid()) return "";
  return fmt::format("{}:{}:{}", r.file->path(), r.line, r.col);
}

std::optional<GeneratedProgram> generate(const plan::Plan& plan, Diagnostics& diags) {
  check_generable(plan, diags);
  if (diags.has_errors()) return std::nullopt;
  std::vector<MetricLayout> metrics;
  for (size_t i = 0; i < plan.metrics.size(); ++i)
    metrics.push_back(layout_metric(static_cast<uint32_t>(i), plan.metrics[i]));

  std::vector<ProbeLayout> layouts;
  for (const auto& p : plan.probes) layouts.push_back(layout_probe(p));
  uint32_t event_max = event_max_for(layouts);

  CodeWriter out;
  out.line("/* Generated by probekit from policy '{}'. Do not edit. */", plan.name);
  out.line("#define PK_NPROBES {}", plan.probes.size());
  out.line("#define PK_EVENT_MAX {}", event_max);
  out.line("#define PK_RINGBUF_SIZE {}", plan.runtime.ring_buffer_bytes);
  out.line("#define PK_PENDING_ENTRIES {}", plan.runtime.pairing_entries);
  if (std::any_of(plan.probes.begin(), plan.probes.end(), [](const plan::Probe& p) { return p.placed_return(); }))
    out.line("#define PK_PLACED_RETURNS 1");
  out.line("#include \"base.h\"");
  bool usdt = std::any_of(plan.probes.begin(), plan.probes.end(),
                          [](const plan::Probe& p) { return p.kind == plan::ProbeKind::kUsdt; });
  if (usdt) out.line("#include \"bpf/usdt.bpf.h\"");
  std::set<std::string> headers;
  for (const auto& p : plan.probes) {
    if (const auto* m = plan::find_matcher(p.matcher)) headers.insert(m->header);
    if (p.stream) headers.insert("tls/stream.h");
  }
  for (const auto& h : headers) out.line("#include \"{}\"", h);
  out.blank();
  if (uses_builtin(plan, plan::Builtin::kUserStack) || uses_builtin(plan, plan::Builtin::kKernelStack)) {
    out.line("struct {{");
    out.indent();
    out.line("__uint(type, BPF_MAP_TYPE_STACK_TRACE);");
    out.line("__uint(max_entries, 16384);");
    out.line("__type(key, __u32);");
    out.line("__uint(value_size, PK_STACK_DEPTH * sizeof(__u64));");
    out.dedent();
    out.line("}} pk_stacks SEC(\".maps\");");
    out.blank();
  }
  emit_metric_maps(metrics, out);
  emit_selector_maps(plan, out);
  if (plan.watcher.enabled) {
    out.line("#define PK_MMAP_PROT_OFF {}", plan.watcher.mmap_prot_offset);
    out.line("#define PK_MMAP_FD_OFF {}", plan.watcher.mmap_fd_offset);
    out.line("#include \"watch.h\"");
    out.blank();
  }

  GeneratedProgram result;
  Manifest& m = result.manifest;
  m.policy_name = plan.name;
  m.policy_description = plan.description;
  m.policy_path = plan.policy_path;
  m.min_kernel = plan.min_kernel;
  m.event_max = event_max;
  m.ring_buffer_bytes = plan.runtime.ring_buffer_bytes;
  m.probe_count = static_cast<uint32_t>(plan.probes.size());
  for (size_t i = 0; i < plan.targets.size(); ++i) {
    TargetManifest tm = target_manifest(plan.targets[i]);
    if (plan::needs_pid_map(tm.process)) tm.pid_map = fmt::format("pk_t{}_pids", i);
    if (plan::needs_cgroup_map(tm.process)) tm.cgroup_map = fmt::format("pk_t{}_cgroups", i);
    m.targets.push_back(std::move(tm));
  }
  m.watcher = plan.watcher.enabled;
  m.handler_script = plan.handlers.script;
  for (const auto& s : plan.sinks) m.sinks.push_back({s.type, s.settings});
  for (const auto& ml : metrics) m.metrics.push_back(metric_manifest(ml));

  for (size_t i = 0; i < plan.probes.size(); ++i) {
    const auto& p = plan.probes[i];
    std::vector<const MetricLayout*> mine;
    for (const auto& m : metrics)
      if (m.metric->probe == p.name) mine.push_back(&m);
    const plan::Target* target = plan.find_target(p.target);
    int target_index = target ? static_cast<int>(target - plan.targets.data()) : -1;
    ProbeEmitter emitter(p, target, target_index, layouts[i], mine, plan.runtime, out);
    uint32_t first = out.lines() + 1;
    emitter.emit();
    result.spans.push_back({first, out.lines(), p.name, p.range});
    ProbeManifest pm;
    pm.id = p.id;
    pm.name = p.name;
    pm.kind = p.kind;
    pm.target = p.target;
    pm.symbol = p.symbol;
    pm.offset = p.offset;
    pm.optional = p.optional;
    pm.return_mode = p.return_mode;
    pm.placement = emitter.placeable() ? p.placement : plan::Placement::kOff;
    pm.abi = p.abi;
    pm.entry_reads = emitter.entry_reads();
    pm.placed_return = emitter.placed_return();
    pm.return_site_args = emitter.return_site_args();
    pm.dispatch_tables = p.dispatch_tables;
    pm.entry_program = emitter.entry_program();
    pm.return_program = emitter.return_program();
    pm.handler = p.handler.empty() ? "on_" + p.name : p.handler;
    pm.emit_event = p.emit_event;
    pm.location = location_string(p.range);
    pm.fixed_size = layouts[i].fixed_size;
    pm.fields = layouts[i].fields;
    pm.fingerprint = probe_fingerprint(p, target, target_index, layouts[i], mine, plan.runtime, pm, m);
    m.probes.push_back(std::move(pm));
  }
  result.source = out.str();
  return result;
}

}  // namespace probe
