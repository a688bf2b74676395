// Emits the BPF programs of one probe. Split by construct: state maps (emit_state.cpp),
// value expressions (emit_values.cpp), filters and matchers (emit_filters.cpp), record
// building (emit_captures.cpp) and program skeletons (emit_probe.cpp).
#pragma once

#include <set>
#include <string>

#include "compiler/codegen/code_writer.h"
#include "compiler/codegen/layout.h"
#include "compiler/plan/plan.h"

namespace probe {

enum class Stage { kEntry, kReturn };

class ProbeEmitter {
 public:
  ProbeEmitter(const plan::Probe& probe, const ProbeLayout& layout,
               const plan::RuntimeOptions& runtime, CodeWriter& out);

  // Emits maps and programs; fills the program names.
  void emit();
  const std::string& entry_program() const { return entry_program_; }
  const std::string& return_program() const { return return_program_; }

 private:
  // emit_state.cpp: entry→return pairing.
  void emit_state_types();
  void emit_save_state();
  void emit_load_state();
  // emit_values.cpp
  std::string value(const plan::ValueRef& v, plan::FieldType as);
  std::string length(const plan::ValueRef& v);
  std::string c_type(plan::FieldType t) const;
  void emit_derefs(Stage stage);
  bool uses_deref(const plan::ValueRef& v) const;
  // emit_filters.cpp
  // Filters that read out-pointers run after emit_derefs, the others before it.
  void emit_filters(Stage stage, bool after_derefs);
  void emit_matcher();
  bool filter_runs_at(const plan::Filter& f, Stage stage) const;
  std::string head_of(const plan::Capture& c);
  // emit_captures.cpp
  void emit_record();
  // emit_probe.cpp
  void emit_program(Stage stage, bool builds_record);

  const plan::Capture* capture(const std::string& name) const;
  bool paired() const { return probe_.paired(); }
  // Payload pointers of kernel probes point into kernel memory.
  int kernel_memory() const { return plan::is_user_space(probe_.kind) ? 0 : 1; }
  Stage build_stage() const {
    return plan::fires_at_return(probe_.kind) ? Stage::kReturn : Stage::kEntry;
  }

  const plan::Probe& probe_;
  const ProbeLayout& layout_;
  const plan::RuntimeOptions& runtime_;
  CodeWriter& out_;
  Stage stage_ = Stage::kEntry;
  std::set<int> saved_args_;          // argument indices kept from entry to return
  std::set<std::string> peeked_;      // captures whose leading bytes are in a head buffer
  std::string entry_program_;
  std::string return_program_;
  std::string prefix_;  // "pk_p<id>"
};

}  // namespace probe
