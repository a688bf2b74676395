// Pass: [probe.NAME] tables — attach point, captures, filters and protocol matcher.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "compiler/plan/matchers.h"
#include "compiler/sema/context.h"
#include "common/strings.h"
#include "compiler/sema/filter_expr.h"
#include "compiler/sema/kernel_btf.h"
#include "compiler/sema/signature.h"
#include "compiler/sema/table_reader.h"
#include "compiler/sema/value_expr.h"

namespace probe {
namespace {

using plan::FieldType;
using plan::ProbeKind;
using plan::ValueRef;

// Names every event carries in its header; captures may not reuse them.
const std::set<std::string> kHeaderNames = {"pid", "tid", "ts", "cgroup", "probe"};

constexpr uint32_t kMaxFieldBytes = 16384;
constexpr uint32_t kDefaultStringMax = 128;
constexpr uint32_t kDefaultBytesMax = 256;

// Length of a fixed-size array field of a tracepoint (0 if the value is not one).
uint32_t p_fixed_array(const plan::Probe& probe, const ValueRef& v) {
  if (v.source != ValueRef::Source::kTracepointField || !probe.tracepoint) return 0;
  const TracepointField* f = probe.tracepoint->field(v.name);
  return f && f->array_len > 0 ? f->array_len : 0;
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Checks that a value can be read by this kind of probe.
bool check_value_for_kind(const ValueRef& v, ProbeKind kind, const std::string& probe,
                          Diagnostics& diags) {
  using S = ValueRef::Source;
  bool ret_ok = plan::fires_at_return(kind);
  bool args_ok = kind == ProbeKind::kUprobe || kind == ProbeKind::kUretprobe ||
                 kind == ProbeKind::kKprobe || kind == ProbeKind::kKretprobe ||
                 kind == ProbeKind::kUsdt || kind == ProbeKind::kFentry ||
                 kind == ProbeKind::kFexit || kind == ProbeKind::kRawTracepoint;
  if ((v.source == S::kRet || v.source == S::kDerefArg) && !ret_ok) {
    const char* ret_kind = kind == ProbeKind::kKprobe   ? "kretprobe"
                           : kind == ProbeKind::kFentry ? "fexit"
                                                        : "uretprobe";
    diags.error(v.range,
                fmt::format("'{}' is only known when the function returns, but probe '{}' is a {}",
                            v.text, probe, plan::probe_kind_name(kind)),
                fmt::format("make it a {} (arguments are saved at entry and paired automatically)",
                            ret_kind));
    return false;
  }
  if ((v.source == S::kArg || v.source == S::kDerefArg) && !args_ok) {
    diags.error(v.range, fmt::format("a {} has no function arguments", plan::probe_kind_name(kind)),
                "read tracepoint fields as args.NAME");
    return false;
  }
  if (v.source == S::kBuiltin && v.builtin == plan::Builtin::kElapsed && !ret_ok) {
    diags.error(v.range, "'elapsed' is the time since entry, known only in return probes",
                "make the probe a uretprobe, kretprobe or fexit");
    return false;
  }
  if (v.source == S::kTracepointField && kind != ProbeKind::kTracepoint) {
    diags.error(v.range, fmt::format("'{}' names a tracepoint field, but probe '{}' is a {}", v.text,
                                     probe, plan::probe_kind_name(kind)));
    return false;
  }
  if (v.source == S::kRegister && !(plan::is_user_space(kind) || kind == ProbeKind::kKprobe ||
                                    kind == ProbeKind::kKretprobe)) {
    diags.error(v.range, fmt::format("registers are not available in a {}",
                                     plan::probe_kind_name(kind)));
    return false;
  }
  return true;
}

// Resolves a value, accepting the signature's parameter names for arguments ("buf",
// "*written") and checking argument indexes against its arity.
std::optional<ValueRef> read_value(const Node& n, bool allow_capture, const plan::Probe& probe,
                                   Diagnostics& diags) {
  std::optional<ValueRef> v;
  if (probe.signature) {
    bool deref = !n.str.empty() && n.str[0] == '*';
    int idx = signature_param_index(*probe.signature, deref ? n.str.substr(1) : n.str);
    if (idx >= 0) {
      v = ValueRef{};
      v->source = deref ? ValueRef::Source::kDerefArg : ValueRef::Source::kArg;
      v->index = idx;
      v->text = n.str;
    }
  }
  if (!v) {
    ValueParseError err;
    v = parse_value_ref(n.str, allow_capture, &err);
    if (!v) {
      if (probe.signature && !probe.signature->params.empty() && err.hint.find("did you mean") == std::string::npos) {
        std::vector<std::string> names;
        for (const auto& prm : probe.signature->params) names.push_back(prm.name);
        std::string hint = did_you_mean(n.str, names);
        if (!hint.empty()) err.hint = hint;
      }
      diags.error(n.range, err.message, err.hint);
      return std::nullopt;
    }
  }
  v->range = n.range;
  if (v->source == ValueRef::Source::kCapture) return v;
  if (!check_value_for_kind(*v, probe.kind, probe.name, diags)) return std::nullopt;
  if (v->source == ValueRef::Source::kTracepointField && probe.tracepoint &&
      !probe.tracepoint->field(v->name)) {
    std::vector<std::string> names;
    for (const auto& f : probe.tracepoint->fields) names.push_back(f.name);
    std::string hint = did_you_mean(v->name, names);
    diags.error(n.range, fmt::format("tracepoint {} has no field '{}'", probe.symbol, v->name),
                hint.empty() ? "its fields: " + join(names, ", ") : hint);
    return std::nullopt;
  }
  if (probe.kernel_arity >= 0 &&
      (v->source == ValueRef::Source::kArg || v->source == ValueRef::Source::kDerefArg) &&
      v->index >= probe.kernel_arity) {
    diags.error(n.range, fmt::format("'{}' is beyond the {} parameter{} of kernel function {}", n.str,
                                     probe.kernel_arity, probe.kernel_arity == 1 ? "" : "s", probe.symbol),
                "the kernel's BTF gives the function's parameters; arg0 is the first");
    return std::nullopt;
  }
  const plan::Signature* sig = probe.signature ? &*probe.signature : nullptr;
  if (sig && !sig->variadic &&
      (v->source == ValueRef::Source::kArg || v->source == ValueRef::Source::kDerefArg) &&
      static_cast<size_t>(v->index) >= sig->params.size()) {
    diags.error(n.range,
                fmt::format("'{}' is beyond the {} parameter{} of {}", n.str, sig->params.size(),
                            sig->params.size() == 1 ? "" : "s", sig->function),
                "check the signature, or the argument number (arg0 is the first)");
    return std::nullopt;
  }
  return v;
}

// The natural type of a tracepoint field: strings for char arrays and __data_loc, bytes
// for other arrays, pointers, else the integer type tracefs declares.
FieldType tracepoint_field_type(const TracepointField& f) {
  bool charish = f.type.rfind("char", 0) == 0 || f.type.rfind("const char", 0) == 0 ||
                 f.type.rfind("unsigned char", 0) == 0;
  if (f.data_loc) return charish ? FieldType::kString : FieldType::kBytes;
  if (f.array_len > 0) return charish ? FieldType::kString : FieldType::kBytes;
  if (f.pointer) return FieldType::kPtr;
  if (auto t = c_scalar_type(f.type); t && plan::scalar_size(*t) <= f.size) return *t;
  switch (f.size) {
    case 1: return f.is_signed ? FieldType::kI8 : FieldType::kU8;
    case 2: return f.is_signed ? FieldType::kI16 : FieldType::kU16;
    case 4: return f.is_signed ? FieldType::kI32 : FieldType::kU32;
    default: return f.is_signed ? FieldType::kI64 : FieldType::kU64;
  }
}

FieldType default_type(const ValueRef& v, const plan::Probe& probe) {
  switch (v.source) {
    case ValueRef::Source::kTracepointField:
      if (probe.tracepoint)
        if (const auto* f = probe.tracepoint->field(v.name)) return tracepoint_field_type(*f);
      return FieldType::kU64;
    case ValueRef::Source::kRet: return probe.returns;
    case ValueRef::Source::kArg:
      if (probe.signature && static_cast<size_t>(v.index) < probe.signature->params.size())
        return probe.signature->params[v.index].type;
      return FieldType::kU64;
    case ValueRef::Source::kBuiltin: return builtin_type(v.builtin);
    default: return FieldType::kU64;
  }
}

std::optional<plan::Capture> read_capture(const Node& node, const plan::Probe& probe,
                                          Diagnostics& diags) {
  if (!node.is_table()) {
    diags.error(node.range, fmt::format("captures of probe '{}' must be tables", probe.name),
                "write { name = \"buf\", value = \"arg1\", type = \"bytes\", len = \"arg2\" }");
    return std::nullopt;
  }
  std::string what = fmt::format("capture of probe '{}'", probe.name);
  TableReader r(node, what, diags);
  plan::Capture c;
  c.range = node.range;
  auto name = r.string("name", true);
  const Node* value = r.require("value", Node::Kind::kString);
  const Node* type = r.get("type", Node::Kind::kString);
  const Node* len = r.get("len", Node::Kind::kString);
  auto max = r.integer("max", 1, kMaxFieldBytes);
  r.finish();
  if (!name || !value) return std::nullopt;
  c.name = *name;
  if (!is_identifier(c.name)) {
    diags.error(node.get("name")->range, fmt::format("capture name '{}' is not an identifier", c.name),
                "use letters, digits and '_', starting with a letter");
    return std::nullopt;
  }
  if (kHeaderNames.count(c.name)) {
    diags.error(node.get("name")->range,
                fmt::format("capture name '{}' is reserved for the event header", c.name),
                "every event already carries pid, tid, ts, cgroup and probe");
    return std::nullopt;
  }
  auto v = read_value(*value, false, probe, diags);
  if (!v) return std::nullopt;
  c.value = *v;
  c.type = default_type(c.value, probe);
  if (type) {
    auto t = plan::parse_field_type(type->str);
    if (!t) {
      diags.error(type->range, fmt::format("unknown type '{}'", type->str),
                  did_you_mean(type->str, plan::field_type_names()));
      return std::nullopt;
    }
    c.type = *t;
  }
  if (c.value.source == ValueRef::Source::kBuiltin) {
    FieldType natural = builtin_type(c.value.builtin);
    if (plan::is_variable(natural) != plan::is_variable(c.type)) {
      diags.error(type ? type->range : value->range,
                  fmt::format("builtin '{}' is a {}", c.value.text, plan::field_type_name(natural)));
      return std::nullopt;
    }
  }
  bool stream_address = c.value.source == ValueRef::Source::kBuiltin &&
                        plan::is_stream_builtin(c.value.builtin) && c.type == FieldType::kBytes;
  if (stream_address) {
    // stream.saddr / stream.daddr: 16 bytes (IPv4 in the first four, see stream.family).
    if (len) diags.error(len->range, fmt::format("'{}' has a fixed length of 16 bytes", c.value.text));
    c.max = 16;
  } else if (c.type == FieldType::kBytes && !len && p_fixed_array(probe, c.value)) {
    // A fixed array in the tracepoint record has its length built in.
    c.max = static_cast<uint32_t>(max.value_or(p_fixed_array(probe, c.value)));
  } else if (c.type == FieldType::kBytes) {
    if (!len) {
      diags.error(node.range, fmt::format("bytes capture '{}' needs a length", c.name),
                  "add len = \"arg2\" (an argument), \"ret\" or \"*arg3\" (read at return)");
      return std::nullopt;
    }
    auto l = read_value(*len, true, probe, diags);
    if (!l) return std::nullopt;
    c.len = *l;
    c.max = max.value_or(kDefaultBytesMax);
  } else if (c.type == FieldType::kString) {
    if (len) {
      diags.error(len->range, "a string capture ends at its NUL terminator; 'len' applies to bytes",
                  "use type = \"bytes\" for a buffer with a length");
      return std::nullopt;
    }
    uint32_t natural = c.value.source == ValueRef::Source::kBuiltin ? 16
                       : p_fixed_array(probe, c.value)            ? p_fixed_array(probe, c.value)
                                                                   : kDefaultStringMax;
    c.max = static_cast<uint32_t>(max.value_or(natural));
  } else {
    if (len || max) {
      const Node* bad = len ? len : node.get("max");
      diags.error(bad->range, fmt::format("'{}' applies only to bytes and str captures",
                                          len ? "len" : "max"));
      return std::nullopt;
    }
  }
  return c;
}

// Tracepoint layouts and kernel function arity come from this machine (tracefs, BTF), so
// captures get their types and argument numbers are checked.
void resolve_kernel_side(SemaContext& ctx, plan::Probe& p, const Node* at) {
  if (p.kind == ProbeKind::kTracepoint) {
    auto parts = split(p.symbol, ':');
    if (parts.size() != 2) return;
    auto fmt = read_tracepoint_format(parts[0], parts[1]);
    if (fmt) {
      p.tracepoint = std::move(*fmt);
      return;
    }
    std::string msg = fmt.error().message;
    bool missing = msg.find("not found") != std::string::npos;
    std::string hint = missing ? fmt::format("`probec list --tracepoints '{}:*'` lists the category", parts[0]) : "";
    if (p.optional) ctx.diags.warning(at->range, msg + " (optional, skipped)", hint);
    else ctx.diags.error(at->range, msg, hint);
    return;
  }
  bool kernel_fn = p.kind == ProbeKind::kFentry || p.kind == ProbeKind::kFexit ||
                   p.kind == ProbeKind::kKprobe || p.kind == ProbeKind::kKretprobe;
  if (!kernel_fn) return;
  std::vector<std::string> near;
  auto fn = find_kernel_function(p.symbol, &near);
  if (!fn) {
    ctx.diags.warning(at->range, fmt::format("cannot check kernel function '{}': {}", p.symbol, fn.error().message));
    return;
  }
  if (!*fn) {
    std::string msg = fmt::format("kernel function '{}' not found in /sys/kernel/btf/vmlinux", p.symbol);
    std::string hint = near.empty() ? "" : fmt::format("did you mean '{}'?", near.front());
    if (p.optional) ctx.diags.warning(at->range, msg + " (optional, skipped)", hint);
    else ctx.diags.error(at->range, msg, hint);
    return;
  }
  p.kernel_arity = static_cast<int>((*fn)->params.size());
}

// stream = { role = "send", conn = "conn" }: per-connection state in the kernel
// (stdlib/bpf/tls/stream.h). Send and receive probes filter with it, as match = "http".
void read_stream(SemaContext& ctx, plan::Probe& p, const Node& node, const Node* match) {
  using Role = plan::Stream::Role;
  std::string what = fmt::format("stream of probe '{}'", p.name);
  TableReader r(node, what, ctx.diags);
  const Node* role = r.require("role", Node::Kind::kString);
  const Node* conn = r.get("conn", Node::Kind::kString);
  const Node* fd = r.get("fd", Node::Kind::kString);
  r.finish();
  if (!role) return;
  plan::Stream s;
  s.range = node.range;
  static const std::vector<std::string> roles = {"send", "recv", "enter", "close", "bind"};
  if (role->str == "send") s.role = Role::kSend;
  else if (role->str == "recv") s.role = Role::kRecv;
  else if (role->str == "enter") s.role = Role::kEnter;
  else if (role->str == "close") s.role = Role::kClose;
  else if (role->str == "bind") s.role = Role::kBind;
  else {
    std::string hint = did_you_mean(role->str, roles);
    ctx.diags.error(role->range, fmt::format("unknown stream role '{}'", role->str),
                    hint.empty() ? "expected send, recv, enter, close or bind" : hint);
    return;
  }
  if (s.role == Role::kBind) {
    if (!fd) {
      ctx.diags.error(node.range, fmt::format("{}: role \"bind\" needs fd", what),
                      "name the syscall's file descriptor, e.g. fd = \"args.fd\"");
      return;
    }
    if (conn) ctx.diags.error(conn->key_range, fmt::format("{}: a bind probe finds the connection itself", what),
                              "drop conn; the TLS call running on the same thread names it");
    s.fd = read_value(*fd, true, p, ctx.diags);
    if (!s.fd) return;
  } else {
    if (!conn) {
      ctx.diags.error(node.range, fmt::format("{}: role \"{}\" needs conn", what, role->str),
                      "name the connection object, e.g. conn = \"ssl\" (a capture) or \"arg0\"");
      return;
    }
    if (fd) ctx.diags.error(fd->key_range, fmt::format("{}: fd applies to role \"bind\" only", what));
    s.conn = read_value(*conn, true, p, ctx.diags);
    if (!s.conn) return;
  }
  bool data_role = s.role == Role::kSend || s.role == Role::kRecv;
  if (match && !data_role)
    ctx.diags.error(match->range, fmt::format("probe '{}': a {} stream probe carries no payload to match",
                                              p.name, role->str));
  if (data_role && p.matcher.empty() && !match) {
    // The stream filter is the HTTP one; say so where the policy did not.
    p.matcher = "http";
    for (const auto& c : p.captures)
      if (plan::is_variable(c.type) && c.value.source != ValueRef::Source::kBuiltin) {
        p.match_capture = c.name;
        break;
      }
  }
  if (data_role && p.match_capture.empty())
    ctx.diags.error(node.range, fmt::format("probe '{}' streams no payload", p.name),
                    "capture the plaintext, e.g. { name = \"data\", value = \"buf\", type = \"bytes\", "
                    "len = \"num\" }");
  if (data_role && !p.matcher.empty() && p.matcher != "http")
    ctx.diags.error(match ? match->range : node.range,
                    fmt::format("probe '{}': a stream filters with match = \"http\", not \"{}\"", p.name,
                                p.matcher),
                    "drop match (the stream recognises HTTP/1.x and HTTP/2 itself)");
  p.stream = std::move(s);
}

// stream.* values exist only in stream probes, and only once the stream check has run.
void check_stream_values(SemaContext& ctx, const plan::Probe& p) {
  auto bad = [&](const ValueRef& v) {
    return v.source == ValueRef::Source::kBuiltin && plan::is_stream_builtin(v.builtin);
  };
  if (!p.stream)
    for (const auto& c : p.captures)
      if (bad(c.value))
        ctx.diags.error(c.value.range, fmt::format("'{}' needs a stream probe", c.value.text),
                        "add stream = { role = \"send\", conn = \"...\" } to the probe");
  for (const auto& f : p.filters)
    if (bad(f.lhs))
      ctx.diags.error(f.range, fmt::format("filter on '{}': stream values are known only after the stream "
                                           "check, which runs after filters", f.lhs.text),
                      "filter in the handler instead");
}

void read_probe(SemaContext& ctx, const std::string& name, const Node& node) {
  std::string what = fmt::format("probe '{}'", name);
  plan::Probe p;
  p.id = static_cast<uint32_t>(ctx.plan.probes.size());
  p.name = name;
  p.range = node.key_range.valid() ? node.key_range : node.range;
  if (!is_identifier(name)) {
    ctx.diags.error(p.range, fmt::format("probe name '{}' is not an identifier", name),
                    "probe names become Lua handler names (on_<name>); use letters, digits, '_'");
    return;
  }
  TableReader r(node, what, ctx.diags);
  std::vector<const Node*> kinds;
  for (const auto& k : plan::probe_kind_names()) {
    if (const Node* n = r.get(k, Node::Kind::kString)) {
      kinds.push_back(n);
      p.kind = *plan::parse_probe_kind(k);
      p.symbol = n->str;
    }
  }
  if (auto t = r.string("target")) p.target = *t;
  if (auto off = r.integer("offset", 0, INT64_MAX)) p.offset = static_cast<uint64_t>(*off);
  if (auto opt = r.boolean("optional")) p.optional = *opt;
  const Node* ret_node = r.get("return", Node::Kind::kString);
  if (const Node* ret = ret_node) {
    if (ret->str == "auto") p.return_mode = plan::ReturnMode::kAuto;
    else if (ret->str == "uretprobe") p.return_mode = plan::ReturnMode::kUretprobe;
    else if (ret->str == "ret-sites") p.return_mode = plan::ReturnMode::kRetSites;
    else
      ctx.diags.error(ret->range, fmt::format("unknown return mode '{}'", ret->str),
                      "expected \"auto\", \"uretprobe\" or \"ret-sites\"");
  }
  const Node* placement = r.get("placement", Node::Kind::kString);
  if (placement) {
    if (auto pl = plan::parse_placement(placement->str)) p.placement = *pl;
    else
      ctx.diags.error(placement->range, fmt::format("unknown placement '{}'", placement->str),
                      "expected \"auto\", \"shared\" or \"off\"");
  }
  std::vector<SourceRange> dispatch_ranges;
  p.dispatch_tables = r.strings("dispatch_tables", &dispatch_ranges);
  const Node* abi = r.get("abi", Node::Kind::kString);
  if (abi) {
    if (auto a = plan::parse_abi(abi->str)) p.abi = *a;
    else ctx.diags.error(abi->range, fmt::format("unknown abi '{}'", abi->str), "expected \"c\" or \"go\"");
  }
  const Node* sig_node = r.get("signature", Node::Kind::kString);
  if (sig_node) {
    p.signature = parse_signature(sig_node->str, sig_node->range, ctx.diags);
    if (p.signature) p.returns = p.signature->returns;
  }
  if (const Node* rt = r.get("returns", Node::Kind::kString)) {
    auto t = plan::parse_field_type(rt->str);
    if (!t || plan::is_variable(*t))
      ctx.diags.error(rt->range, fmt::format("'returns' must be an integer or pointer type, not '{}'", rt->str),
                      "for example returns = \"i32\" for a C function returning int");
    else if (p.signature && *t != p.signature->returns)
      ctx.diags.error(rt->range, fmt::format("'returns' says {} but the signature returns {}", rt->str,
                                             plan::field_type_name(p.signature->returns)),
                      "keep one of them");
    else
      p.returns = *t;
  }
  const Node* captures = r.get("capture", Node::Kind::kArray);
  std::vector<SourceRange> filter_ranges;
  std::vector<std::string> filters = r.strings("filter", &filter_ranges);
  const Node* match = r.get("match", Node::Kind::kString);
  const Node* match_on = r.get("match_on", Node::Kind::kString);
  const Node* stream = r.get("stream", Node::Kind::kTable);
  if (auto ev = r.boolean("event")) p.emit_event = *ev;
  if (auto h = r.string("handler")) p.handler = *h;
  r.get("description", Node::Kind::kString);
  r.finish();

  if (kinds.empty()) {
    // A misspelled attach key ("upobe") is already reported as an unknown key.
    for (const auto& [key, v] : node.table)
      if (!did_you_mean(key, plan::probe_kind_names()).empty()) return;
    ctx.diags.error(p.range, fmt::format("{} does not say where to attach", what),
                    "add one of: uprobe, uretprobe, usdt, kprobe, kretprobe, tracepoint, "
                    "raw_tracepoint, fentry, fexit (e.g. uprobe = \"SSL_write\")");
    return;
  }
  if (kinds.size() > 1) {
    ctx.diags.error(kinds[1]->key_range, fmt::format("{} has more than one attach point", what),
                    "define one probe per attach point");
    return;
  }
  const Node* kind_node = kinds[0];
  if (p.symbol.empty()) {
    ctx.diags.error(kind_node->range, fmt::format("{} has an empty attach point", what));
    return;
  }
  if ((p.kind == ProbeKind::kTracepoint || p.kind == ProbeKind::kUsdt) &&
      p.symbol.find(':') == std::string::npos) {
    ctx.diags.error(kind_node->range,
                    fmt::format("{} '{}' must be written as {}", plan::probe_kind_name(p.kind),
                                p.symbol,
                                p.kind == ProbeKind::kUsdt ? "\"provider:name\"" : "\"category:name\""));
  }
  bool function_probe = p.kind == ProbeKind::kUprobe || p.kind == ProbeKind::kUretprobe;
  if (placement && !function_probe)
    ctx.diags.error(placement->key_range, fmt::format("{}: placement applies to uprobe and uretprobe only", what));
  if (!p.dispatch_tables.empty() && p.kind != ProbeKind::kUretprobe)
    ctx.diags.error(dispatch_ranges.front(), fmt::format("{}: dispatch_tables applies to uretprobe only", what),
                    "it names where a return probe's function dispatches; an entry probe needs none");
  if (abi && !function_probe)
    ctx.diags.error(abi->key_range, fmt::format("{}: abi applies to uprobe and uretprobe only", what));
  if (p.abi == plan::Abi::kGo) {
    if (p.return_mode == plan::ReturnMode::kUretprobe)
      ctx.diags.error(ret_node->range, fmt::format("{} is a Go function with return = \"uretprobe\"", what),
                      "uretprobes corrupt Go stacks (the runtime moves them); drop `return` to probe "
                      "each RET instruction instead");
    p.return_mode = plan::ReturnMode::kRetSites;
    if (p.signature)
      ctx.diags.error(sig_node->range, fmt::format("{}: signatures describe C functions", what),
                      "with abi = \"go\" name registers by position: arg0, arg1, ... in Go's register "
                      "order (a slice takes three: pointer, length, capacity)");
  }
  if (is_function_pattern(p.symbol)) {
    if (p.abi == plan::Abi::kGo)
      ctx.diags.error(kind_node->range, fmt::format("{} names Go functions by pattern", what),
                      "Go probes need each function's RET instructions; name one function per probe");
    else if (p.kind != ProbeKind::kUprobe && p.kind != ProbeKind::kUretprobe)
      ctx.diags.error(kind_node->range,
                      fmt::format("{} '{}' is a pattern; only uprobe and uretprobe take patterns",
                                  plan::probe_kind_name(p.kind), p.symbol),
                      "name one attach point per probe");
    else if (p.offset != 0)
      ctx.diags.error(kind_node->range, fmt::format("{} attaches to a pattern and has an offset", what),
                      "an offset applies to one function; drop it or name the function");
    else if (p.symbol.find('@') != std::string::npos)
      ctx.diags.error(kind_node->range, fmt::format("pattern '{}' has a symbol version", p.symbol),
                      "patterns match function names only; drop the @VERSION part");
  }
  if (p.signature && !p.signature->function.empty() && !is_function_pattern(p.symbol)) {
    std::string base = p.symbol.substr(0, p.symbol.find('@'));
    if (p.kind != ProbeKind::kUsdt && p.kind != ProbeKind::kTracepoint && base != p.signature->function)
      ctx.diags.warning(sig_node->range,
                        fmt::format("signature is for '{}' but the probe attaches to '{}'",
                                    p.signature->function, base));
  }
  if (ctx.options.check_host && !is_function_pattern(p.symbol)) resolve_kernel_side(ctx, p, kind_node);
  if (plan::is_user_space(p.kind) && p.target.empty()) {
    ctx.diags.error(kind_node->key_range,
                    fmt::format("{} is a {} but names no target", what, plan::probe_kind_name(p.kind)),
                    "add target = \"<name of a [target.NAME] table>\"");
  }

  std::set<std::string> names;
  if (captures) {
    for (const auto& item : captures->array) {
      auto c = read_capture(item, p, ctx.diags);
      if (!c) continue;
      if (!names.insert(c->name).second) {
        ctx.diags.error(item.get("name")->range,
                        fmt::format("{} captures '{}' twice", what, c->name));
        continue;
      }
      p.captures.push_back(std::move(*c));
    }
  }
  for (size_t i = 0; i < filters.size(); ++i) {
    auto f = parse_filter(filters[i], filter_ranges[i], ctx.diags);
    if (!f) continue;
    if (f->lhs.source != ValueRef::Source::kCapture &&
        !check_value_for_kind(f->lhs, p.kind, name, ctx.diags))
      continue;
    // A name that is not a capture may be a signature parameter.
    if (f->lhs.source == ValueRef::Source::kCapture && p.signature &&
        std::none_of(p.captures.begin(), p.captures.end(),
                     [&](const plan::Capture& c) { return c.name == f->lhs.name; })) {
      int idx = signature_param_index(*p.signature, f->lhs.name);
      if (idx >= 0) {
        f->lhs.source = ValueRef::Source::kArg;
        f->lhs.index = idx;
        if (!check_value_for_kind(f->lhs, p.kind, name, ctx.diags)) continue;
      }
    }
    p.filters.push_back(std::move(*f));
  }
  if (match) {
    if (!plan::find_matcher(match->str)) {
      ctx.diags.error(match->range, fmt::format("unknown protocol '{}'", match->str),
                      did_you_mean(match->str, plan::matcher_names()));
    } else {
      p.matcher = match->str;
      // The matcher inspects the named bytes/str capture, by default the first one.
      const plan::Capture* target = nullptr;
      // A payload is a bytes or str capture read through a pointer (not comm).
      auto is_payload = [](const plan::Capture& c) {
        return plan::is_variable(c.type) && c.value.source != ValueRef::Source::kBuiltin;
      };
      for (const auto& c : p.captures) {
        if (match_on ? c.name == match_on->str : is_payload(c)) {
          target = &c;
          break;
        }
      }
      if (!target || !is_payload(*target)) {
        ctx.diags.error(match_on ? match_on->range : match->range,
                        match_on ? fmt::format("'{}' is not a bytes or str capture of {}",
                                               match_on->str, what)
                                 : fmt::format("{} has no bytes or str capture to match", what),
                        "capture the payload, e.g. { name = \"data\", value = \"arg1\", type = "
                        "\"bytes\", len = \"arg2\" }");
      } else {
        p.match_capture = target->name;
      }
    }
  } else if (match_on) {
    ctx.diags.error(match_on->range, "'match_on' needs a 'match' protocol");
  }
  if (stream) read_stream(ctx, p, *stream, match);
  else if (p.matcher == "http")
    ctx.diags.error(match->range, fmt::format("{}: match = \"http\" follows connections", what),
                    "add stream = { role = \"send\" or \"recv\", conn = \"<connection object>\" }");
  check_stream_values(ctx, p);
  ctx.probe_nodes.push_back(&node);
  ctx.plan.probes.push_back(std::move(p));
}

}  // namespace

void read_probes(SemaContext& ctx) {
  const Node* probes = ctx.root.get("probe");
  if (!probes || !probes->is_table()) {
    // Earlier errors (a failed include, a misspelled [probe] table) explain the absence.
    if (ctx.diags.has_errors()) return;
    ctx.diags.error(ctx.root.range, "the policy defines no probes",
                    "add a [probe.NAME] table, e.g. [probe.ssl_write] with uprobe = \"SSL_write\"");
    return;
  }
  for (const auto& [name, node] : probes->table) {
    if (!node.is_table()) {
      ctx.diags.error(node.range, fmt::format("probe '{}' must be a table", name));
      continue;
    }
    read_probe(ctx, name, node);
  }
  if (ctx.plan.probes.size() > 0xffff)
    ctx.diags.error(probes->range, "a policy may define at most 65535 probes");
}

}  // namespace probe
