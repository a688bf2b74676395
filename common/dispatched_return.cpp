#include "common/dispatched_return.h"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/elf_sections.h"
#include "common/strings.h"

namespace probe {
namespace {

using State = std::array<TrackedValue, kGprCount>;
constexpr size_t kMaxInstructions = 256;

TrackedValue& at(State& s, Gpr g) { return s[static_cast<size_t>(g)]; }
const TrackedValue& at(const State& s, Gpr g) { return s[static_cast<size_t>(g)]; }

bool same(const TrackedValue& a, const TrackedValue& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == TrackedValue::Kind::kArgument) return a.argument == b.argument && a.width == b.width;
  if (a.kind == TrackedValue::Kind::kConstant) return a.value == b.value;
  return true;
}

// Each ABI argument register holds its own argument (relative to the function entered).
State entry_state() {
  State s{};
  for (int i = 0; i < 6; ++i) at(s, kSysVArgumentRegisters[i]) = {TrackedValue::Kind::kArgument, i, 8, 0};
  return s;
}

// Each register holds "itself at entry": tells where a value at the site came from.
State origin_state() {
  State s{};
  for (int i = 0; i < kGprCount; ++i) s[i] = {TrackedValue::Kind::kArgument, i, 8, 0};
  return s;
}

bool is_reg(const X86Operand& o) { return o.kind == X86Operand::Kind::kRegister && o.reg; }

// The register effects of one instruction on the straight-line path.
void track(const X86Instruction& insn, State& s) {
  if (insn.flow == ControlFlow::kCall || insn.flow == ControlFlow::kIndirectCall) {
    for (Gpr g : kSysVCallerSaved) at(s, g) = {};
    return;
  }
  const auto& ops = insn.ops;
  if (insn.mnemonic == "mov" && ops.size() == 2 && is_reg(ops[0]) && is_reg(ops[1]) &&
      ops[0].reg->width == ops[1].reg->width && ops[0].reg->width >= 4) {
    TrackedValue v = at(s, ops[1].reg->reg);
    if (v.kind == TrackedValue::Kind::kArgument && ops[0].reg->width == 4) v.width = std::min(v.width, 4);
    if (v.kind == TrackedValue::Kind::kConstant && ops[0].reg->width == 4) v.value &= 0xffffffff;
    at(s, ops[0].reg->reg) = v;
    return;
  }
  if (insn.mnemonic == "mov" && ops.size() == 2 && is_reg(ops[0]) && ops[0].reg->width >= 4 &&
      ops[1].kind == X86Operand::Kind::kImmediate) {
    at(s, ops[0].reg->reg) = {TrackedValue::Kind::kConstant, 0, 8, ops[1].immediate};
    return;
  }
  if (insn.mnemonic == "xor" && ops.size() == 2 && is_reg(ops[0]) && is_reg(ops[1]) &&
      ops[0].reg->reg == ops[1].reg->reg && ops[0].reg->width >= 4) {
    at(s, ops[0].reg->reg) = {TrackedValue::Kind::kConstant, 0, 8, 0};
    return;
  }
  if (!insn.effects_known) {
    for (auto& v : s) v = {};
    return;
  }
  for (const auto& w : insn.writes) {
    TrackedValue& v = at(s, w.reg);
    switch (w.change) {
      case RegisterChange::kUnchanged: break;
      case RegisterChange::kSignExtendedInPlace:
      case RegisterChange::kZeroExtendedInPlace:
        if (v.kind == TrackedValue::Kind::kArgument) v.width = std::min(v.width, 4);
        else v = {};
        break;
      case RegisterChange::kOverwritten: v = {}; break;
    }
  }
}

// Instructions from `address` on, linearly, until `stop` says so (inclusive) or a limit.
Result<std::vector<X86Instruction>> decode_until(const PlacementContext& ctx, uint64_t address,
                                                 const std::function<bool(const X86Instruction&)>& stop) {
  std::vector<X86Instruction> out;
  while (out.size() < kMaxInstructions) {
    auto insn = decode_instruction_at(ctx, address);
    if (!insn) return make_error("the code at 0x{:x} does not decode", address);
    out.push_back(*insn);
    if (stop(out.back())) return out;
    address = insn->end();
  }
  return make_error("no end within {} instructions from 0x{:x}", kMaxInstructions, address);
}

bool transfers(const X86Instruction& i) {
  return i.flow == ControlFlow::kReturn || i.flow == ControlFlow::kJump || i.flow == ControlFlow::kIndirectJump ||
         i.flow == ControlFlow::kIndirectCall || i.flow == ControlFlow::kStop;
}

// The R_X86_64_RELATIVE relocations of a position-independent file: where each pointer goes
// (its addend), by the address it is stored at. Read once per analysis, not once per table.
std::map<uint64_t, uint64_t> relative_relocations(const ElfFile& elf) {
  std::map<uint64_t, uint64_t> out;
  if (auto sections = read_elf_sections(elf))
    for (const auto& s : *sections) {
      if (s.name != ".rela.dyn") continue;
      std::string rela = elf.read_bytes(s.offset, s.size);
      for (size_t i = 0; i + sizeof(Elf64_Rela) <= rela.size(); i += sizeof(Elf64_Rela)) {
        Elf64_Rela r;
        std::memcpy(&r, rela.data() + i, sizeof(r));
        if (ELF64_R_TYPE(r.r_info) == R_X86_64_RELATIVE) out.emplace(r.r_offset, static_cast<uint64_t>(r.r_addend));
      }
    }
  return out;
}

// The 8-byte pointer stored at `address`: its relocation's addend in a position-independent
// file, else the bytes in the file.
std::optional<uint64_t> pointer_at(const ElfFile& elf, const std::map<uint64_t, uint64_t>& relocations,
                                   uint64_t address) {
  if (auto r = relocations.find(address); r != relocations.end()) return r->second;
  auto off = elf.file_offset(address);
  if (!off) return std::nullopt;
  std::string bytes = elf.read_bytes(*off, 8);
  if (bytes.size() != 8) return std::nullopt;
  uint64_t v = 0;
  std::memcpy(&v, bytes.data(), 8);
  return v ? std::optional<uint64_t>(v) : std::nullopt;
}

// `lea rax, [rip + T]; ret` → T, also through the direct jumps deprecated accessors make to
// internal ones (TLSv1_method → tlsv1_method).
std::optional<uint64_t> accessor_table(const PlacementContext& ctx, uint64_t address) {
  auto lea = decode_instruction_at(ctx, address);
  for (int hops = 0; hops < 3 && lea && lea->flow == ControlFlow::kJump && lea->target; ++hops)
    lea = decode_instruction_at(ctx, *lea->target);
  if (!lea || lea->mnemonic != "lea" || lea->ops.size() != 2 || !is_reg(lea->ops[0]) ||
      lea->ops[0].reg->reg != Gpr::kRax || lea->ops[1].kind != X86Operand::Kind::kMemory ||
      !lea->ops[1].segment_or_rip || lea->ops[1].base || lea->ops[1].index)
    return std::nullopt;
  auto ret = decode_instruction_at(ctx, lea->end());
  if (!ret || ret->flow != ControlFlow::kReturn) return std::nullopt;
  return lea->end() + static_cast<uint64_t>(lea->ops[1].displacement);
}

// D in the internal function's indirect transfer through [reg + D], with the arguments it
// passes on checked.
Result<uint64_t> dispatch_slot(const PlacementContext& ctx, uint64_t internal, std::vector<std::string>* notes) {
  PROBE_ASSIGN_OR_RETURN(auto code, decode_until(ctx, internal, transfers));
  const X86Instruction& last = code.back();
  if (last.flow != ControlFlow::kIndirectJump && last.flow != ControlFlow::kIndirectCall)
    return make_error("the internal function at 0x{:x} reaches `{}` before any indirect call", internal, last.text());
  State s = entry_state();
  std::map<Gpr, const X86Instruction*> writer;
  for (size_t i = 0; i + 1 < code.size(); ++i) {
    track(code[i], s);
    for (const auto& w : code[i].writes) writer[w.reg] = &code[i];
  }
  for (int a : {0, 1, 3})
    if (!same(at(s, kSysVArgumentRegisters[a]), {TrackedValue::Kind::kArgument, a, 8, 0}))
      return make_error("the internal function does not pass argument {} on in {} to `{}`", a,
                        gpr_name(kSysVArgumentRegisters[a]), last.text());
  if (last.ops.size() != 1) return make_error("unexpected operands in `{}`", last.text());
  const X86Operand& target = last.ops[0];
  const X86Operand* slot = nullptr;
  if (target.kind == X86Operand::Kind::kMemory) {
    slot = &target;
  } else if (is_reg(target)) {
    auto w = writer.find(target.reg->reg);
    if (w != writer.end() && w->second->mnemonic == "mov" && w->second->ops.size() == 2 &&
        w->second->ops[1].kind == X86Operand::Kind::kMemory)
      slot = &w->second->ops[1];
  }
  if (!slot || !slot->base || slot->index || slot->segment_or_rip || slot->displacement < 0)
    return make_error("`{}` at 0x{:x} is not a transfer through a table slot [reg + D]", last.text(), last.address);
  notes->push_back(fmt::format("the wrapper's internal function at 0x{:x} dispatches with `{}` at 0x{:x} through "
                               "the table slot at offset 0x{:x}, passing the object, buffer and count pointer on",
                               internal, last.text(), last.address, slot->displacement));
  return static_cast<uint64_t>(slot->displacement);
}

struct PathPoint {
  const X86Instruction* insn;
  State before;
};

}  // namespace

std::optional<Gpr> DispatchedSite::holder(int index, int width) const {
  for (Gpr g : kSysVCalleeSaved) {
    const TrackedValue& v = at_site[static_cast<size_t>(g)];
    if (v.kind == TrackedValue::Kind::kArgument && v.argument == index && v.width >= width) return g;
  }
  return std::nullopt;
}

Result<DispatchedSite> find_dispatched_site(const PlacementContext& ctx, uint64_t internal,
                                            const std::vector<std::string>& tables) {
  DispatchedSite ds;
  ds.internal = internal;
  PROBE_ASSIGN_OR_RETURN(ds.slot_offset, dispatch_slot(ctx, internal, &ds.explanation));

  // F: the same function in the slot of every table the file has.
  std::vector<std::string> found;
  const auto relocations = relative_relocations(ctx.elf);
  for (const auto& name : tables) {
    auto sym = ctx.elf.find_function(name);
    if (!sym) continue;
    auto table = accessor_table(ctx, sym->address);
    if (!table) return make_error("{} is not `lea rax, [rip+T]; ret`", name);
    auto fn = pointer_at(ctx.elf, relocations, *table + ds.slot_offset);
    if (!fn) return make_error("{}'s table at 0x{:x} has no pointer at offset 0x{:x}", name, *table, ds.slot_offset);
    if (ds.implementation && *fn != ds.implementation)
      return make_error("{}'s table holds 0x{:x} at offset 0x{:x}, the others 0x{:x}: no single implementation",
                        name, *fn, ds.slot_offset, ds.implementation);
    ds.implementation = *fn;
    found.push_back(name);
  }
  if (found.empty()) return make_error("none of the tables {} is in the file", join(tables, ", "));
  ds.explanation.push_back(fmt::format("the tables of {} all hold 0x{:x} there", join(found, ", "), ds.implementation));

  // F, straight-line, to its tail jump (G) or its own indirect call.
  PROBE_ASSIGN_OR_RETURN(auto f_code, decode_until(ctx, ds.implementation, [](const X86Instruction& i) {
    return transfers(i) || i.flow == ControlFlow::kConditionalJump || i.flow == ControlFlow::kCall;
  }));
  State state = entry_state();
  const X86Instruction& f_end = f_code.back();
  if (f_end.flow == ControlFlow::kJump && f_end.target) {
    for (size_t i = 0; i + 1 < f_code.size(); ++i) track(f_code[i], state);
    ds.body = *f_end.target;
    ds.explanation.push_back(fmt::format("0x{:x} tail-jumps to 0x{:x} after {} instruction(s)", ds.implementation,
                                         ds.body, f_code.size() - 1));
  } else {
    ds.body = ds.implementation;
  }

  // G's straight-line path to the first indirect call, then to the first Jcc.
  State origin = origin_state();
  std::vector<PathPoint> path;
  std::vector<const X86Instruction*> exits;
  PROBE_ASSIGN_OR_RETURN(auto g_code, decode_until(ctx, ds.body, transfers));
  const X86Instruction& call = g_code.back();
  if (call.flow != ControlFlow::kIndirectCall)
    return make_error("the implementation's path reaches `{}` at 0x{:x} before an indirect call", call.text(),
                      call.address);
  for (const auto& insn : g_code) {
    path.push_back({&insn, state});
    if (insn.flow == ControlFlow::kConditionalJump) exits.push_back(&insn);
    track(insn, state);
    track(insn, origin);
  }
  PROBE_ASSIGN_OR_RETURN(auto after, decode_until(ctx, call.end(), [](const X86Instruction& i) {
    return i.flow != ControlFlow::kNone;
  }));
  const X86Instruction& jcc = after.back();
  if (jcc.flow != ControlFlow::kConditionalJump)
    return make_error("after the indirect call at 0x{:x} comes `{}` before any Jcc", call.address, jcc.text());
  if (jcc.uprobe.handling != UprobeHandling::kEmulated)
    return make_error("the Jcc after the indirect call, `{}`, is not emulated", jcc.text());
  for (size_t i = 0; i + 1 < after.size(); ++i) {
    if (after[i].change_to(Gpr::kRax))
      return make_error("`{}` between the call and the Jcc changes eax (the status)", after[i].text());
    track(after[i], state);
    track(after[i], origin);
  }
  ds.jcc = jcc;
  ds.at_site = state;
  // The guard: a callee-saved register that is 0 at the site and came from one of G's argument
  // registers (origin tracks "register at G's entry" as the argument index of its Gpr).
  auto is_argument_register = [](Gpr g) {
    return std::find(std::begin(kSysVArgumentRegisters), std::end(kSysVArgumentRegisters), g) !=
           std::end(kSysVArgumentRegisters);
  };
  std::optional<Gpr> origin_of_guard;
  for (Gpr g : kSysVCalleeSaved) {
    const TrackedValue& v = at(state, g);
    const TrackedValue& o = at(origin, g);
    if (v.kind == TrackedValue::Kind::kConstant && v.value == 0 && o.kind == TrackedValue::Kind::kArgument &&
        is_argument_register(static_cast<Gpr>(o.argument))) {
      ds.zero_guard = g;
      origin_of_guard = static_cast<Gpr>(o.argument);
      break;
    }
  }
  // Registers the site relies on: callee-saved ones holding arguments, and the guard.
  std::vector<Gpr> relied;
  for (Gpr g : kSysVCalleeSaved)
    if (at(state, g).kind == TrackedValue::Kind::kArgument || g == ds.zero_guard) relied.push_back(g);

  // Detours: each conditional exit before the call must rejoin the path with the relied-on
  // registers as they are at the site, or never come back.
  auto path_index = [&](uint64_t a) -> std::optional<size_t> {
    for (size_t i = 0; i < path.size(); ++i)
      if (path[i].insn->address == a) return i;
    return std::nullopt;
  };
  auto settled = [&](const State& s) {
    for (Gpr g : relied)
      if (!same(at(s, g), at(state, g))) return false;
    return true;
  };
  std::vector<uint64_t> rejoining;
  for (const X86Instruction* exit : exits) {
    if (!exit->target) return make_error("`{}` has no direct target", exit->text());
    auto detour = decode_until(ctx, *exit->target, [](const X86Instruction& i) {
      return i.flow != ControlFlow::kNone && i.flow != ControlFlow::kCall && i.flow != ControlFlow::kIndirectCall;
    });
    if (!detour) return make_error("the detour at 0x{:x}: {}", *exit->target, detour.error().message);
    const X86Instruction& end = detour->back();
    if (end.flow == ControlFlow::kReturn || end.flow == ControlFlow::kStop) continue;
    auto back = end.flow == ControlFlow::kJump && end.target ? path_index(*end.target) : std::nullopt;
    if (!back)
      return make_error("the detour taken at 0x{:x} ends in `{}` at 0x{:x}, which the analysis does not follow",
                        exit->address, end.text(), end.address);
    const State& at_exit = path[*path_index(exit->address)].before;
    if (!settled(at_exit) || !settled(path[*back].before))
      return make_error("the detour taken at 0x{:x} leaves before the registers the site reads are set", exit->address);
    for (size_t i = 0; i + 1 < detour->size(); ++i)
      for (Gpr g : relied)
        if ((*detour)[i].change_to(g) || !(*detour)[i].effects_known)
          if ((*detour)[i].flow == ControlFlow::kNone)
            return make_error("the detour's `{}` at 0x{:x} may change {}", (*detour)[i].text(), (*detour)[i].address,
                              gpr_name(g));
    rejoining.push_back(end.address);
    ds.explanation.push_back(fmt::format("the detour taken at 0x{:x} (`{}`) rejoins at 0x{:x} without touching "
                                         "the registers the site reads (calls keep callee-saved registers)",
                                         exit->address, exit->text(), *end.target));
  }

  // Nothing else enters the path, and other routes into G set the guard's origin to non-zero.
  if (!ctx.branches.complete()) return make_error("the file's code sweep is incomplete: branches into the path cannot be excluded");
  for (const auto& b : ctx.branches.into(ds.body + 1, jcc.end())) {
    bool own = path_index(b.from).has_value() || std::find(rejoining.begin(), rejoining.end(), b.from) != rejoining.end();
    if (!own) return make_error("{} branches to 0x{:x}, inside the path to the site", branch_source(b), b.target);
  }
  std::vector<std::string> routes;
  for (const auto& b : ctx.branches.into(ds.body, ds.body + 1)) {
    if (ds.body != ds.implementation && b.from == f_end.address) continue;
    bool guarded = false;
    if (origin_of_guard)
      for (uint64_t back : {5, 6}) {
        auto mov = decode_instruction_at(ctx, b.from - back);
        if (mov && mov->end() == b.from && mov->mnemonic == "mov" && mov->ops.size() == 2 && is_reg(mov->ops[0]) &&
            mov->ops[0].reg->reg == *origin_of_guard && mov->ops[1].kind == X86Operand::Kind::kImmediate &&
            mov->ops[1].immediate != 0)
          guarded = true;
      }
    if (!guarded)
      return make_error("0x{:x} also enters the implementation's body at 0x{:x} without a route the probe can tell apart",
                        b.from, ds.body);
    routes.push_back(fmt::format("0x{:x}", b.from));
  }
  ds.explanation.push_back(fmt::format("site: `{}` at 0x{:x} right after the indirect call `{}` at 0x{:x} (emulated)",
                                       jcc.text(), jcc.address, call.text(), call.address));
  if (ds.zero_guard)
    ds.explanation.push_back(fmt::format("{} is 0 on this route{}; the probe skips hits where it is not", gpr_name(*ds.zero_guard),
                                         routes.empty() ? "" : fmt::format(" (other routes from {} set it to non-zero)", join(routes, ", "))));
  ds.explanation.push_back("no other direct branch in the file enters the path to the site (full sweep)");
  ds.explanation.push_back("not seen: a read the implementation retries after a renegotiation (its first "
                           "attempt's status at the site is -1)");
  return ds;
}

}  // namespace probe
