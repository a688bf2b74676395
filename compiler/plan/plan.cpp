#include "compiler/plan/plan.h"

#include "common/strings.h"

namespace probe::plan {
namespace {

struct KindName {
  ProbeKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {ProbeKind::kUprobe, "uprobe"},         {ProbeKind::kUretprobe, "uretprobe"},
    {ProbeKind::kUsdt, "usdt"},             {ProbeKind::kKprobe, "kprobe"},
    {ProbeKind::kKretprobe, "kretprobe"},   {ProbeKind::kTracepoint, "tracepoint"},
    {ProbeKind::kRawTracepoint, "raw_tracepoint"}, {ProbeKind::kFentry, "fentry"},
    {ProbeKind::kFexit, "fexit"},
};

struct TypeName {
  FieldType type;
  const char* name;
  uint32_t size;
};
constexpr TypeName kTypes[] = {
    {FieldType::kI8, "i8", 1},   {FieldType::kI16, "i16", 2},  {FieldType::kI32, "i32", 4},
    {FieldType::kI64, "i64", 8}, {FieldType::kU8, "u8", 1},    {FieldType::kU16, "u16", 2},
    {FieldType::kU32, "u32", 4}, {FieldType::kU64, "u64", 8},  {FieldType::kPtr, "ptr", 8},
    {FieldType::kBool, "bool", 1}, {FieldType::kString, "str", 0}, {FieldType::kBytes, "bytes", 0},
};

}  // namespace

const char* probe_kind_name(ProbeKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k.name;
  return "?";
}

std::optional<ProbeKind> parse_probe_kind(const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

const std::vector<std::string>& probe_kind_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& k : kKinds) v.emplace_back(k.name);
    return v;
  }();
  return names;
}

bool is_user_space(ProbeKind kind) {
  return kind == ProbeKind::kUprobe || kind == ProbeKind::kUretprobe || kind == ProbeKind::kUsdt;
}

bool fires_at_return(ProbeKind kind) {
  return kind == ProbeKind::kUretprobe || kind == ProbeKind::kKretprobe ||
         kind == ProbeKind::kFexit;
}

const char* return_mode_name(ReturnMode mode) {
  switch (mode) {
    case ReturnMode::kAuto: return "auto";
    case ReturnMode::kUretprobe: return "uretprobe";
    case ReturnMode::kRetSites: return "ret-sites";
  }
  return "?";
}

const char* placement_name(Placement p) {
  switch (p) {
    case Placement::kAuto: return "auto";
    case Placement::kShared: return "shared";
    case Placement::kOff: return "off";
  }
  return "?";
}

std::optional<Placement> parse_placement(const std::string& name) {
  for (Placement p : {Placement::kAuto, Placement::kShared, Placement::kOff})
    if (name == placement_name(p)) return p;
  return std::nullopt;
}

const char* abi_name(Abi a) { return a == Abi::kGo ? "go" : "c"; }

std::optional<Abi> parse_abi(const std::string& name) {
  if (name == "c") return Abi::kC;
  if (name == "go") return Abi::kGo;
  return std::nullopt;
}

const char* field_type_name(FieldType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

std::optional<FieldType> parse_field_type(const std::string& name) {
  for (const auto& t : kTypes)
    if (name == t.name) return t.type;
  return std::nullopt;
}

const std::vector<std::string>& field_type_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& t : kTypes) v.emplace_back(t.name);
    return v;
  }();
  return names;
}

uint32_t scalar_size(FieldType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.size;
  return 0;
}

bool is_signed(FieldType type) {
  return type == FieldType::kI8 || type == FieldType::kI16 || type == FieldType::kI32 ||
         type == FieldType::kI64;
}

bool is_variable(FieldType type) {
  return type == FieldType::kString || type == FieldType::kBytes;
}

const char* builtin_name(Builtin b) {
  switch (b) {
    case Builtin::kPid: return "pid";
    case Builtin::kTid: return "tid";
    case Builtin::kComm: return "comm";
    case Builtin::kCgroup: return "cgroup";
    case Builtin::kTimestamp: return "ts";
    case Builtin::kUid: return "uid";
    case Builtin::kGid: return "gid";
    case Builtin::kCpu: return "cpu";
    case Builtin::kElapsed: return "elapsed";
    case Builtin::kUserStack: return "ustack";
    case Builtin::kKernelStack: return "kstack";
    case Builtin::kStreamConn: return "stream.conn";
    case Builtin::kStreamFd: return "stream.fd";
    case Builtin::kStreamProto: return "stream.proto";
    case Builtin::kStreamLatency: return "stream.latency_ns";
    case Builtin::kStreamFamily: return "stream.family";
    case Builtin::kStreamSport: return "stream.sport";
    case Builtin::kStreamDport: return "stream.dport";
    case Builtin::kStreamSaddr: return "stream.saddr";
    case Builtin::kStreamDaddr: return "stream.daddr";
  }
  return "?";
}

bool is_stream_builtin(Builtin b) {
  switch (b) {
    case Builtin::kStreamConn:
    case Builtin::kStreamFd:
    case Builtin::kStreamProto:
    case Builtin::kStreamLatency:
    case Builtin::kStreamFamily:
    case Builtin::kStreamSport:
    case Builtin::kStreamDport:
    case Builtin::kStreamSaddr:
    case Builtin::kStreamDaddr: return true;
    default: return false;
  }
}

const char* stream_role_name(Stream::Role r) {
  switch (r) {
    case Stream::Role::kSend: return "send";
    case Stream::Role::kRecv: return "recv";
    case Stream::Role::kEnter: return "enter";
    case Stream::Role::kClose: return "close";
    case Stream::Role::kBind: return "bind";
  }
  return "?";
}

const char* filter_op_name(FilterOp op) {
  switch (op) {
    case FilterOp::kEq: return "==";
    case FilterOp::kNe: return "!=";
    case FilterOp::kLt: return "<";
    case FilterOp::kLe: return "<=";
    case FilterOp::kGt: return ">";
    case FilterOp::kGe: return ">=";
    case FilterOp::kPrefix: return "prefix";
    case FilterOp::kContains: return "contains";
  }
  return "?";
}

const char* target_kind_name(Target::Kind kind) {
  switch (kind) {
    case Target::Kind::kLibrary: return "library";
    case Target::Kind::kBinary: return "binary";
    case Target::Kind::kProcess: return "process";
  }
  return "?";
}

bool Probe::paired() const {
  if (!fires_at_return(kind)) return false;
  for (const auto& c : captures)
    if (c.value.source == ValueRef::Source::kArg || c.value.source == ValueRef::Source::kDerefArg ||
        (c.len && (c.len->source == ValueRef::Source::kArg ||
                   c.len->source == ValueRef::Source::kDerefArg)))
      return true;
  for (const auto& f : filters)
    if (f.lhs.source == ValueRef::Source::kArg) return true;
  return false;
}

bool Probe::placeable() const {
  if (kind != ProbeKind::kUprobe && kind != ProbeKind::kUretprobe) return false;
  if (placement == Placement::kOff || abi != Abi::kC || offset != 0) return false;
  if (is_function_pattern(symbol)) return false;
  // A probe reading registers by name (reg.sp, reg.ip) sees where it fires: keep it there.
  auto raw = [](const ValueRef& v) { return v.source == ValueRef::Source::kRegister; };
  for (const auto& c : captures)
    if (raw(c.value) || (c.len && raw(*c.len))) return false;
  for (const auto& f : filters)
    if (raw(f.lhs)) return false;
  return true;
}

bool Probe::placed_return() const {
  return kind == ProbeKind::kUretprobe && return_mode != ReturnMode::kRetSites && placeable();
}

const char* metric_kind_name(Metric::Kind kind) {
  switch (kind) {
    case Metric::Kind::kCounter: return "counter";
    case Metric::Kind::kSum: return "sum";
    case Metric::Kind::kHistogram: return "histogram";
  }
  return "?";
}

uint32_t Metric::Buckets::count() const {
  switch (kind) {
    case Kind::kLog2: return 66;  // le 0, 1, 2, 4, ..., 2^63 and +Inf
    case Kind::kLinear: return static_cast<uint32_t>((max - min) / step) + 2;  // + below-min and +Inf
    case Kind::kExplicit: return static_cast<uint32_t>(bounds.size()) + 1;
  }
  return 0;
}

bool needs_pid_map(const ProcessSelector& s) {
  return !s.exe.empty() || !s.cmdline.empty() || (!s.container.empty() && s.container != "any");
}

bool needs_cgroup_map(const ProcessSelector& s) { return !s.cgroup.empty(); }

const Probe* Plan::find_probe(const std::string& name) const {
  for (const auto& p : probes)
    if (p.name == name) return &p;
  return nullptr;
}

const Target* Plan::find_target(const std::string& name) const {
  for (const auto& t : targets)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace probe::plan
