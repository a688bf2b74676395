// Value expressions: where an argument, return value, register, builtin or tracepoint field
// is read, for the probe's kind and the stage (entry or return) that reads it.
#include <fmt/format.h>

#include "compiler/codegen/probe_emitter.h"

namespace probe {

using plan::FieldType;
using plan::ProbeKind;
using plan::ValueRef;

namespace {

// Tracepoint scalars are loaded straight from the record when aligned; the verifier refuses
// misaligned context loads, so those are copied first (pk_tf_<name>).
bool aligned_load(const TracepointField& f) {
  return (f.size == 1 || f.size == 2 || f.size == 4 || f.size == 8) && f.offset % f.size == 0;
}

std::string raw_type(const TracepointField& f) {
  switch (f.size) {
    case 1: return f.is_signed ? "__s8" : "__u8";
    case 2: return f.is_signed ? "__s16" : "__u16";
    case 4: return f.is_signed ? "__s32" : "__u32";
    default: return f.is_signed ? "__s64" : "__u64";
  }
}

}  // namespace

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

// The raw 64-bit argument `index` at the current stage.
std::string ProbeEmitter::arg(int index) const {
  if (stage_ == Stage::kReturn && saved_args_.count(index)) return fmt::format("st.a[{}]", index);
  if (probe_.abi == plan::Abi::kGo) {
    // Go's register ABI (1.17+): integer arguments in this order.
    static const char* const kGo[] = {"ax", "bx", "cx", "di", "si", "r8", "r9", "r10", "r11"};
    return index >= 0 && index < 9 ? fmt::format("ctx->{}", kGo[index]) : "0";
  }
  switch (probe_.kind) {
    case ProbeKind::kUsdt: return fmt::format("pk_ua{}", index);
    case ProbeKind::kRawTracepoint: return fmt::format("ctx->args[{}]", index);
    case ProbeKind::kFentry:
    case ProbeKind::kFexit: return fmt::format("ctx[{}]", index);
    default: return fmt::format("PT_REGS_PARM{}(ctx)", index + 1);
  }
}

bool ProbeEmitter::uses_deref(const ValueRef& v) const {
  return resolve(v).source == ValueRef::Source::kDerefArg;
}

// Values that need a statement before use: USDT arguments and misaligned tracepoint fields.
void ProbeEmitter::emit_context_reads() {
  for (int a : usdt_args_) {
    out_.line("long pk_ua{} = 0;", a);
    out_.line("bpf_usdt_arg(ctx, {0}, &pk_ua{0});", a);
  }
  if (!probe_.tracepoint) return;
  std::set<std::string> done;
  auto need = [&](const ValueRef& v0) {
    const ValueRef& v = resolve(v0);
    if (v.source != ValueRef::Source::kTracepointField || !done.insert(v.name).second) return;
    const TracepointField* f = probe_.tracepoint->field(v.name);
    if (!f || aligned_load(*f) || f->array_len || f->data_loc || f->size > 8) return;
    out_.line("{} pk_tf_{} = 0;", raw_type(*f), f->name);
    out_.line("bpf_probe_read_kernel(&pk_tf_{0}, sizeof(pk_tf_{0}), (__u8 *)ctx + {1});", f->name,
              f->offset);
  };
  for (const auto& c : probe_.captures) {
    need(c.value);
    if (c.len) need(*c.len);
  }
  for (const auto& f : probe_.filters) need(f.lhs);
  for (const auto* m : metrics_) {
    for (const auto& l : m->labels) need(l.value);
    if (m->metric->value) need(*m->metric->value);
  }
}

// Out-pointer values (*argN) are read once, after the filters that do not need them, into
// locals named pk_d<N>.
void ProbeEmitter::emit_derefs(Stage stage) {
  if (stage != build_stage()) return;
  std::set<int> derefs;
  auto note = [&](const ValueRef& v0) {
    const ValueRef& v = resolve(v0);
    if (v.source == ValueRef::Source::kDerefArg) derefs.insert(v.index);
  };
  for (const auto& c : probe_.captures) {
    note(c.value);
    if (c.len) note(*c.len);
  }
  for (const auto& f : probe_.filters) note(f.lhs);
  for (const auto* m : metrics_) {
    for (const auto& l : m->labels) note(l.value);
    if (m->metric->value) note(*m->metric->value);
  }
  const char* read = plan::is_user_space(probe_.kind) ? "bpf_probe_read_user" : "bpf_probe_read_kernel";
  for (int a : derefs) {
    out_.line("__u64 pk_d{} = 0;", a);
    out_.line("if ({}(&pk_d{}, sizeof(pk_d{}), (void *){}) != 0)", read, a, a, arg(a));
    out_.line("  pk_count({}, PK_STAT_READ_ERRORS);", probe_.id);
  }
}

std::string ProbeEmitter::value(const ValueRef& v, FieldType as) {
  std::string t = c_type(as);
  switch (v.source) {
    case ValueRef::Source::kArg: {
      FieldType declared = FieldType::kU64;
      if (probe_.signature && static_cast<size_t>(v.index) < probe_.signature->params.size())
        declared = probe_.signature->params[v.index].type;
      // Narrow to the declared type first: an int argument's upper register bits are garbage.
      if (plan::scalar_size(declared) < 8 && c_type(declared) != t)
        return fmt::format("(({})({}){})", t, c_type(declared), arg(v.index));
      return fmt::format("(({}){})", t, arg(v.index));
    }
    case ValueRef::Source::kRet: {
      std::string rc = probe_.kind == ProbeKind::kFexit
                           ? fmt::format("ctx[{}]", probe_.kernel_arity < 0 ? 0 : probe_.kernel_arity)
                           : "PT_REGS_RC(ctx)";
      // A placed return site finds the result as its site recipe says.
      if (placed_return()) rc = "pk_rv";
      // Narrow to the declared return type first: an int -1 arrives as 0xffffffff in rax.
      if (c_type(probe_.returns) == t) return fmt::format("(({}){})", t, rc);
      return fmt::format("(({})({}){})", t, c_type(probe_.returns), rc);
    }
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
        case plan::Builtin::kElapsed: return fmt::format("(({})(bpf_ktime_get_ns() - st.ts))", t);
        case plan::Builtin::kUserStack:
          return fmt::format("(({})bpf_get_stackid(ctx, &pk_stacks, BPF_F_USER_STACK))", t);
        case plan::Builtin::kKernelStack: return fmt::format("(({})bpf_get_stackid(ctx, &pk_stacks, 0))", t);
        case plan::Builtin::kComm: break;
        default:
          if (plan::is_stream_builtin(v.builtin)) return fmt::format("(({}){})", t, stream_value(v.builtin));
      }
      break;
    case ValueRef::Source::kCapture:
      if (const plan::Capture* c = capture(v.name)) return value(c->value, as);
      break;
    case ValueRef::Source::kTracepointField: {
      const TracepointField* f = probe_.tracepoint ? probe_.tracepoint->field(v.name) : nullptr;
      if (!f) break;
      if (aligned_load(*f))
        return fmt::format("(({})*({} *)((__u8 *)ctx + {}))", t, raw_type(*f), f->offset);
      return fmt::format("(({})pk_tf_{})", t, f->name);
    }
  }
  return "0";
}

// A byte count as an unsigned 64-bit value; negative lengths (error returns) become 0.
std::string ProbeEmitter::length(const ValueRef& v0) {
  const ValueRef& v = resolve(v0);
  FieldType t = FieldType::kU64;
  if (v0.source == ValueRef::Source::kCapture) {
    if (const plan::Capture* c = capture(v0.name)) t = c->type;
  } else if (v.source == ValueRef::Source::kRet) {
    t = probe_.returns;
  } else if (v.source == ValueRef::Source::kArg && probe_.signature &&
             static_cast<size_t>(v.index) < probe_.signature->params.size()) {
    t = probe_.signature->params[v.index].type;
  }
  std::string e = value(v, t);
  if (plan::is_signed(t)) return fmt::format("({0} < 0 ? 0 : (__u64){0})", e);
  return fmt::format("((__u64){})", e);
}

// The address a bytes/str capture copies from. Tracepoint arrays and __data_loc strings live
// in the record itself.
std::string ProbeEmitter::source_pointer(const plan::Capture& c) {
  if (c.value.source == ValueRef::Source::kTracepointField && probe_.tracepoint) {
    if (const TracepointField* f = probe_.tracepoint->field(c.value.name)) {
      if (f->data_loc)
        return fmt::format("((__u64)ctx + (*(__u32 *)((__u8 *)ctx + {}) & 0xffff))", f->offset);
      if (f->array_len) return fmt::format("((__u64)ctx + {})", f->offset);
    }
  }
  return value(c.value, FieldType::kU64);
}

std::string ProbeEmitter::capture_length(const plan::Capture& c) {
  if (c.value.source == ValueRef::Source::kBuiltin && plan::is_stream_builtin(c.value.builtin))
    return "16ULL";  // stream.saddr / stream.daddr: IPv6-sized, IPv4 in the first four bytes
  if (c.len) return length(*c.len);
  if (c.value.source == ValueRef::Source::kTracepointField && probe_.tracepoint) {
    if (const TracepointField* f = probe_.tracepoint->field(c.value.name)) {
      if (f->data_loc) return fmt::format("((__u64)(*(__u32 *)((__u8 *)ctx + {}) >> 16))", f->offset);
      if (f->array_len) return fmt::format("{}ULL", f->size);
    }
  }
  return "0";
}

// Kernel probes read kernel memory, except the user pointers syscall tracepoints carry.
int ProbeEmitter::memory_flag(const plan::Capture& c) const {
  if (c.value.source == ValueRef::Source::kBuiltin && plan::is_stream_builtin(c.value.builtin))
    return 1;  // copied from the program's own stack
  if (plan::is_user_space(probe_.kind)) return 0;
  if (c.value.source == ValueRef::Source::kTracepointField && probe_.tracepoint) {
    const TracepointField* f = probe_.tracepoint->field(c.value.name);
    if (f && f->pointer && probe_.tracepoint->category == "syscalls") return 0;
  }
  return 1;
}

}  // namespace probe
