// In-kernel filters and protocol matchers. Each failing check counts PK_STAT_FILTERED and
// ends the program before any record is built; string checks look only at a payload's
// leading PK_PEEK_LEN bytes, read once into a small stack buffer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "compiler/codegen/probe_emitter.h"
#include "compiler/plan/matchers.h"

namespace probe {

using plan::FieldType;
using plan::FilterOp;
using plan::ValueRef;

namespace {

const char* c_op(FilterOp op) {
  switch (op) {
    case FilterOp::kEq: return "==";
    case FilterOp::kNe: return "!=";
    case FilterOp::kLt: return "<";
    case FilterOp::kLe: return "<=";
    case FilterOp::kGt: return ">";
    case FilterOp::kGe: return ">=";
    default: return "==";
  }
}

// h[at..] equals the literal, byte by byte (no string functions in BPF).
std::string bytes_equal(const std::string& h, const std::string& lit, const std::string& at) {
  std::vector<std::string> terms;
  for (size_t i = 0; i < lit.size(); ++i)
    terms.push_back(fmt::format("{}[{}{}] == {}", h, at, i, static_cast<unsigned>(static_cast<uint8_t>(lit[i]))));
  return terms.empty() ? "1" : fmt::format("{}", fmt::join(terms, " && "));
}

}  // namespace

// Process selectors of the probe's target that BPF can check on its own: comm and pid.
void ProbeEmitter::emit_process_filter() {
  if (!target_) return;
  const plan::ProcessSelector& sel = target_->process;
  if (!sel.pid.empty()) {
    std::vector<std::string> terms;
    for (int64_t p : sel.pid) terms.push_back(fmt::format("pk_pid == {}", p));
    out_.line("__u32 pk_pid = bpf_get_current_pid_tgid() >> 32;");
    out_.line("if (!({})) return 0;", fmt::join(terms, " || "));
  }
  if (!sel.comm.empty()) {
    out_.line("char pk_sel_comm[16] = {{}};");
    out_.line("bpf_get_current_comm(pk_sel_comm, sizeof(pk_sel_comm));");
    std::vector<std::string> terms;
    for (const auto& c : sel.comm)
      terms.push_back(fmt::format("({} && pk_sel_comm[{}] == 0)", bytes_equal("pk_sel_comm", c, ""), c.size()));
    out_.line("if (!({})) return 0;", fmt::join(terms, " || "));
  }
  // Selectors only probed can evaluate: it keeps the matching pids and cgroups in maps.
  if (plan::needs_pid_map(sel)) {
    out_.line("__u32 pk_tgid = bpf_get_current_pid_tgid() >> 32;");
    out_.line("if (!bpf_map_lookup_elem(&pk_t{}_pids, &pk_tgid)) return 0;", target_index_);
  }
  if (plan::needs_cgroup_map(sel)) {
    out_.line("__u64 pk_cg = bpf_get_current_cgroup_id();");
    out_.line("if (!bpf_map_lookup_elem(&pk_t{}_cgroups, &pk_cg)) return 0;", target_index_);
  }
}

bool ProbeEmitter::filter_runs_at(const plan::Filter& f, Stage stage) const {
  if (!paired()) return stage == build_stage();
  // In a paired probe, checks on arguments and builtins run at entry so rejected calls save
  // no state; everything that may depend on the call's effects runs at return.
  const ValueRef& v = resolve(f.lhs);
  bool early = (v.source == ValueRef::Source::kArg && probe_.kind != plan::ProbeKind::kFexit) ||
               (v.source == ValueRef::Source::kBuiltin && v.builtin != plan::Builtin::kElapsed);
  // A return site that may hold the arguments itself (a dispatched return) had no entry
  // program filter the call: the early checks run there too (on st.a, the same thread).
  if (early && stage == Stage::kReturn && return_site_args()) return true;
  return early == (stage == Stage::kEntry);
}

// Name of a head buffer holding the leading bytes of capture `c` (comm for the builtin).
std::string ProbeEmitter::head_of(const plan::Capture& c) {
  std::string h = "pk_h_" + c.name;
  if (peeked_.insert(c.name).second) {
    if (c.value.source == ValueRef::Source::kBuiltin) {
      out_.line("char {}[16] = {{}};", h);
      out_.line("bpf_get_current_comm({}, sizeof({}));", h, h);
      out_.line("__u32 {}_n = 16;", h);
    } else if (c.type == FieldType::kString) {
      out_.line("__u8 {}[PK_PEEK_LEN + 1] = {{}};", h);
      out_.line("__u32 {}_n = pk_peek_str({}, {}, {});", h, h, source_pointer(c), memory_flag(c));
    } else {
      out_.line("__u8 {}[PK_PEEK_LEN] = {{}};", h);
      out_.line("__u32 {}_n = pk_peek({}, {}, {}, {});", h, h, source_pointer(c), capture_length(c),
                memory_flag(c));
    }
  }
  return h;
}

void ProbeEmitter::emit_filters(Stage stage, bool after_derefs) {
  // Numeric checks first: they cost a compare; string checks read memory.
  std::vector<const plan::Filter*> order;
  for (const auto& f : probe_.filters)
    if (!f.string_literal) order.push_back(&f);
  for (const auto& f : probe_.filters)
    if (f.string_literal) order.push_back(&f);
  for (const plan::Filter* fp : order) {
    const plan::Filter& f = *fp;
    if (!filter_runs_at(f, stage) || uses_deref(f.lhs) != after_derefs) continue;
    std::string cond;
    const plan::Capture* cap =
        f.lhs.source == ValueRef::Source::kCapture ? capture(f.lhs.name) : nullptr;
    bool is_comm = f.lhs.source == ValueRef::Source::kBuiltin && f.lhs.builtin == plan::Builtin::kComm;
    if (f.string_literal) {
      plan::Capture comm;
      if (is_comm) {
        comm.name = "comm";
        comm.value = f.lhs;
        comm.type = FieldType::kString;
        cap = &comm;
      }
      std::string h = head_of(*cap);
      std::string n = h + "_n";
      const std::string& lit = f.str_value;
      bool text = cap->type == FieldType::kString;
      switch (f.op) {
        case FilterOp::kPrefix:
          cond = fmt::format("{} >= {} && {}", n, lit.size(), bytes_equal(h, lit, ""));
          break;
        case FilterOp::kEq:
        case FilterOp::kNe: {
          std::string eq = text ? fmt::format("{} && {}[{}] == 0", bytes_equal(h, lit, ""), h, lit.size())
                                : fmt::format("{} == {} && {}", n, lit.size(), bytes_equal(h, lit, ""));
          cond = f.op == FilterOp::kEq ? eq : fmt::format("!({})", eq);
          break;
        }
        case FilterOp::kContains: {
          std::string found = fmt::format("pk_found{}", &f - probe_.filters.data());
          out_.line("int {} = 0;", found);
          out_.line("for (__u32 i = 0; i + {} <= PK_PEEK_LEN && i + {} <= {}; i++) {{", lit.size(),
                    lit.size(), n);
          out_.line("  if ({}) {{ {} = 1; break; }}", bytes_equal(h, lit, "i + "), found);
          out_.line("}}");
          cond = found;
          break;
        }
        default: break;
      }
    } else {
      FieldType t = cap ? cap->type
                    : f.lhs.source == ValueRef::Source::kRet ? probe_.returns
                                                             : FieldType::kI64;
      if (f.lhs.source == ValueRef::Source::kBuiltin) t = FieldType::kU64;
      if (!cap && f.lhs.source == ValueRef::Source::kArg && probe_.signature &&
          static_cast<size_t>(f.lhs.index) < probe_.signature->params.size())
        t = probe_.signature->params[f.lhs.index].type;
      if (!cap && f.lhs.source == ValueRef::Source::kTracepointField) t = FieldType::kI64;
      const ValueRef& v = cap ? cap->value : f.lhs;
      cond = fmt::format("{} {} {}", value(v, t), c_op(f.op),
                         plan::is_signed(t) ? fmt::format("{}LL", f.int_value)
                                            : fmt::format("{}ULL", static_cast<uint64_t>(f.int_value)));
    }
    out_.line("if (!({})) {{ /* {} */", cond, f.text);
    out_.line("  pk_count({}, PK_STAT_FILTERED);", probe_.id);
    out_.line("  return 0;");
    out_.line("}}");
  }
}

void ProbeEmitter::emit_matcher() {
  if (probe_.matcher.empty()) return;
  const plan::MatcherInfo* m = plan::find_matcher(probe_.matcher);
  const plan::Capture* c = capture(probe_.match_capture);
  if (!m || !c) return;
  std::string h = head_of(*c);
  std::vector<std::string> accept;
  if (m->requests) accept.push_back("pk_m == PK_MATCH_REQUEST");
  if (m->responses) accept.push_back("pk_m == PK_MATCH_RESPONSE");
  out_.line("int pk_m = {}({}, {}_n);", m->function, h, h);
  std::string cond = accept.size() == 2 ? fmt::format("{} || {}", accept[0], accept[1]) : accept[0];
  out_.line("if (!({})) {{ /* match = \"{}\" */", cond, probe_.matcher);
  out_.line("  pk_count({}, PK_STAT_FILTERED);", probe_.id);
  out_.line("  return 0;");
  out_.line("}}");
}

}  // namespace probe
