#include "compiler/sema/value_expr.h"

#include <fmt/format.h>

#include <cctype>

#include "compiler/diag/diagnostics.h"

namespace probe {
namespace {

using plan::Builtin;
using plan::ValueRef;

struct BuiltinName {
  const char* name;
  Builtin builtin;
};
constexpr BuiltinName kBuiltins[] = {
    {"pid", Builtin::kPid}, {"tid", Builtin::kTid}, {"comm", Builtin::kComm},
    {"cgroup", Builtin::kCgroup}, {"ts", Builtin::kTimestamp}, {"uid", Builtin::kUid},
    {"gid", Builtin::kGid}, {"cpu", Builtin::kCpu}, {"elapsed", Builtin::kElapsed},
    {"ustack", Builtin::kUserStack}, {"kstack", Builtin::kKernelStack},
    {"stream.conn", Builtin::kStreamConn}, {"stream.fd", Builtin::kStreamFd},
    {"stream.proto", Builtin::kStreamProto}, {"stream.latency_ns", Builtin::kStreamLatency},
    {"stream.family", Builtin::kStreamFamily}, {"stream.sport", Builtin::kStreamSport},
    {"stream.dport", Builtin::kStreamDport}, {"stream.saddr", Builtin::kStreamSaddr},
    {"stream.daddr", Builtin::kStreamDaddr},
};

constexpr int kMaxArg = 5;  // x86-64 passes six integer arguments in registers

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

std::optional<int> parse_arg_index(const std::string& s, size_t start) {
  if (s.size() <= start || s.size() > start + 2) return std::nullopt;
  int v = 0;
  for (size_t i = start; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

std::vector<std::string> value_vocabulary() {
  std::vector<std::string> v = {"ret"};
  for (int i = 0; i <= kMaxArg; ++i) v.push_back(fmt::format("arg{}", i));
  for (const auto& b : kBuiltins) v.emplace_back(b.name);
  return v;
}

}  // namespace

const std::vector<std::string>& register_names() {
  static const std::vector<std::string> names = {"ax", "bx", "cx", "dx", "si", "di", "bp", "sp",
                                                 "ip", "r8", "r9", "r10", "r11", "r12", "r13",
                                                 "r14", "r15"};
  return names;
}

plan::FieldType builtin_type(Builtin b) {
  switch (b) {
    case Builtin::kComm: return plan::FieldType::kString;
    case Builtin::kCgroup:
    case Builtin::kTimestamp:
    case Builtin::kElapsed: return plan::FieldType::kU64;
    case Builtin::kUserStack:
    case Builtin::kKernelStack: return plan::FieldType::kI64;
    case Builtin::kStreamConn:
    case Builtin::kStreamLatency: return plan::FieldType::kU64;
    case Builtin::kStreamFd: return plan::FieldType::kI32;
    case Builtin::kStreamProto: return plan::FieldType::kU8;
    case Builtin::kStreamFamily:
    case Builtin::kStreamSport:
    case Builtin::kStreamDport: return plan::FieldType::kU16;
    case Builtin::kStreamSaddr:
    case Builtin::kStreamDaddr: return plan::FieldType::kBytes;
    default: return plan::FieldType::kU32;
  }
}

std::optional<ValueRef> parse_value_ref(const std::string& text, bool allow_capture,
                                        ValueParseError* error) {
  ValueRef ref;
  ref.text = text;
  if (text == "ret") {
    ref.source = ValueRef::Source::kRet;
    return ref;
  }
  bool deref = !text.empty() && text[0] == '*';
  std::string body = deref ? text.substr(1) : text;
  if (body.rfind("arg", 0) == 0) {
    if (auto idx = parse_arg_index(body, 3)) {
      if (*idx > kMaxArg) {
        *error = {fmt::format("argument index {} is out of range", *idx),
                  fmt::format("arguments arg0..arg{} are passed in registers on x86-64", kMaxArg)};
        return std::nullopt;
      }
      ref.source = deref ? ValueRef::Source::kDerefArg : ValueRef::Source::kArg;
      ref.index = *idx;
      return ref;
    }
  }
  if (deref) {
    *error = {fmt::format("cannot dereference '{}'", body),
              "only out-pointer arguments can be read at return, e.g. '*arg3'"};
    return std::nullopt;
  }
  if (body.rfind("reg.", 0) == 0) {
    std::string reg = body.substr(4);
    if (reg.size() == 3 && reg[0] == 'r' && !std::isdigit(static_cast<unsigned char>(reg[1])))
      reg = reg.substr(1);  // rax → ax
    for (const auto& r : register_names()) {
      if (r == reg) {
        ref.source = ValueRef::Source::kRegister;
        ref.name = reg;
        return ref;
      }
    }
    *error = {fmt::format("unknown register '{}'", body.substr(4)),
              did_you_mean(body.substr(4), register_names())};
    return std::nullopt;
  }
  if (body.rfind("args.", 0) == 0 && is_identifier(body.substr(5))) {
    ref.source = ValueRef::Source::kTracepointField;
    ref.name = body.substr(5);
    return ref;
  }
  for (const auto& b : kBuiltins) {
    if (body == b.name) {
      ref.source = ValueRef::Source::kBuiltin;
      ref.builtin = b.builtin;
      return ref;
    }
  }
  if (allow_capture && is_identifier(body)) {
    ref.source = ValueRef::Source::kCapture;
    ref.name = body;
    return ref;
  }
  *error = {fmt::format("unknown value '{}'", text), did_you_mean(text, value_vocabulary())};
  if (error->hint.empty())
    error->hint = "use argN, ret, *argN, reg.NAME, args.FIELD or a builtin (pid, tid, comm, ...)";
  return std::nullopt;
}

}  // namespace probe
