// Entry→return pairing: what a return probe needs from the entry (arguments that are gone
// by return, the entry time for `elapsed`) is saved in one LRU hash shared by all probes,
// keyed by thread and probe (base.h), so a return that never comes (longjmp, a killed
// thread) cannot leak entries forever and N probes do not cost N preallocated maps.
#include "compiler/codegen/probe_emitter.h"

namespace probe {

void ProbeEmitter::emit_state_types() {}

// Who the state belongs to: the thread, or in Go the goroutine (g is in r14).
static std::string pending_owner(const plan::Probe& p) {
  return p.abi == plan::Abi::kGo ? "ctx->r14" : "bpf_get_current_pid_tgid()";
}

// Stream probes that fire at return save state only for calls on connections they follow.
static bool stream_data_probe(const plan::Probe& p) {
  return p.stream && (p.stream->role == plan::Stream::Role::kSend || p.stream->role == plan::Stream::Role::kRecv);
}

void ProbeEmitter::emit_save_state() {
  if (stream_data_probe(probe_))
    out_.line("if (!pk_stream_wanted({})) return 0; /* not a connection the stream follows */",
              value(*probe_.stream->conn, plan::FieldType::kU64));
  out_.line("struct pk_pending st = {{}};");
  for (int a : saved_args_) out_.line("st.a[{}] = {};", a, arg(a));
  if (needs_entry_ts_) out_.line("st.ts = bpf_ktime_get_ns();");
  // A return placed on a forwarded function's uretprobe reads the count through the rcx its
  // entry had (pk_ret).
  if (placed_return()) out_.line("st.aux = ctx->cx;");
  out_.line("pk_save_entry_as({}, {}, &st);", probe_.id, pending_owner(probe_));
}

void ProbeEmitter::emit_load_state() {
  out_.line("struct pk_pending st;");
  const char* take = stream_data_probe(probe_) ? "pk_take_kept_entry_as" : "pk_take_entry_as";
  if (!return_site_args()) {
    out_.line("if (!{}({}, {}, &st)) return 0;", take, probe_.id, pending_owner(probe_));
    return;
  }
  // A dispatched-return site holds the arguments itself (base.h, pk_site_args); elsewhere
  // they come from the entry side's stash.
  out_.line("int pk_here = pk_site_args(ctx, &st);");
  out_.line("if (pk_here < 0) return 0; /* reached by another route (e.g. SSL_peek) */");
  out_.line("if (!pk_here && !{}({}, {}, &st)) return 0;", take, probe_.id, pending_owner(probe_));
  if (stream_data_probe(probe_))
    out_.line("if (pk_here && !pk_stream_wanted({})) return 0; /* as the entry side would have */",
              value(*probe_.stream->conn, plan::FieldType::kU64));
}

}  // namespace probe
