// Entry→return pairing: arguments a return probe needs are saved per thread at entry in an
// LRU hash (a return that never comes, e.g. longjmp, cannot leak entries forever).
#include "compiler/codegen/probe_emitter.h"

namespace probe {

void ProbeEmitter::emit_state_types() {
  if (!paired()) return;
  out_.line("struct {}_state {{", prefix_);
  out_.indent();
  for (int a : saved_args_) out_.line("__u64 a{};", a);
  out_.dedent();
  out_.line("}};");
  out_.blank();
  out_.line("struct {{");
  out_.indent();
  out_.line("__uint(type, BPF_MAP_TYPE_LRU_HASH);");
  out_.line("__uint(max_entries, {});", runtime_.pairing_entries);
  out_.line("__type(key, __u64);");
  out_.line("__type(value, struct {}_state);", prefix_);
  out_.dedent();
  out_.line("}} {}_pending SEC(\".maps\");", prefix_);
  out_.blank();
}

void ProbeEmitter::emit_save_state() {
  out_.line("struct {}_state st = {{}};", prefix_);
  for (int a : saved_args_) out_.line("st.a{} = PT_REGS_PARM{}(ctx);", a, a + 1);
  out_.line("pk_save_entry(&{}_pending, bpf_get_current_pid_tgid(), &st, {});", prefix_, probe_.id);
}

void ProbeEmitter::emit_load_state() {
  out_.line("__u64 pk_key = bpf_get_current_pid_tgid();");
  out_.line("struct {0}_state *pk_sp = bpf_map_lookup_elem(&{0}_pending, &pk_key);", prefix_);
  out_.line("if (!pk_sp) {{");
  out_.indent();
  out_.line("pk_count({}, PK_STAT_NO_ENTRY);", probe_.id);
  out_.line("return 0;");
  out_.dedent();
  out_.line("}}");
  out_.line("struct {}_state st = *pk_sp;", prefix_);
  out_.line("bpf_map_delete_elem(&{}_pending, &pk_key);", prefix_);
}

}  // namespace probe
