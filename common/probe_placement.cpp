#include "common/probe_placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>

#include "common/branch_index.h"
#include "common/dispatched_return.h"
#include "common/elf_file.h"
#include "common/go_binary.h"
#include "common/placement_walk.h"
#include "common/ret_sites.h"
#include "common/strings.h"

namespace probe {
namespace {

// ---------------------------------------------------------------------------------------------
// Finding the function

struct Located {
  std::string name;
  uint64_t address = 0;
  uint64_t size = 0;
  bool go = false;
};

Result<Located> locate(const PlacementContext& ctx, const std::string& spec) {
  bool go = GoBinary::is_go(ctx.elf);
  if (auto sym = ctx.elf.find_function(spec)) return Located{sym->name, sym->address, sym->size, go};
  if (go) {
    auto bin = GoBinary::open(ctx.elf);
    if (!bin) return std::move(bin).take_error();
    if (auto f = bin->find_function(spec)) return Located{f->name, f->entry, f->size(), true};
  }
  auto near = ctx.elf.nearest_functions(spec);
  std::string hint = near.empty() ? "" : fmt::format(" (did you mean {}?)", join(near, ", "));
  return make_error("function '{}' not found in {}{}", spec, ctx.elf.path(), hint);
}

// The ABI argument registers, for the informational part of the register table.
std::vector<Gpr> abi_argument_registers(bool go) {
  if (go)  // Go's internal register ABI (1.17+)
    return {Gpr::kRax, Gpr::kRbx, Gpr::kRcx, Gpr::kRdi, Gpr::kRsi, Gpr::kR8, Gpr::kR9, Gpr::kR10, Gpr::kR11};
  return {std::begin(kSysVArgumentRegisters), std::end(kSysVArgumentRegisters)};
}

std::string hex(std::string_view bytes) {
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i)
    s += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(bytes[i]));
  return s;
}

std::string describe(const X86Instruction& insn) {
  return fmt::format("`{}` [{}], {}: {}", insn.text(), hex(insn.bytes),
                     uprobe_handling_name(insn.uprobe.handling), insn.uprobe.why);
}

ProbeSite site_for(const X86Instruction& insn, ProbeSite::Role role, std::string where) {
  ProbeSite s;
  s.role = role;
  s.address = insn.address;
  s.file_offset = insn.file_offset;
  s.expected_bytes = insn.bytes;
  s.instruction = insn.text();
  s.handling = insn.uprobe.handling;
  s.where = std::move(where);
  return s;
}

Placement new_placement(const PlacementContext& ctx, const PlacementRequest& req, const Located& fn,
                        PlacementKind kind) {
  Placement p;
  p.kind = kind;
  p.side = req.side;
  p.file = ctx.elf.path();
  p.build_id = ctx.elf.build_id();
  p.function = req.function;
  p.function_address = fn.address;
  p.covers = {fn.name};
  return p;
}

// ---------------------------------------------------------------------------------------------
// Registers

int badness(ValueState s) {
  switch (s) {
    case ValueState::kUnchanged: return 0;
    case ValueState::kLow32Kept: return 1;
    case ValueState::kOverwritten: return 2;
  }
  return 2;
}

// The register table: the requested reads first, then the other ABI argument registers.
std::vector<RegisterAtSite> register_table(const std::vector<GprRef>& reads, bool go,
                                           const std::function<RegisterAtSite(Gpr)>& state_of) {
  std::vector<Gpr> order;
  for (const auto& r : reads)
    if (std::find(order.begin(), order.end(), r.reg) == order.end()) order.push_back(r.reg);
  for (Gpr g : abi_argument_registers(go))
    if (std::find(order.begin(), order.end(), g) == order.end()) order.push_back(g);
  std::vector<RegisterAtSite> out;
  for (Gpr g : order) out.push_back(state_of(g));
  return out;
}

// Why one of the reads does not survive to the site, or nullopt if all do.
std::optional<std::string> unread_reason(const std::vector<GprRef>& reads,
                                         const std::function<RegisterAtSite(Gpr)>& state_of) {
  for (const auto& r : reads) {
    RegisterAtSite s = state_of(r.reg);
    if (!read_is_preserved(r, s.state))
      return fmt::format("the probe reads {}, but {}", gpr_name(r.reg, r.width), s.why);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Branch checks

// Why a direct branch may land in (begin, end) — anywhere in the file, or in `fn` itself —
// or nullopt. `what` names the range for the message.
std::optional<std::string> branch_into(const PlacementContext& ctx, const FunctionCode& fn,
                                       uint64_t begin, uint64_t end, const std::string& what) {
  if (!ctx.branches.complete()) {
    const auto& u = ctx.branches.undecodable_samples();
    return fmt::format("the sweep of the file's code could not decode {} bytes (first at 0x{:x}), so "
                       "branches into {} cannot be excluded",
                       ctx.branches.undecodable_bytes(), u.empty() ? 0 : u.front().begin, what);
  }
  for (const auto& insn : fn.instructions)
    if (insn.target && *insn.target > begin && *insn.target < end)
      return fmt::format("`{}` at {} branches into {}", insn.text(), where_in(fn, insn.address), what);
  for (const auto& b : ctx.branches.into(begin + 1, end))
    return fmt::format("{} ({}) branches to 0x{:x}, inside {}", branch_source(b), ctx.branches.section_of(b.from),
                       b.target, what);
  return std::nullopt;
}

std::optional<std::string> jump_tables(const FunctionCode& fn) {
  for (const auto& insn : fn.instructions)
    if (insn.flow == ControlFlow::kIndirectJump)
      return fmt::format("{} has an indirect jump (`{}` at {}): a jump table could target the "
                         "skipped instructions, and its targets cannot be checked",
                         fn.name, insn.text(), where_in(fn, insn.address));
  return std::nullopt;
}

std::string skipped_summary(const std::vector<const X86Instruction*>& passed) {
  std::vector<std::string> parts;
  for (const auto* i : passed)
    parts.push_back(fmt::format("`{}` ({})", i->text(), uprobe_handling_name(i->uprobe.handling)));
  return join(parts, ", ");
}

// ---------------------------------------------------------------------------------------------
// Entry: the symbol itself, or the first emulated instruction after a single-stepped prologue

struct Found {
  std::optional<Placement> placement;
  std::string why_not;
};

Found entry_site(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                 const FunctionCode& fn) {
  StraightLineWalk walk(fn);
  while (const X86Instruction* insn = walk.current()) {
    if (insn->uprobe.handling == UprobeHandling::kEmulated) break;
    // A probe after a branch would miss the calls that take it (loop, jrcxz, a refused Jcc).
    if (insn->flow != ControlFlow::kNone)
      return {std::nullopt, fmt::format("`{}` at {} branches before any emulated instruction", insn->text(),
                                        where_in(fn, insn->address))};
    if (!walk.advance())
      return {std::nullopt, fmt::format("no emulated instruction before the straight-line path from "
                                        "the entry stops: {}", walk.stop_reason())};
  }
  const X86Instruction* site = walk.current();
  if (!site) return {std::nullopt, "the function has no instructions"};
  auto state = [&](Gpr g) { return walk.reg(g); };
  if (auto why = unread_reason(req.reads, state))
    return {std::nullopt, fmt::format("first emulated instruction {} at {}: {}", describe(*site),
                                      where_in(fn, site->address), *why)};
  bool at_entry = walk.index() == 0;
  std::string prologue = fmt::format("the skipped prologue {}..{}", where_in(fn, fn.address + 1),
                                     where_in(fn, site->end() - 1));
  // At the symbol itself nothing is skipped and the site is the fallback's own: no check
  // the fallback would not need either.
  if (!at_entry) {
    if (auto why = branch_into(ctx, fn, fn.address, site->end(), prologue)) return {std::nullopt, *why};
    if (auto why = jump_tables(fn)) return {std::nullopt, *why};
  }

  Placement p = new_placement(ctx, req, loc,
                              at_entry ? PlacementKind::kEntryAtSymbol : PlacementKind::kFirstEmulatedInstruction);
  p.sites.push_back(site_for(*site, ProbeSite::Role::kEntry, where_in(fn, site->address)));
  p.registers = register_table(req.reads, loc.go, state);
  if (at_entry) {
    p.explanation.push_back(fmt::format("{}'s first instruction is {}: probe the symbol itself",
                                        fn.name, describe(*site)));
    return {std::move(p), ""};
  }
  const X86Instruction& first = fn.instructions.front();
  p.explanation.push_back(fmt::format("{}'s first instruction is {}", fn.name, describe(first)));
  if (first.is_endbr64)
    p.explanation.push_back("it is the CET landing pad endbr64: it stays in place, so indirect "
                            "calls still land on it (IBT is unaffected)");
  p.explanation.push_back(fmt::format("probe {} instead: {}", where_in(fn, site->address), describe(*site)));
  p.explanation.push_back(fmt::format("skipped on the straight-line path from the entry: {}",
                                      skipped_summary(walk.passed())));
  p.explanation.push_back("every call passes the probe: the skipped instructions neither branch nor "
                          "call, and no direct branch in the file targets them or the inside of the "
                          "probed instruction (full sweep of the file's code)");
  p.explanation.push_back(req.reads.empty()
                              ? "the probe reads no registers (see the register table for what is intact)"
                              : "every register the probe reads still holds its entry value");
  if (loc.go && site->flow == ControlFlow::kConditionalJump)
    p.explanation.push_back("this is Go's stack check: when the stack must grow, the function re-enters at "
                            "its entry and the probe fires again, as a probe at the entry would");
  return {std::move(p), ""};
}

// ---------------------------------------------------------------------------------------------
// Forwarding wrappers: F and its sibling F_ex both call one internal function

struct ForwardingCall {
  const X86Instruction* call = nullptr;
  std::array<RegisterAtSite, kGprCount> regs{};
  std::array<std::optional<int64_t>, kGprCount> stack_address{};
  std::vector<const X86Instruction*> exits;
};

// The first call on `fn`'s straight-line path, with the register state before it.
Result<ForwardingCall> first_call(const FunctionCode& fn) {
  StraightLineWalk walk(fn);
  while (const X86Instruction* insn = walk.current()) {
    if (insn->flow == ControlFlow::kCall) {
      ForwardingCall fc;
      fc.call = insn;
      for (int i = 0; i < kGprCount; ++i) {
        fc.regs[i] = walk.reg(static_cast<Gpr>(i));
        fc.stack_address[i] = walk.stack_address_in(static_cast<Gpr>(i));
      }
      fc.exits = walk.conditional_exits();
      return fc;
    }
    if (!walk.advance()) return make_error("{}: no direct call on the straight-line path ({})", fn.name,
                                           walk.stop_reason());
  }
  return make_error("{}: no direct call on the straight-line path", fn.name);
}

std::optional<std::string> sibling_name(const std::string& name) {
  if (ends_with(name, "_ex")) return name.substr(0, name.size() - 3);
  return name + "_ex";
}

bool is_plt(const std::string& section) { return starts_with(section, ".plt"); }

// The function symbol that contains `address`, as "name+0xoff", else the bare address.
std::string symbolize(const ElfFile& elf, uint64_t address) {
  for (const auto& f : elf.functions())
    if (address >= f.address && address < f.address + f.size)
      return address == f.address ? f.name : fmt::format("{}+0x{:x}", f.name, address - f.address);
  return fmt::format("0x{:x} (no symbol)", address);
}

struct Forwarding {
  const FunctionCode* wrappers[2];
  ForwardingCall calls[2];
  X86Instruction target_entry;
  std::vector<std::string> other_callers;
};

Result<Forwarding> find_forwarding(const PlacementContext& ctx, const PlacementRequest& req,
                                   const FunctionCode& fn, const FunctionCode& sibling) {
  Forwarding fw{{&fn, &sibling}, {}, {}, {}};
  for (int w = 0; w < 2; ++w) {
    PROBE_ASSIGN_OR_RETURN(fw.calls[w], first_call(*fw.wrappers[w]));
    auto state = [&](Gpr g) { return fw.calls[w].regs[static_cast<size_t>(g)]; };
    if (auto why = unread_reason(req.reads, state))
      return make_error("at {}'s call to the shared function {}", fw.wrappers[w]->name, *why);
  }
  uint64_t target = *fw.calls[0].call->target;
  if (*fw.calls[1].call->target != target)
    return make_error("{} calls 0x{:x} but {} calls 0x{:x}: they do not share one function", fn.name,
                      target, sibling.name, *fw.calls[1].call->target);
  std::string section = ctx.branches.section_of(target);
  if (section.empty() || is_plt(section))
    return make_error("the shared call target 0x{:x} is {}", target,
                      section.empty() ? "not code of this file" : "a PLT stub (another library)");
  if (fn.contains(target) || sibling.contains(target))
    return make_error("the shared call target 0x{:x} is inside a wrapper", target);
  auto entry = decode_instruction_at(ctx, target);
  if (!entry) return make_error("the shared function's first instruction at 0x{:x} does not decode", target);
  if (entry->uprobe.handling != UprobeHandling::kEmulated)
    return make_error("the shared function's first instruction {} at 0x{:x} is not emulated",
                      describe(*entry), target);
  FunctionCode none;  // the target has no decoded body; only the file-wide sweep applies
  none.name = fmt::format("0x{:x}", target);
  if (auto why = branch_into(ctx, none, target, entry->end(),
                             fmt::format("the shared function's first instruction at 0x{:x}", target)))
    return make_error("{}", *why);
  fw.target_entry = *entry;
  for (const auto& b : ctx.branches.into(target, target + 1)) {
    if (b.from == fw.calls[0].call->address || b.from == fw.calls[1].call->address) continue;
    fw.other_callers.push_back(fmt::format("{} {}", b.kind == BranchKind::kCall ? "call at" : "jump at",
                                           symbolize(ctx.elf, b.from)));
  }
  return fw;
}

// The worse of the two wrappers' states: what the probe can rely on whoever called.
RegisterAtSite worse_of(const Forwarding& fw, Gpr g) {
  RegisterAtSite out{g, ValueState::kUnchanged, ""};
  for (int w = 0; w < 2; ++w) {
    const RegisterAtSite& s = fw.calls[w].regs[static_cast<size_t>(g)];
    if (badness(s.state) > badness(out.state)) {
      out.state = s.state;
      out.why = fmt::format("in {}: {}", fw.wrappers[w]->name, s.why);
    }
  }
  return out;
}

void explain_forwarding(const Forwarding& fw, Placement* p) {
  const FunctionCode& f = *fw.wrappers[0];
  const FunctionCode& s = *fw.wrappers[1];
  p->explanation.push_back(fmt::format("{}'s first instruction is {}", f.name, describe(f.instructions.front())));
  p->explanation.push_back(fmt::format("{} ({}) and {} ({}) both forward to the unexported function at "
                                       "0x{:x}", f.name, where_in(f, fw.calls[0].call->address), s.name,
                                       where_in(s, fw.calls[1].call->address), fw.target_entry.address));
  p->explanation.push_back(fmt::format("its first instruction {}", describe(fw.target_entry)));
  p->explanation.push_back("no direct branch in the file lands inside that instruction (full sweep)");
  p->explanation.push_back(p->other_callers.empty()
                               ? "no other direct caller in the file"
                               : fmt::format("other direct callers, also seen by the probe: {}",
                                             join(p->other_callers, ", ")));
  for (int w = 0; w < 2; ++w)
    for (const auto* exit : fw.calls[w].exits)
      p->explanation.push_back(fmt::format("calls of {} that take `{}` at {} (an early exit, e.g. an "
                                           "argument check) return without reaching the probe",
                                           fw.wrappers[w]->name, exit->text(),
                                           where_in(*fw.wrappers[w], exit->address)));
  p->explanation.push_back("the wrappers pass the arguments in the same registers; the function is "
                           "also reachable through pointers the sweep cannot see (that only adds calls)");
}

Found forwarded_entry(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                      const FunctionCode& fn, const FunctionCode& sibling) {
  auto fw = find_forwarding(ctx, req, fn, sibling);
  if (!fw) return {std::nullopt, fw.error().message};
  Placement p = new_placement(ctx, req, loc, PlacementKind::kForwardedInternalFunction);
  p.covers = {fn.name, sibling.name};
  p.other_callers = fw->other_callers;
  p.sites.push_back(site_for(fw->target_entry, ProbeSite::Role::kEntry,
                             symbolize(ctx.elf, fw->target_entry.address)));
  p.registers = register_table(req.reads, loc.go, [&](Gpr g) { return worse_of(*fw, g); });
  explain_forwarding(*fw, &p);
  return {std::move(p), ""};
}

// ---------------------------------------------------------------------------------------------
// Return: after the internal call, on the Jcc that tests its status

struct PostCall {
  ForwardingCall call;
  const X86Instruction* jcc = nullptr;
  int64_t count_offset = 0;
  std::vector<std::string> notes;
};

bool is_test_eax(const X86Instruction& i) {
  return i.mnemonic == "test" && i.ops.size() == 2 && i.ops[0].reg && i.ops[1].reg &&
         i.ops[0].reg->reg == Gpr::kRax && i.ops[1].reg->reg == Gpr::kRax && i.ops[0].reg->width == 4 &&
         i.ops[1].reg->width == 4;
}

bool is_load_eax_from_stack(const X86Instruction& i) {
  return i.mnemonic == "mov" && i.ops.size() == 2 && i.ops[0].reg && i.ops[0].reg->reg == Gpr::kRax &&
         i.ops[0].reg->width == 4 && i.ops[1].is_stack_slot();
}

// From L (after the Jcc) to a RET, eax is never written: the status, or the loaded count, is
// what the function returns. A conditional exit on the way must lead to a call that is the
// function's last instruction (a no-return call such as __stack_chk_fail).
std::optional<std::string> eax_reaches_ret(const FunctionCode& fn, size_t from, std::vector<std::string>* notes) {
  for (size_t i = from; i < fn.instructions.size(); ++i) {
    const X86Instruction& insn = fn.instructions[i];
    std::string at = fmt::format("`{}` at {}", insn.text(), where_in(fn, insn.address));
    switch (insn.flow) {
      case ControlFlow::kReturn:
        return std::nullopt;
      case ControlFlow::kConditionalJump: {
        const X86Instruction* t = insn.target ? fn.at(*insn.target) : nullptr;
        bool noreturn_tail = t && t->flow == ControlFlow::kCall && t == &fn.instructions.back();
        if (!noreturn_tail) return fmt::format("{} may leave before the return", at);
        notes->push_back(fmt::format("{} leads only to the final `{}` (a call that does not return, "
                                     "e.g. the stack protector's failure)", at, t->text()));
        continue;
      }
      case ControlFlow::kNone:
        if (!insn.effects_known) return fmt::format("the effects of {} are not modelled", at);
        if (insn.change_to(Gpr::kRax)) return fmt::format("{} changes eax before the return", at);
        continue;
      default:
        return fmt::format("{} leaves before the return", at);
    }
  }
  return "the function ends without a return";
}

Result<PostCall> find_post_call(const PlacementContext& ctx, const PlacementRequest& req, const FunctionCode& fn) {
  PostCall pc;
  PROBE_ASSIGN_OR_RETURN(pc.call, first_call(fn));
  const X86Instruction& call = *pc.call.call;
  auto state = [&](Gpr g) { return pc.call.regs[static_cast<size_t>(g)]; };
  if (auto why = unread_reason(req.reads, state)) return make_error("at the call {}", *why);
  std::string section = ctx.branches.section_of(*call.target);
  if (section.empty() || is_plt(section))
    return make_error("the first call ({} at {}) goes to {}", call.text(), where_in(fn, call.address),
                      section.empty() ? "no code of this file" : "a PLT stub (another library)");
  size_t i = *fn.index_of(call.address);
  auto& ins = fn.instructions;
  if (i + 3 >= ins.size() || !is_test_eax(ins[i + 1]) ||
      ins[i + 2].flow != ControlFlow::kConditionalJump || ins[i + 2].mnemonic != "jle" ||
      !is_load_eax_from_stack(ins[i + 3]) || ins[i + 2].target != ins[i + 3].end())
    return make_error("the call at {} is not followed by `test eax, eax; jle L; mov eax, [rsp+d]; L:` "
                      "(the shape whose result location is known)", where_in(fn, call.address));
  pc.jcc = &ins[i + 2];
  if (pc.jcc->uprobe.handling != UprobeHandling::kEmulated)
    return make_error("the Jcc after the call is {}", describe(*pc.jcc));
  pc.count_offset = ins[i + 3].ops[1].displacement;
  auto rcx = pc.call.stack_address[static_cast<size_t>(Gpr::kRcx)];
  if (rcx != pc.count_offset)
    return make_error("rcx at the call is not rsp+{} (the slot the count is loaded from), so the count "
                      "pointer is not the internal function's out-parameter", pc.count_offset);
  auto l = fn.index_of(*pc.jcc->target);
  if (!l) return make_error("the Jcc's target is not an instruction boundary");
  if (auto why = eax_reaches_ret(fn, *l, &pc.notes)) return make_error("after L: {}", *why);
  std::string range = fmt::format("{}..{} (the path to the call and the post-call test)",
                                  where_in(fn, fn.address + 1), where_in(fn, pc.jcc->end() - 1));
  if (auto why = branch_into(ctx, fn, fn.address, pc.jcc->end(), range)) return make_error("{}", *why);
  if (auto why = jump_tables(fn)) return make_error("{}", *why);
  return pc;
}

ReturnRecipe post_call_recipe(const std::string& fn_name, int64_t offset) {
  ReturnRecipe r;
  r.count_rsp_offset = offset;
  r.formula = fmt::format("at the Jcc, eax is the internal status (> 0 ok); {} returns eax > 0 ? "
                          "(int)*(size_t *)(rsp+{}) : eax, the byte count the internal function stored "
                          "through the rcx the call site passed (rcx == rsp+{} there)", fn_name, offset, offset);
  return r;
}

// `shape` is the wrapper whose post-call code proves where the count is.
ReturnRecipe forwarded_recipe(const std::string& shape, int64_t offset) {
  ReturnRecipe r;
  r.count_rsp_offset = offset;
  r.formula = fmt::format("stash rcx at the entry side; at the return, eax is the internal status (> 0 "
                          "ok) and then *(size_t *)rcx_at_entry is the byte count (as {} shows: it passes "
                          "rcx = rsp+{} and returns the count it finds there). Each wrapper derives its own "
                          "return value from these", shape, offset);
  return r;
}

Found post_call_return(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                       const FunctionCode& fn) {
  auto pc = find_post_call(ctx, req, fn);
  if (!pc) return {std::nullopt, pc.error().message};
  const X86Instruction& call = *pc->call.call;
  Placement p = new_placement(ctx, req, loc, PlacementKind::kPostCallJcc);
  p.sites.push_back(site_for(call, ProbeSite::Role::kEntry, where_in(fn, call.address)));
  p.sites.push_back(site_for(*pc->jcc, ProbeSite::Role::kReturn, where_in(fn, pc->jcc->address)));
  p.registers = register_table(req.reads, loc.go, [&](Gpr g) { return pc->call.regs[static_cast<size_t>(g)]; });
  p.result = post_call_recipe(fn.name, pc->count_offset);
  p.explanation.push_back(fmt::format("{}'s first instruction is {}; a uretprobe puts its entry "
                                      "breakpoint there", fn.name, describe(fn.instructions.front())));
  p.explanation.push_back(fmt::format("entry side on the internal call at {}: {}", where_in(fn, call.address),
                                      describe(call)));
  p.explanation.push_back(fmt::format("return side on the Jcc at {}: {} — never on the `test` before it, "
                                      "which is single-stepped", where_in(fn, pc->jcc->address),
                                      describe(*pc->jcc)));
  p.explanation.push_back(fmt::format("the call site sets rcx = rsp+{} and the success path loads eax from "
                                      "[rsp+{}]: at the Jcc, eax is the internal status, not the byte count",
                                      pc->count_offset, pc->count_offset));
  for (const auto& n : pc->notes) p.explanation.push_back(n);
  for (const auto* exit : pc->call.exits)
    p.explanation.push_back(fmt::format("calls that take `{}` at {} return without the internal call; "
                                        "neither side fires", exit->text(), where_in(fn, exit->address)));
  p.explanation.push_back("no direct branch in the file enters the path from the entry to the Jcc (full sweep)");
  return {std::move(p), ""};
}

// A uretprobe on the shared internal function: cheap when its first instruction is emulated,
// and it sees the sibling and internal callers too.
Found forwarded_return(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                       const FunctionCode& fn, const FunctionCode& sibling) {
  auto fw = find_forwarding(ctx, req, fn, sibling);
  if (!fw) return {std::nullopt, fw.error().message};
  // Where the count is left is proven by a wrapper with the post-call shape around a call to
  // this same function.
  std::optional<PostCall> shape;
  std::string shape_name;
  for (const FunctionCode* w : {&fn, &sibling}) {
    PlacementRequest no_reads = req;
    no_reads.reads.clear();
    auto pc = find_post_call(ctx, no_reads, *w);
    if (pc && pc->call.call->target == fw->target_entry.address) {
      shape = *pc;
      shape_name = w->name;
      break;
    }
  }
  if (!shape)
    return {std::nullopt, fmt::format("neither {} nor {} shows where the shared function leaves the "
                                      "byte count", fn.name, sibling.name)};
  Placement p = new_placement(ctx, req, loc, PlacementKind::kForwardedInternalFunction);
  p.covers = {fn.name, sibling.name};
  p.other_callers = fw->other_callers;
  std::string where = symbolize(ctx.elf, fw->target_entry.address);
  p.sites.push_back(site_for(fw->target_entry, ProbeSite::Role::kEntry, where));
  p.sites.push_back(site_for(fw->target_entry, ProbeSite::Role::kUretprobe, where));
  p.registers = register_table(req.reads, loc.go, [&](Gpr g) { return worse_of(*fw, g); });
  p.result = forwarded_recipe(shape_name, shape->count_offset);
  explain_forwarding(*fw, &p);
  p.explanation.push_back("uretprobe on that function: its entry breakpoint is emulated; the return goes "
                          "through the return trampoline");
  return {std::move(p), ""};
}

// ---------------------------------------------------------------------------------------------
// Return at one site inside the implementation the internal call dispatches to
// (common/dispatched_return.h)

std::optional<FunctionCode> sibling_code(const PlacementContext& ctx, const FunctionCode& fn, std::string* why);

Found dispatched_return(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                        const FunctionCode& fn) {
  auto pc = find_post_call(ctx, req, fn);  // the wrapper: its internal call and where the count goes
  if (!pc) return {std::nullopt, pc.error().message};
  uint64_t internal = *pc->call.call->target;
  auto ds = find_dispatched_site(ctx, internal, req.dispatch_tables);
  if (!ds) return {std::nullopt, ds.error().message};
  ArgumentsAtSite at;
  const auto& abi = kSysVArgumentRegisters;
  std::vector<RegisterAtSite> regs;
  for (const auto& r : req.reads) {
    int index = static_cast<int>(std::find(std::begin(abi), std::end(abi), r.reg) - std::begin(abi));
    // Only the object, buffer and count pointer are shown to pass through unchanged.
    auto g = index == 0 || index == 1 || index == 3 ? ds->holder(index, r.width) : std::nullopt;
    if (!g)
      return {std::nullopt, fmt::format("at the site no callee-saved register holds {} (argument {})",
                                        gpr_name(r.reg, r.width), index)};
    at.args[static_cast<size_t>(index)] = *g;
    regs.push_back({r.reg, ValueState::kUnchanged, fmt::format("in {} at the site", gpr_name(*g))});
  }
  auto count = ds->holder(3, 8);
  if (!count) return {std::nullopt, "at the site no callee-saved register holds the count pointer"};
  at.count_pointer = *count;
  at.zero_guard = ds->zero_guard;
  Placement p = new_placement(ctx, req, loc, PlacementKind::kDispatchedReturnJcc);
  std::string why;
  if (auto sibling = sibling_code(ctx, fn, &why))
    if (auto sc = first_call(*sibling); sc && sc->call->target == internal) p.covers.push_back(sibling->name);
  p.sites.push_back(site_for(ds->jcc, ProbeSite::Role::kReturn, symbolize(ctx.elf, ds->jcc.address)));
  p.registers = std::move(regs);
  p.result = post_call_recipe(fn.name, pc->count_offset);
  p.result->formula = fmt::format("at the site eax is the implementation's status (> 0 ok); {} returns "
                                  "*(size_t *){} there, the count pointer {} passed (rcx == rsp+{})",
                                  fn.name, gpr_name(at.count_pointer), fn.name, pc->count_offset);
  p.at_site = at;
  p.explanation.push_back(fmt::format("{} calls its internal function at {}, passing rcx = rsp+{} for the count",
                                      fn.name, where_in(fn, pc->call.call->address), pc->count_offset));
  for (auto& line : ds->explanation) p.explanation.push_back(std::move(line));
  std::vector<std::string> held;
  for (size_t i = 0; i < at.args.size(); ++i)
    if (at.args[i]) held.push_back(fmt::format("{} in {}", gpr_name(abi[i]), gpr_name(*at.args[i])));
  p.explanation.push_back(fmt::format("at the site: {}, the count pointer in {}; one hit a call, no entry stash",
                                      held.empty() ? "no argument read" : join(held, ", "), gpr_name(at.count_pointer)));
  if (p.covers.size() > 1)
    p.explanation.push_back(fmt::format("{} reaches the same internal function: its calls are seen too", p.covers[1]));
  return {std::move(p), ""};
}

// ---------------------------------------------------------------------------------------------
// Return on every RET (Go)

Found ret_sites_return(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                       const FunctionCode& fn, Placement entry_side) {
  ReturnSites rs = find_return_sites(fn);
  if (rs.returns.empty()) return {std::nullopt, fmt::format("{} has no RET instruction", fn.name)};
  if (!rs.tail_jumps.empty())
    return {std::nullopt, fmt::format("{} can leave by `{}` at {}, which a RET scan misses", fn.name,
                                      rs.tail_jumps.front().text(), where_in(fn, rs.tail_jumps.front().address))};
  if (!loc.go && !rs.indirect_jumps.empty())
    return {std::nullopt, fmt::format("{} has an indirect jump (`{}` at {}) that may be a tail call", fn.name,
                                      rs.indirect_jumps.front().text(),
                                      where_in(fn, rs.indirect_jumps.front().address))};
  Placement p = new_placement(ctx, req, loc, PlacementKind::kRetSites);
  p.sites = entry_side.sites;
  p.registers = entry_side.registers;
  for (const auto& r : rs.returns) p.sites.push_back(site_for(r, ProbeSite::Role::kReturn, where_in(fn, r.address)));
  p.explanation.push_back(fmt::format("return side on each of the {} RET instructions of {} (single-stepped: "
                                      "RET is not emulated), no uretprobe{}", rs.returns.size(), fn.name,
                                      loc.go ? ": a uretprobe would rewrite the return address on a goroutine "
                                               "stack the Go runtime may move"
                                             : ""));
  if (!rs.indirect_jumps.empty())
    p.explanation.push_back(fmt::format("its {} indirect jump(s) are Go jump tables, inside the function",
                                        rs.indirect_jumps.size()));
  p.explanation.push_back(fmt::format("entry side ({}): {}", placement_kind_name(entry_side.kind),
                                      entry_side.explanation.empty() ? "" : entry_side.explanation.front()));
  if (loc.go)
    p.explanation.push_back("results at a RET are in Go's ABI registers (rax, rbx, ...); pair with the entry "
                            "side by goroutine (g in r14), not by thread");
  return {std::move(p), ""};
}

// ---------------------------------------------------------------------------------------------

Result<Placement> fallback(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                           const std::vector<std::string>& reasons) {
  Placement p = new_placement(ctx, req, loc, PlacementKind::kFallback);
  PROBE_ASSIGN_OR_RETURN(uint64_t off, ctx.elf.file_offset(loc.address));
  auto first = ctx.decoder.decode_one(ctx.elf.read_bytes(off, 15), loc.address, off);
  ProbeSite entry;
  if (first) {
    entry = site_for(*first, ProbeSite::Role::kEntry, loc.name);
  } else {
    entry.address = loc.address;
    entry.file_offset = off;
    entry.expected_bytes = ctx.elf.read_bytes(off, 1);
    entry.instruction = "(undecodable)";
    entry.where = loc.name;
  }
  p.sites.push_back(entry);
  if (req.side == ProbeSide::kReturn) {
    ProbeSite ret = entry;
    ret.role = ProbeSite::Role::kUretprobe;
    p.sites.push_back(ret);
  }
  p.registers = register_table(req.reads, loc.go, [](Gpr g) { return RegisterAtSite{g, ValueState::kUnchanged, ""}; });
  for (const auto& r : reasons) p.explanation.push_back(r);
  std::string cost = first ? fmt::format("{} is {}", first->text(), uprobe_handling_name(first->uprobe.handling))
                           : "its first instruction does not decode";
  p.explanation.push_back(fmt::format("fallback: {} at the symbol ({})",
                                      req.side == ProbeSide::kReturn ? "uprobe + uretprobe" : "uprobe", cost));
  return p;
}

Result<FunctionCode> disassemble(const PlacementContext& ctx, const Located& loc) {
  return disassemble_function(ctx.decoder, ctx.elf, loc.name, loc.address, loc.size);
}

std::optional<FunctionCode> sibling_code(const PlacementContext& ctx, const FunctionCode& fn, std::string* why) {
  auto name = sibling_name(fn.name);
  auto sym = ctx.elf.find_function(*name);
  if (!sym) {
    *why = fmt::format("no sibling wrapper {} in the file: an internal function is probed only when two "
                       "exported wrappers are shown to share it", *name);
    return std::nullopt;
  }
  auto code = disassemble_function(ctx.decoder, ctx.elf, *sym);
  if (!code) {
    *why = code.error().message;
    return std::nullopt;
  }
  return std::move(*code);
}

Result<Placement> place_entry(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                              const FunctionCode& fn, std::vector<std::string>* reasons) {
  if (req.allow_forwarding && !loc.go) {
    std::string why;
    if (auto sibling = sibling_code(ctx, fn, &why)) {
      Found f = forwarded_entry(ctx, req, loc, fn, *sibling);
      if (f.placement) return std::move(*f.placement);
      why = f.why_not;
    }
    reasons->push_back("not forwarded: " + why);
  }
  Found e = entry_site(ctx, req, loc, fn);
  if (e.placement) return std::move(*e.placement);
  reasons->push_back("no emulated entry: " + e.why_not);
  return fallback(ctx, req, loc, *reasons);
}

Result<Placement> place_return(const PlacementContext& ctx, const PlacementRequest& req, const Located& loc,
                               const FunctionCode& fn, std::vector<std::string>* reasons) {
  if (loc.go || req.ret_sites) {
    PlacementRequest entry_req = req;
    entry_req.side = ProbeSide::kEntry;
    entry_req.allow_forwarding = false;
    std::vector<std::string> entry_reasons;
    PROBE_ASSIGN_OR_RETURN(Placement entry, place_entry(ctx, entry_req, loc, fn, &entry_reasons));
    Found r = ret_sites_return(ctx, req, loc, fn, std::move(entry));
    if (r.placement) return std::move(*r.placement);
    reasons->push_back("no RET-site placement: " + r.why_not);
    if (loc.go) {
      // Never a uretprobe on Go: refuse rather than fall back.
      return make_error("{}: {}; a uretprobe is not an option for Go", fn.name, r.why_not);
    }
    return fallback(ctx, req, loc, *reasons);
  }
  if (fn.instructions.front().uprobe.handling == UprobeHandling::kEmulated) {
    Found e = entry_site(ctx, req, loc, fn);
    if (e.placement && e.placement->kind == PlacementKind::kEntryAtSymbol) {
      Placement p = std::move(*e.placement);
      p.side = ProbeSide::kReturn;
      ProbeSite ret = p.sites.front();
      ret.role = ProbeSite::Role::kUretprobe;
      p.sites.push_back(ret);
      p.explanation.push_back("uretprobe at the symbol: its entry breakpoint is emulated, and rax at the "
                              "return is the function's own result");
      return p;
    }
    if (!e.placement) reasons->push_back("no emulated entry: " + e.why_not);
  }
  if (!req.dispatch_tables.empty()) {
    // The site is in code every caller of the internal function reaches (the `_ex` sibling,
    // BIO_f_ssl): only a probe that accepts their calls (placement = "shared") may use it.
    Found d = !req.allow_forwarding ? Found{std::nullopt, "the site also sees other callers' calls; "
                                                          "placement = \"shared\" allows that"}
              : req.site_args_allowed ? dispatched_return(ctx, req, loc, fn)
                                      : Found{std::nullopt, "the probe needs its entry time (elapsed)"};
    if (d.placement) return std::move(*d.placement);
    reasons->push_back("no dispatched return: " + d.why_not);
  }
  Found pc = post_call_return(ctx, req, loc, fn);
  if (pc.placement) return std::move(*pc.placement);
  reasons->push_back("no post-call Jcc: " + pc.why_not);
  if (req.allow_forwarding) {
    std::string why;
    if (auto sibling = sibling_code(ctx, fn, &why)) {
      Found f = forwarded_return(ctx, req, loc, fn, *sibling);
      if (f.placement) return std::move(*f.placement);
      why = f.why_not;
    }
    reasons->push_back("not forwarded: " + why);
  }
  return fallback(ctx, req, loc, *reasons);
}

}  // namespace

std::optional<X86Instruction> decode_instruction_at(const PlacementContext& ctx, uint64_t address) {
  auto off = ctx.elf.file_offset(address);
  if (!off) return std::nullopt;
  return ctx.decoder.decode_one(ctx.elf.read_bytes(*off, 15), address, *off);
}

const char* placement_kind_name(PlacementKind k) {
  switch (k) {
    case PlacementKind::kEntryAtSymbol: return "entry-at-symbol";
    case PlacementKind::kFirstEmulatedInstruction: return "first-emulated-instruction";
    case PlacementKind::kForwardedInternalFunction: return "forwarded-internal-function";
    case PlacementKind::kPostCallJcc: return "post-call-jcc";
    case PlacementKind::kDispatchedReturnJcc: return "dispatched-return-jcc";
    case PlacementKind::kRetSites: return "ret-sites";
    case PlacementKind::kFallback: return "fallback";
  }
  return "?";
}

const char* site_role_name(ProbeSite::Role r) {
  switch (r) {
    case ProbeSite::Role::kEntry: return "entry";
    case ProbeSite::Role::kReturn: return "return";
    case ProbeSite::Role::kUretprobe: return "uretprobe";
  }
  return "?";
}

bool read_is_preserved(const GprRef& read, ValueState state) {
  switch (state) {
    case ValueState::kUnchanged: return true;
    case ValueState::kLow32Kept: return read.width <= 4;
    case ValueState::kOverwritten: return false;
  }
  return false;
}

Result<Placement> place_probe(const PlacementContext& ctx, const PlacementRequest& req) {
  PROBE_ASSIGN_OR_RETURN(Located loc, locate(ctx, req.function));
  auto fn = disassemble(ctx, loc);
  if (!fn) {
    if (loc.go && req.side == ProbeSide::kReturn)  // never a uretprobe on Go
      return make_error("{}; a uretprobe is not an option for Go", fn.error().message);
    return fallback(ctx, req, loc, {"cannot analyse: " + fn.error().message});
  }
  std::vector<std::string> reasons;
  auto p = req.side == ProbeSide::kEntry ? place_entry(ctx, req, loc, *fn, &reasons)
                                         : place_return(ctx, req, loc, *fn, &reasons);
  // A fallback already starts with the reasons; any other placement says what it beat.
  if (p && p->kind != PlacementKind::kFallback)
    for (const auto& r : reasons) p->explanation.push_back("considered first, " + r);
  return p;
}

Result<Placement> place_fallback(const PlacementContext& ctx, const PlacementRequest& req,
                                 const std::string& reason) {
  PROBE_ASSIGN_OR_RETURN(Located loc, locate(ctx, req.function));
  return fallback(ctx, req, loc, {reason});
}

Status verify_placement(const ElfFile& elf, const Placement& p) {
  if (!p.build_id.empty() && elf.build_id() != p.build_id)
    return make_error("{} has build-id {}, the placement was computed for {}", elf.path(),
                      elf.build_id().empty() ? "(none)" : elf.build_id(), p.build_id);
  for (const auto& s : p.sites) {
    std::string now = elf.read_bytes(s.file_offset, s.expected_bytes.size());
    if (now != s.expected_bytes)
      return make_error("{} at file offset 0x{:x} ({}): expected [{}] ({}), found [{}]", elf.path(),
                        s.file_offset, s.where, hex(s.expected_bytes), s.instruction, hex(now));
  }
  return {};
}

}  // namespace probe
