// Program skeletons: one entry and/or one return program per probe.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::ProbeKind;
using plan::ValueRef;

ProbeEmitter::ProbeEmitter(const plan::Probe& probe, const ProbeLayout& layout,
                           const plan::RuntimeOptions& runtime, CodeWriter& out)
    : probe_(probe), layout_(layout), runtime_(runtime), out_(out),
      prefix_(fmt::format("pk_p{}", probe.id)) {
  auto note = [&](const ValueRef& v) {
    if (v.source == ValueRef::Source::kArg || v.source == ValueRef::Source::kDerefArg)
      saved_args_.insert(v.index);
  };
  for (const auto& c : probe_.captures) {
    note(c.value);
    if (c.len) note(*c.len);
  }
  for (const auto& f : probe_.filters) {
    if (f.lhs.source == ValueRef::Source::kCapture) {
      if (const plan::Capture* c = capture(f.lhs.name)) note(c->value);
    } else {
      note(f.lhs);
    }
  }
}

const plan::Capture* ProbeEmitter::capture(const std::string& name) const {
  for (const auto& c : probe_.captures)
    if (c.name == name) return &c;
  return nullptr;
}

void ProbeEmitter::emit_program(Stage stage, bool builds_record) {
  stage_ = stage;
  peeked_.clear();
  bool user = plan::is_user_space(probe_.kind);
  const char* section = stage == Stage::kEntry ? (user ? "uprobe" : "kprobe")
                                               : (user ? "uretprobe" : "kretprobe");
  std::string name = fmt::format("{}_{}", prefix_, stage == Stage::kEntry ? "entry" : "return");
  (stage == Stage::kEntry ? entry_program_ : return_program_) = name;
  out_.line("SEC(\"{}\")", section);
  out_.line("int {}(struct pt_regs *ctx) {{", name);
  out_.indent();
  if (stage == Stage::kReturn && paired()) emit_load_state();
  if (builds_record) out_.line("pk_count({}, PK_STAT_HITS);", probe_.id);
  emit_filters(stage, false);
  emit_derefs(stage);
  emit_filters(stage, true);
  if (builds_record) {
    emit_matcher();
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
