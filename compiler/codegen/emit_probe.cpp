// Program skeletons: one entry and/or one return program per probe, with the section and
// context type its kind needs.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::ProbeKind;
using plan::ValueRef;

ProbeEmitter::ProbeEmitter(const plan::Probe& probe, const plan::Target* target, int target_index,
                           const ProbeLayout& layout, std::vector<const MetricLayout*> metrics,
                           const plan::RuntimeOptions& runtime, CodeWriter& out)
    : probe_(probe), target_(target), target_index_(target_index), layout_(layout), metrics_(std::move(metrics)), runtime_(runtime), out_(out),
      prefix_(fmt::format("pk_p{}", probe.id)) {
  for (const auto& c : probe_.captures) {
    note_value(c.value);
    if (c.len) note_value(*c.len);
  }
  for (const auto& f : probe_.filters) note_value(f.lhs);
  if (probe_.stream && probe_.stream->conn) note_value(*probe_.stream->conn);
  if (probe_.stream && probe_.stream->fd) note_value(*probe_.stream->fd);
  for (const auto* m : metrics_) {
    for (const auto& l : m->labels) note_value(l.value);
    if (m->metric->value) note_value(*m->metric->value);
  }
}

// Records what a value needs from the entry of the call (return probes) or the context.
void ProbeEmitter::note_value(const ValueRef& v0) {
  const ValueRef& v = resolve(v0);
  bool is_arg = v.source == ValueRef::Source::kArg || v.source == ValueRef::Source::kDerefArg;
  if (is_arg && probe_.kind == ProbeKind::kUsdt) usdt_args_.insert(v.index);
  if (v.source == ValueRef::Source::kRegister) reads_registers_ = true;
  if (is_arg) {
    // An int argument is read as its low 32 bits; anything else (or without a signature) as
    // the whole register.
    int bytes = 8;
    if (v.source == ValueRef::Source::kArg && probe_.signature &&
        static_cast<size_t>(v.index) < probe_.signature->params.size()) {
      uint32_t size = plan::scalar_size(probe_.signature->params[v.index].type);
      if (size > 0 && size <= 4) bytes = 4;
    }
    int& widest = entry_args_[v.index];
    widest = std::max(widest, bytes);
  }
  // fexit sees the arguments in its context; uretprobe/kretprobe must save them at entry.
  bool saves_args = probe_.kind == ProbeKind::kUretprobe || probe_.kind == ProbeKind::kKretprobe;
  if (is_arg && saves_args) saved_args_.insert(v.index);
  if (v.source == ValueRef::Source::kBuiltin && v.builtin == plan::Builtin::kElapsed)
    needs_entry_ts_ = true;
}

const plan::Capture* ProbeEmitter::capture(const std::string& name) const {
  for (const auto& c : probe_.captures)
    if (c.name == name) return &c;
  return nullptr;
}

const ValueRef& ProbeEmitter::resolve(const ValueRef& v) const {
  if (v.source == ValueRef::Source::kCapture)
    if (const plan::Capture* c = capture(v.name)) return c->value;
  return v;
}

std::vector<std::string> ProbeEmitter::entry_reads() const {
  static const char* const k64[] = {"rdi", "rsi", "rdx", "rcx", "r8", "r9"};
  static const char* const k32[] = {"edi", "esi", "edx", "ecx", "r8d", "r9d"};
  std::vector<std::string> out;
  if (probe_.abi != plan::Abi::kC) return out;
  for (const auto& [index, bytes] : entry_args_)
    if (index >= 0 && index < 6) out.push_back(bytes == 4 ? k32[index] : k64[index]);
  return out;
}

bool ProbeEmitter::pt_regs_context() const {
  switch (probe_.kind) {
    case ProbeKind::kUprobe:
    case ProbeKind::kUretprobe:
    case ProbeKind::kKprobe:
    case ProbeKind::kKretprobe:
    case ProbeKind::kUsdt: return true;
    default: return false;
  }
}

const char* ProbeEmitter::section(Stage stage) const {
  bool entry = stage == Stage::kEntry;
  switch (probe_.kind) {
    case ProbeKind::kUprobe:
    case ProbeKind::kUretprobe:
      // A return probe on RET instructions is a plain uprobe there.
      return entry || probe_.return_mode == plan::ReturnMode::kRetSites ? "uprobe" : "uretprobe";
    case ProbeKind::kKprobe:
    case ProbeKind::kKretprobe: return entry ? "kprobe" : "kretprobe";
    case ProbeKind::kUsdt: return "usdt";
    case ProbeKind::kTracepoint: return "tracepoint";
    case ProbeKind::kRawTracepoint: return "raw_tracepoint";
    case ProbeKind::kFentry:
    case ProbeKind::kFexit: return entry ? "fentry" : "fexit";
  }
  return "?";
}

std::string ProbeEmitter::context_parameter() const {
  if (pt_regs_context()) return "struct pt_regs *ctx";
  switch (probe_.kind) {
    case ProbeKind::kTracepoint: return "void *ctx";
    case ProbeKind::kRawTracepoint: return "struct bpf_raw_tracepoint_args *ctx";
    default: return "__u64 *ctx";  // fentry/fexit: arguments (and the return value) as u64s
  }
}

void ProbeEmitter::emit_program(Stage stage, bool builds_record) {
  stage_ = stage;
  peeked_.clear();
  std::string name = fmt::format("{}_{}", prefix_, stage == Stage::kEntry ? "entry" : "return");
  (stage == Stage::kEntry ? entry_program_ : return_program_) = name;
  out_.line("SEC(\"{}\")", section(stage));
  out_.line("int {}({}) {{", name, context_parameter());
  out_.indent();
  emit_process_filter();
  if (stage == Stage::kReturn && paired()) emit_load_state();
  // A placed return site finds the result as its site recipe says (base.h).
  if (stage == Stage::kReturn && placed_return())
    out_.line("__s64 pk_rv = pk_ret(ctx, {});", paired() ? "st.aux" : "0");
  if (builds_record) out_.line("pk_count({}, PK_STAT_HITS);", probe_.id);
  emit_context_reads();
  emit_filters(stage, false);
  emit_derefs(stage);
  emit_filters(stage, true);
  if (builds_record) {
    if (probe_.stream) emit_stream();
    else emit_matcher();
    emit_metric_updates();
    if (probe_.emit_event) emit_record();
    else out_.line("return 0;");
  } else {
    emit_save_state();
    out_.line("return 0;");
  }
  out_.dedent();
  out_.line("}}");
  out_.blank();
}

void ProbeEmitter::emit() {
  out_.line("/* probe {}: {} {} */", probe_.name, plan::probe_kind_name(probe_.kind), probe_.symbol);
  emit_state_types();
  if (build_stage() == Stage::kEntry) {
    emit_program(Stage::kEntry, true);
    return;
  }
  if (paired()) emit_program(Stage::kEntry, false);
  emit_program(Stage::kReturn, true);
}

}  // namespace probe
