// Emits the BPF programs of one probe. Split by construct: entry state (emit_state.cpp),
// value expressions (emit_values.cpp), filters and matchers (emit_filters.cpp), record
// building (emit_captures.cpp), metric updates (emit_metrics.cpp) and program skeletons
// (emit_probe.cpp).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/codegen/code_writer.h"
#include "compiler/codegen/layout.h"
#include "compiler/codegen/metric_layout.h"
#include "compiler/plan/plan.h"

namespace probe {

enum class Stage { kEntry, kReturn };

class ProbeEmitter {
 public:
  ProbeEmitter(const plan::Probe& probe, const plan::Target* target, int target_index, const ProbeLayout& layout,
               std::vector<const MetricLayout*> metrics, const plan::RuntimeOptions& runtime,
               CodeWriter& out);

  // Emits maps and programs; fills the program names.
  void emit();
  const std::string& entry_program() const { return entry_program_; }
  const std::string& return_program() const { return return_program_; }
  // Argument registers the entry side reads, with their width ("rdi", "edx"): a probe moved
  // to another site must find them intact there.
  std::vector<std::string> entry_reads() const;
  // Whether probed may place the probe elsewhere (plan::Probe::placeable, and no metric of
  // the probe reads registers by name).
  bool placeable() const { return probe_.placeable() && !reads_registers_; }
  bool placed_return() const { return probe_.placed_return() && !reads_registers_; }
  // A placed return that names dispatch tables and needs no entry time can take its arguments
  // at a site that holds them (a dispatched return).
  bool return_site_args() const {
    return placed_return() && !needs_entry_ts_ && !probe_.dispatch_tables.empty();
  }

 private:
  // emit_state.cpp: entry→return pairing.
  void emit_state_types();
  void emit_save_state();
  void emit_load_state();
  // emit_values.cpp
  std::string value(const plan::ValueRef& v, plan::FieldType as);
  std::string length(const plan::ValueRef& v);
  std::string source_pointer(const plan::Capture& c);  // address a bytes/str capture reads
  std::string capture_length(const plan::Capture& c);  // byte count of a bytes capture
  int memory_flag(const plan::Capture& c) const;        // 1 if the payload is kernel memory
  std::string c_type(plan::FieldType t) const;
  void emit_derefs(Stage stage);
  void emit_context_reads();  // USDT arguments, misaligned tracepoint fields
  bool uses_deref(const plan::ValueRef& v) const;
  std::string arg(int index) const;
  // emit_filters.cpp
  // Filters that read out-pointers run after emit_derefs, the others before it.
  void emit_filters(Stage stage, bool after_derefs);
  void emit_matcher();
  bool filter_runs_at(const plan::Filter& f, Stage stage) const;
  void emit_process_filter();
  std::string head_of(const plan::Capture& c);
  // emit_captures.cpp
  void emit_record();
  // emit_stream.cpp
  void emit_stream();
  bool stream_payload(const plan::Capture& c) const;
  std::string stream_value(plan::Builtin b) const;
  // emit_metrics.cpp
  void emit_metric_updates();
  void emit_metric_update(const MetricLayout& m);
  // emit_probe.cpp
  void emit_program(Stage stage, bool builds_record);
  const char* section(Stage stage) const;
  std::string context_parameter() const;

  const plan::Capture* capture(const std::string& name) const;
  const plan::ValueRef& resolve(const plan::ValueRef& v) const;  // capture name → its value
  void note_value(const plan::ValueRef& v);
  bool paired() const { return !saved_args_.empty() || needs_entry_ts_; }
  Stage build_stage() const {
    return plan::fires_at_return(probe_.kind) ? Stage::kReturn : Stage::kEntry;
  }
  bool pt_regs_context() const;

  const plan::Probe& probe_;
  const plan::Target* target_;
  int target_index_;
  const ProbeLayout& layout_;
  std::vector<const MetricLayout*> metrics_;
  const plan::RuntimeOptions& runtime_;
  CodeWriter& out_;
  Stage stage_ = Stage::kEntry;
  std::set<int> saved_args_;      // argument indices kept from entry to return
  std::map<int, int> entry_args_;  // argument index → bytes the entry side reads of it
  bool reads_registers_ = false;   // reg.* somewhere (keeps the probe where it is written)
  bool needs_entry_ts_ = false;   // `elapsed` is used
  std::set<int> usdt_args_;       // USDT arguments read into locals
  std::set<std::string> peeked_;  // captures whose leading bytes are in a head buffer
  std::string entry_program_;
  std::string return_program_;
  std::string prefix_;  // "pk_p<id>"
};

}  // namespace probe
