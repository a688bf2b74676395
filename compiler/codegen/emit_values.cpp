// Value expressions: where an argument, return value, register or builtin is read, in the
// stage (entry or return) that reads it.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::FieldType;
using plan::ValueRef;

std::string ProbeEmitter::c_type(FieldType t) const {
  switch (t) {
    case FieldType::kI8: return "__s8";
    case FieldType::kI16: return "__s16";
    case FieldType::kI32: return "__s32";
    case FieldType::kI64: return "__s64";
    case FieldType::kU8:
    case FieldType::kBool: return "__u8";
    case FieldType::kU16: return "__u16";
    case FieldType::kU32: return "__u32";
    default: return "__u64";
  }
}

bool ProbeEmitter::uses_deref(const ValueRef& v) const {
  if (v.source == ValueRef::Source::kDerefArg) return true;
  if (v.source != ValueRef::Source::kCapture) return false;
  const plan::Capture* c = capture(v.name);
  return c && c->value.source == ValueRef::Source::kDerefArg;
}

// Out-pointer values (*argN) are read once, after the filters that do not need them, into
// locals named pk_d<N>.
void ProbeEmitter::emit_derefs(Stage stage) {
  if (stage != Stage::kReturn) return;
  std::set<int> derefs;
  auto note = [&](const ValueRef& v) {
    if (v.source == ValueRef::Source::kDerefArg) derefs.insert(v.index);
  };
  for (const auto& c : probe_.captures) {
    note(c.value);
    if (c.len) note(*c.len);
  }
  for (int a : derefs) {
    out_.line("__u64 pk_d{} = 0;", a);
    out_.line("if (bpf_probe_read_user(&pk_d{0}, sizeof(pk_d{0}), (void *)st.a{0}) != 0)", a);
    out_.line("  pk_count({}, PK_STAT_READ_ERRORS);", probe_.id);
  }
}

std::string ProbeEmitter::value(const ValueRef& v, FieldType as) {
  std::string t = c_type(as);
  switch (v.source) {
    case ValueRef::Source::kArg:
      if (stage_ == Stage::kReturn) return fmt::format("(({})st.a{})", t, v.index);
      return fmt::format("(({})PT_REGS_PARM{}(ctx))", t, v.index + 1);
    case ValueRef::Source::kRet:
      // Narrow to the declared return type first: an int -1 arrives as 0xffffffff in rax.
      return fmt::format("(({})({})PT_REGS_RC(ctx))", t, c_type(probe_.returns));
    case ValueRef::Source::kDerefArg: return fmt::format("(({})pk_d{})", t, v.index);
    case ValueRef::Source::kRegister: return fmt::format("(({})ctx->{})", t, v.name);
    case ValueRef::Source::kBuiltin:
      switch (v.builtin) {
        case plan::Builtin::kPid: return fmt::format("(({})(bpf_get_current_pid_tgid() >> 32))", t);
        case plan::Builtin::kTid: return fmt::format("(({})bpf_get_current_pid_tgid())", t);
        case plan::Builtin::kCgroup: return fmt::format("(({})bpf_get_current_cgroup_id())", t);
        case plan::Builtin::kTimestamp: return fmt::format("(({})bpf_ktime_get_ns())", t);
        case plan::Builtin::kUid: return fmt::format("(({})bpf_get_current_uid_gid())", t);
        case plan::Builtin::kGid: return fmt::format("(({})(bpf_get_current_uid_gid() >> 32))", t);
        case plan::Builtin::kCpu: return fmt::format("(({})bpf_get_smp_processor_id())", t);
        case plan::Builtin::kComm: break;
      }
      break;
    case ValueRef::Source::kCapture:
      if (const plan::Capture* c = capture(v.name)) return value(c->value, as);
      break;
    case ValueRef::Source::kTracepointField: break;
  }
  return "0";
}

// A byte count as an unsigned 64-bit value; negative lengths (error returns) become 0.
std::string ProbeEmitter::length(const ValueRef& v) {
  FieldType t = v.source == ValueRef::Source::kRet ? probe_.returns : FieldType::kU64;
  if (v.source == ValueRef::Source::kArg && probe_.signature &&
      static_cast<size_t>(v.index) < probe_.signature->params.size())
    t = probe_.signature->params[v.index].type;
  const ValueRef* src = &v;
  if (v.source == ValueRef::Source::kCapture) {
    const plan::Capture* c = capture(v.name);
    if (!c) return "0";
    t = c->type;
    src = &c->value;
  }
  std::string e = value(*src, t);
  if (plan::is_signed(t)) return fmt::format("({0} < 0 ? 0 : (__u64){0})", e);
  return fmt::format("((__u64){})", e);
}

}  // namespace probe
