// Stream probes (stdlib/bpf/tls/stream.h): the per-connection check that decides whether a
// TLS buffer crosses to user space, and the stream.* values it leaves in pk_so.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using Role = plan::Stream::Role;

void ProbeEmitter::emit_stream() {
  const plan::Stream& s = *probe_.stream;
  out_.line("struct pk_stream_out pk_so = {{}};");
  out_.line("pk_so.fd = -1;");
  switch (s.role) {
    case Role::kSend:
    case Role::kRecv: {
      const plan::Capture* c = capture(probe_.match_capture);
      if (!c) return;
      // A write probed at its entry may be a retry of the previous one (stream.h).
      const char* how = s.role == Role::kRecv                 ? "PK_DIR_RECV"
                        : plan::fires_at_return(probe_.kind) ? "PK_DIR_SEND"
                                                             : "PK_DIR_SEND | PK_DIR_AT_ENTRY";
      out_.line("if (!pk_stream_http({}, {}, {}, {}, &pk_so)) {{ /* stream {} */", value(*s.conn, plan::FieldType::kU64),
                how, source_pointer(*c), capture_length(*c), plan::stream_role_name(s.role));
      out_.line("  pk_count({}, PK_STAT_FILTERED);", probe_.id);
      out_.line("  return 0;");
      out_.line("}}");
      return;
    }
    case Role::kEnter:
      out_.line("pk_so.conn = {};", value(*s.conn, plan::FieldType::kU64));
      out_.line("pk_stream_enter(pk_so.conn);");
      return;
    case Role::kClose:
      out_.line("pk_so.conn = {};", value(*s.conn, plan::FieldType::kU64));
      out_.line("if (!pk_stream_close(pk_so.conn)) {{ /* a connection we never saw */");
      out_.line("  pk_count({}, PK_STAT_FILTERED);", probe_.id);
      out_.line("  return 0;");
      out_.line("}}");
      return;
    case Role::kBind:
      out_.line("if (!pk_stream_bind({}, &pk_so)) {{ /* no unbound TLS call on this thread */",
                value(*s.fd, plan::FieldType::kU64));
      out_.line("  pk_count({}, PK_STAT_FILTERED);", probe_.id);
      out_.line("  return 0;");
      out_.line("}}");
      return;
  }
}

// The stream payload starts where the stream check says (HTTP/2: the first header block).
bool ProbeEmitter::stream_payload(const plan::Capture& c) const {
  return probe_.stream && !probe_.match_capture.empty() && c.name == probe_.match_capture &&
         (probe_.stream->role == Role::kSend || probe_.stream->role == Role::kRecv);
}

std::string ProbeEmitter::stream_value(plan::Builtin b) const {
  switch (b) {
    case plan::Builtin::kStreamConn: return "pk_so.conn";
    case plan::Builtin::kStreamFd: return "pk_so.fd";
    case plan::Builtin::kStreamProto: return "pk_so.proto";
    case plan::Builtin::kStreamLatency: return "pk_so.latency_ns";
    case plan::Builtin::kStreamFamily: return "pk_so.family";
    case plan::Builtin::kStreamSport: return "pk_so.sport";
    case plan::Builtin::kStreamDport: return "pk_so.dport";
    case plan::Builtin::kStreamSaddr: return "(__u64)pk_so.saddr";
    case plan::Builtin::kStreamDaddr: return "(__u64)pk_so.daddr";
    default: return "0";
  }
}

}  // namespace probe
