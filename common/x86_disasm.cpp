#include "common/x86_disasm.h"

#include <capstone/capstone.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/elf_file.h"

namespace probe {
namespace {

// ---------------------------------------------------------------------------------------------
// Registers

constexpr std::array<const char*, kGprCount> kNames64 = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr std::array<const char*, kGprCount> kNames32 = {
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
    "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
constexpr std::array<const char*, kGprCount> kNames16 = {
    "ax",  "cx",  "dx",   "bx",   "sp",   "bp",   "si",   "di",
    "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"};
constexpr std::array<const char*, kGprCount> kNames8 = {
    "al",  "cl",  "dl",   "bl",   "spl",  "bpl",  "sil",  "dil",
    "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};

struct CsGpr {
  Gpr reg;
  int width;
};

// Capstone register id → GPR family and width; nullopt for rip, flags, segment, vector, ...
std::optional<CsGpr> gpr_of(unsigned cs_reg) {
  switch (cs_reg) {
    case X86_REG_RAX: return CsGpr{Gpr::kRax, 8};
    case X86_REG_EAX: return CsGpr{Gpr::kRax, 4};
    case X86_REG_AX: return CsGpr{Gpr::kRax, 2};
    case X86_REG_AL: case X86_REG_AH: return CsGpr{Gpr::kRax, 1};
    case X86_REG_RCX: return CsGpr{Gpr::kRcx, 8};
    case X86_REG_ECX: return CsGpr{Gpr::kRcx, 4};
    case X86_REG_CX: return CsGpr{Gpr::kRcx, 2};
    case X86_REG_CL: case X86_REG_CH: return CsGpr{Gpr::kRcx, 1};
    case X86_REG_RDX: return CsGpr{Gpr::kRdx, 8};
    case X86_REG_EDX: return CsGpr{Gpr::kRdx, 4};
    case X86_REG_DX: return CsGpr{Gpr::kRdx, 2};
    case X86_REG_DL: case X86_REG_DH: return CsGpr{Gpr::kRdx, 1};
    case X86_REG_RBX: return CsGpr{Gpr::kRbx, 8};
    case X86_REG_EBX: return CsGpr{Gpr::kRbx, 4};
    case X86_REG_BX: return CsGpr{Gpr::kRbx, 2};
    case X86_REG_BL: case X86_REG_BH: return CsGpr{Gpr::kRbx, 1};
    case X86_REG_RSP: return CsGpr{Gpr::kRsp, 8};
    case X86_REG_ESP: return CsGpr{Gpr::kRsp, 4};
    case X86_REG_SP: return CsGpr{Gpr::kRsp, 2};
    case X86_REG_SPL: return CsGpr{Gpr::kRsp, 1};
    case X86_REG_RBP: return CsGpr{Gpr::kRbp, 8};
    case X86_REG_EBP: return CsGpr{Gpr::kRbp, 4};
    case X86_REG_BP: return CsGpr{Gpr::kRbp, 2};
    case X86_REG_BPL: return CsGpr{Gpr::kRbp, 1};
    case X86_REG_RSI: return CsGpr{Gpr::kRsi, 8};
    case X86_REG_ESI: return CsGpr{Gpr::kRsi, 4};
    case X86_REG_SI: return CsGpr{Gpr::kRsi, 2};
    case X86_REG_SIL: return CsGpr{Gpr::kRsi, 1};
    case X86_REG_RDI: return CsGpr{Gpr::kRdi, 8};
    case X86_REG_EDI: return CsGpr{Gpr::kRdi, 4};
    case X86_REG_DI: return CsGpr{Gpr::kRdi, 2};
    case X86_REG_DIL: return CsGpr{Gpr::kRdi, 1};
    default: break;
  }
  if (cs_reg >= X86_REG_R8 && cs_reg <= X86_REG_R15)
    return CsGpr{static_cast<Gpr>(8 + (cs_reg - X86_REG_R8)), 8};
  if (cs_reg >= X86_REG_R8D && cs_reg <= X86_REG_R15D)
    return CsGpr{static_cast<Gpr>(8 + (cs_reg - X86_REG_R8D)), 4};
  if (cs_reg >= X86_REG_R8W && cs_reg <= X86_REG_R15W)
    return CsGpr{static_cast<Gpr>(8 + (cs_reg - X86_REG_R8W)), 2};
  if (cs_reg >= X86_REG_R8B && cs_reg <= X86_REG_R15B)
    return CsGpr{static_cast<Gpr>(8 + (cs_reg - X86_REG_R8B)), 1};
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Uprobe classification, from the bytes, mirroring arch/x86/kernel/uprobes.c

bool is_legacy_prefix(uint8_t b) {
  switch (b) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
      return true;
    default:
      return false;
  }
}

struct Encoding {
  std::string_view prefixes;  // legacy prefixes
  uint8_t rex = 0;            // 0 if none
  std::string_view opcode_on; // from the opcode byte to the end
  bool has_prefix(uint8_t p) const { return prefixes.find(static_cast<char>(p)) != std::string_view::npos; }
};

Encoding split_encoding(std::string_view b) {
  Encoding e;
  size_t i = 0;
  while (i < b.size() && is_legacy_prefix(static_cast<uint8_t>(b[i]))) ++i;
  e.prefixes = b.substr(0, i);
  if (i < b.size() && (static_cast<uint8_t>(b[i]) & 0xf0) == 0x40) e.rex = static_cast<uint8_t>(b[i++]);
  e.opcode_on = b.substr(i);
  return e;
}

// The kernel's x86_nops[] for x86-64 (arch/x86/include/asm/nops.h, 6.5+): branch_setup_xol_ops
// on 6.18 emulates an instruction whose bytes equal x86_nops[length].
constexpr std::array<std::string_view, 11> kKernelNops = {
    std::string_view("\x90", 1),
    std::string_view("\x66\x90", 2),
    std::string_view("\x0f\x1f\x00", 3),
    std::string_view("\x0f\x1f\x40\x00", 4),
    std::string_view("\x0f\x1f\x44\x00\x00", 5),
    std::string_view("\x66\x0f\x1f\x44\x00\x00", 6),
    std::string_view("\x0f\x1f\x80\x00\x00\x00\x00", 7),
    std::string_view("\x0f\x1f\x84\x00\x00\x00\x00\x00", 8),
    std::string_view("\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00", 9),
    std::string_view("\x66\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00", 10),
    std::string_view("\x66\x66\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00", 11),
};

bool is_branch_opcode(std::string_view op) {
  if (op.empty()) return false;
  auto b0 = static_cast<uint8_t>(op[0]);
  if (b0 == 0xe8 || b0 == 0xe9 || b0 == 0xeb || (b0 >= 0x70 && b0 <= 0x7f)) return true;
  return b0 == 0x0f && op.size() > 1 && (static_cast<uint8_t>(op[1]) & 0xf0) == 0x80;
}

std::string hex_bytes(std::string_view b) {
  std::string s;
  for (size_t i = 0; i < b.size(); ++i)
    s += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(b[i]));
  return s;
}

}  // namespace

std::optional<GprRef> parse_gpr(std::string_view name) {
  for (int i = 0; i < kGprCount; ++i) {
    Gpr reg = static_cast<Gpr>(i);
    if (name == kNames64[i]) return GprRef{reg, 8};
    if (name == kNames32[i]) return GprRef{reg, 4};
    if (name == kNames16[i]) return GprRef{reg, 2};
    if (name == kNames8[i]) return GprRef{reg, 1};
  }
  return std::nullopt;
}

std::string gpr_name(Gpr reg, int width) {
  auto i = static_cast<size_t>(reg);
  switch (width) {
    case 4: return kNames32[i];
    case 2: return kNames16[i];
    case 1: return kNames8[i];
    default: return kNames64[i];
  }
}

const char* uprobe_handling_name(UprobeHandling h) {
  switch (h) {
    case UprobeHandling::kEmulated: return "emulated";
    case UprobeHandling::kSingleStep: return "single-step (XOL)";
    case UprobeHandling::kRefused: return "refused";
  }
  return "?";
}

UprobeClass classify_uprobe(std::string_view bytes) {
  Encoding e = split_encoding(bytes);
  std::string_view op = e.opcode_on;
  if (op.empty()) return {UprobeHandling::kRefused, "no opcode"};
  auto b0 = static_cast<uint8_t>(op[0]);

  // NOPs first, as branch_setup_xol_ops checks them before the 0x66 rule.
  if (b0 == 0x90) {
    // REX.B makes 90 "xchg %r8,%rax": kernels before 6.19 emulate any 90 as a NOP, which
    // would skip the exchange.
    if (e.rex & 0x01) return {UprobeHandling::kRefused, "xchg with %r8 (90 with REX.B): "
                                                        "kernels before 6.19 mis-emulate it as a NOP"};
    // PAUSE is emulated as a NOP before 6.19 and single-stepped after: assume the slower.
    if (e.has_prefix(0xf3)) return {UprobeHandling::kSingleStep, "pause (emulated only before 6.19)"};
    return {UprobeHandling::kEmulated, "nop (90)"};
  }
  for (const auto& nop : kKernelNops)
    if (bytes == nop) return {UprobeHandling::kEmulated, fmt::format("kernel NOP form ({} bytes)", bytes.size())};

  if (is_branch_opcode(op)) {
    if (e.has_prefix(0x66))
      return {UprobeHandling::kRefused, "branch with a 0x66 prefix: the kernel refuses the probe"};
    if (b0 == 0xe8) return {UprobeHandling::kEmulated, "call rel32"};
    if (b0 == 0xe9) return {UprobeHandling::kEmulated, "jmp rel32"};
    if (b0 == 0xeb) return {UprobeHandling::kEmulated, "jmp rel8"};
    if (b0 == 0x0f) return {UprobeHandling::kEmulated, "Jcc rel32"};
    return {UprobeHandling::kEmulated, "Jcc rel8"};
  }

  // push_setup_xol_ops: push %reg in one byte, or two bytes with exactly the REX prefix 41.
  if (b0 >= 0x50 && b0 <= 0x57) {
    if (bytes.size() == 1) return {UprobeHandling::kEmulated, fmt::format("push {}", kNames64[b0 - 0x50])};
    if (bytes.size() == 2 && e.rex == 0x41)
      return {UprobeHandling::kEmulated, fmt::format("push {} (REX 41)", kNames64[8 + b0 - 0x50])};
    return {UprobeHandling::kSingleStep, "push with prefixes other than a lone REX 41"};
  }
  if (bytes == std::string_view("\xf3\x0f\x1e\xfa", 4))
    return {UprobeHandling::kSingleStep, "endbr64 is not a kernel NOP"};
  if (b0 == 0x0f && op.size() > 1 && static_cast<uint8_t>(op[1]) == 0x1f)
    return {UprobeHandling::kSingleStep, "NOPL form other than the kernel's (emulated only from 6.19)"};
  return {UprobeHandling::kSingleStep, "not a branch, push or kernel NOP form"};
}

std::optional<uint64_t> direct_branch_target(std::string_view bytes, uint64_t address) {
  Encoding e = split_encoding(bytes);
  std::string_view op = e.opcode_on;
  if (op.empty()) return std::nullopt;
  auto b0 = static_cast<uint8_t>(op[0]);
  auto rel = [&](size_t at, size_t width) -> std::optional<uint64_t> {
    if (op.size() != at + width) return std::nullopt;
    int64_t d = 0;
    if (width == 1) d = static_cast<int8_t>(op[at]);
    else if (width == 2) d = static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint8_t>(op[at]) |
                                                                      static_cast<uint8_t>(op[at + 1]) << 8));
    else {
      uint32_t u = 0;
      for (size_t i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(op[at + i])) << (8 * i);
      d = static_cast<int32_t>(u);
    }
    return address + bytes.size() + static_cast<uint64_t>(d);
  };
  // Capstone decodes 0x66 call/jmp/Jcc with a 16-bit displacement (the AMD reading).
  size_t wide = e.has_prefix(0x66) ? 2 : 4;
  if (b0 == 0xe8 || b0 == 0xe9) return rel(1, wide);
  if (b0 == 0xeb || (b0 >= 0x70 && b0 <= 0x7f) || (b0 >= 0xe0 && b0 <= 0xe3)) return rel(1, 1);
  if (b0 == 0x0f && op.size() > 1 && (static_cast<uint8_t>(op[1]) & 0xf0) == 0x80) return rel(2, wide);
  return std::nullopt;
}

std::string X86Instruction::text() const {
  return operands.empty() ? mnemonic : mnemonic + " " + operands;
}

std::optional<RegisterChange> X86Instruction::change_to(Gpr reg) const {
  for (const auto& w : writes)
    if (w.reg == reg) return w.change;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Decoder

struct X86Decoder::Impl {
  csh handle = 0;
  ~Impl() {
    if (handle) cs_close(&handle);
  }
};

namespace {

bool in_group(const cs_insn& insn, uint8_t group) {
  const cs_detail* d = insn.detail;
  return std::find(d->groups, d->groups + d->groups_count, group) != d->groups + d->groups_count;
}

// Instructions whose register and memory effects the placement analysis may rely on.
bool effects_are_modelled(const cs_insn& insn) {
  if (in_group(insn, X86_GRP_CMOV)) return true;
  switch (insn.id) {
    case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVSX: case X86_INS_MOVSXD:
    case X86_INS_MOVZX: case X86_INS_LEA: case X86_INS_ADD: case X86_INS_SUB:
    case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR: case X86_INS_ADC: case X86_INS_SBB:
    case X86_INS_NEG: case X86_INS_NOT: case X86_INS_INC: case X86_INS_DEC:
    case X86_INS_SHL: case X86_INS_SHR: case X86_INS_SAR: case X86_INS_ROL: case X86_INS_ROR:
    case X86_INS_BSWAP: case X86_INS_TEST: case X86_INS_CMP: case X86_INS_BT:
    case X86_INS_NOP: case X86_INS_ENDBR64: case X86_INS_PUSH: case X86_INS_POP:
    case X86_INS_XCHG: case X86_INS_JMP:
    case X86_INS_SETAE: case X86_INS_SETA: case X86_INS_SETBE: case X86_INS_SETB:
    case X86_INS_SETE: case X86_INS_SETGE: case X86_INS_SETG: case X86_INS_SETLE:
    case X86_INS_SETL: case X86_INS_SETNE: case X86_INS_SETNO: case X86_INS_SETNP:
    case X86_INS_SETNS: case X86_INS_SETO: case X86_INS_SETP: case X86_INS_SETS:
      return true;
    case X86_INS_IMUL:
      return insn.detail->x86.op_count >= 2;  // the one-operand form writes rdx:rax
    default:
      // Conditional jumps write nothing but rip.
      return in_group(insn, X86_GRP_JUMP) && in_group(insn, X86_GRP_BRANCH_RELATIVE);
  }
}

// The written register's change, recognising the in-place forms that keep the low 32 bits.
RegisterChange classify_change(const cs_insn& insn, Gpr reg) {
  const cs_x86& x = insn.detail->x86;
  if (x.op_count != 2 || x.operands[0].type != X86_OP_REG) return RegisterChange::kOverwritten;
  auto dst = gpr_of(x.operands[0].reg);
  if (!dst || dst->reg != reg) return RegisterChange::kOverwritten;
  const cs_x86_op& src = x.operands[1];
  if (insn.id == X86_INS_LEA && src.type == X86_OP_MEM && src.mem.disp == 0 &&
      src.mem.index == X86_REG_INVALID && src.mem.segment == X86_REG_INVALID) {
    auto base = gpr_of(src.mem.base);
    if (base && base->reg == reg && base->width == 8 && dst->width == 8) return RegisterChange::kUnchanged;
    return RegisterChange::kOverwritten;
  }
  if (src.type != X86_OP_REG) return RegisterChange::kOverwritten;
  auto s = gpr_of(src.reg);
  if (!s || s->reg != reg) return RegisterChange::kOverwritten;
  if (insn.id == X86_INS_MOVSXD && dst->width == 8 && s->width == 4)
    return RegisterChange::kSignExtendedInPlace;
  if (insn.id == X86_INS_MOV && dst->width == 4 && s->width == 4)
    return RegisterChange::kZeroExtendedInPlace;
  if (insn.id == X86_INS_MOV && dst->width == 8 && s->width == 8) return RegisterChange::kUnchanged;
  return RegisterChange::kOverwritten;
}

void record_dataflow(csh handle, const cs_insn& insn, X86Instruction* out) {
  out->effects_known = effects_are_modelled(insn);
  cs_regs read, written;
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(handle, &insn, read, &nread, written, &nwritten) != CS_ERR_OK) {
    out->effects_known = false;
    return;
  }
  for (uint8_t i = 0; i < nwritten; ++i) {
    auto g = gpr_of(written[i]);
    if (!g || out->change_to(g->reg)) continue;
    out->writes.push_back({g->reg, classify_change(insn, g->reg)});
  }
  const cs_x86& x = insn.detail->x86;
  // Capstone 4 marks the memory operand of `test m, imm` as written; these only compare.
  bool compares_only = insn.id == X86_INS_TEST || insn.id == X86_INS_CMP || insn.id == X86_INS_BT;
  for (uint8_t i = 0; i < x.op_count && !compares_only; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type != X86_OP_MEM || !(op.access & CS_AC_WRITE)) continue;
    out->stores_to_memory = true;
    auto base = gpr_of(op.mem.base);
    if (base && op.mem.segment == X86_REG_INVALID) out->store_base = base->reg;
  }
  if (insn.id == X86_INS_PUSH || insn.id == X86_INS_CALL) {
    out->stores_to_memory = true;
    out->store_base = Gpr::kRsp;
  }
}

void record_control_flow(const cs_insn& insn, X86Instruction* out) {
  const cs_x86& x = insn.detail->x86;
  bool relative = in_group(insn, X86_GRP_BRANCH_RELATIVE) && x.op_count >= 1 &&
                  x.operands[0].type == X86_OP_IMM;
  if (in_group(insn, X86_GRP_RET)) {
    out->flow = ControlFlow::kReturn;
  } else if (in_group(insn, X86_GRP_CALL)) {
    out->flow = relative ? ControlFlow::kCall : ControlFlow::kIndirectCall;
  } else if (in_group(insn, X86_GRP_JUMP)) {
    if (insn.id == X86_INS_JMP) out->flow = relative ? ControlFlow::kJump : ControlFlow::kIndirectJump;
    else out->flow = ControlFlow::kConditionalJump;
  } else {
    switch (insn.id) {
      case X86_INS_INT3: case X86_INS_UD2: case X86_INS_UD2B: case X86_INS_UD0: case X86_INS_HLT:
        out->flow = ControlFlow::kStop;
        break;
      default:
        break;
    }
  }
  if (relative && out->flow != ControlFlow::kNone)
    out->target = static_cast<uint64_t>(x.operands[0].imm);
}

void record_operands(const cs_insn& insn, X86Instruction* out) {
  const cs_x86& x = insn.detail->x86;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    X86Operand o;
    o.size = op.size;
    switch (op.type) {
      case X86_OP_REG:
        o.kind = X86Operand::Kind::kRegister;
        if (auto g = gpr_of(op.reg)) o.reg = GprRef{g->reg, g->width};
        break;
      case X86_OP_IMM:
        o.kind = X86Operand::Kind::kImmediate;
        o.immediate = op.imm;
        break;
      case X86_OP_MEM: {
        o.kind = X86Operand::Kind::kMemory;
        auto base = gpr_of(op.mem.base);
        auto index = gpr_of(op.mem.index);
        if (base && base->width == 8) o.base = base->reg;
        if (index && index->width == 8) o.index = index->reg;
        o.displacement = op.mem.disp;
        o.segment_or_rip = op.mem.segment != X86_REG_INVALID || op.mem.base == X86_REG_RIP ||
                           (op.mem.base != X86_REG_INVALID && !o.base) ||
                           (op.mem.index != X86_REG_INVALID && !o.index);
        break;
      }
      default:
        break;
    }
    out->ops.push_back(o);
  }
}

X86Instruction convert(csh handle, const cs_insn& insn, uint64_t file_offset) {
  X86Instruction out;
  out.address = insn.address;
  out.file_offset = file_offset;
  out.bytes.assign(reinterpret_cast<const char*>(insn.bytes), insn.size);
  out.mnemonic = insn.mnemonic;
  out.operands = insn.op_str;
  out.is_endbr64 = insn.id == X86_INS_ENDBR64;
  out.uprobe = classify_uprobe(out.bytes);
  record_operands(insn, &out);
  record_control_flow(insn, &out);
  record_dataflow(handle, insn, &out);
  return out;
}

// 0x66 call/jmp rel and Jcc rel are 16-bit on AMD and 32-bit on Intel in 64-bit mode: their
// length, and so every boundary after them, depends on the CPU.
bool has_vendor_dependent_length(std::string_view bytes) {
  Encoding e = split_encoding(bytes);
  if (!e.has_prefix(0x66) || e.opcode_on.empty()) return false;
  auto b0 = static_cast<uint8_t>(e.opcode_on[0]);
  return b0 == 0xe8 || b0 == 0xe9 ||
         (b0 == 0x0f && e.opcode_on.size() > 1 && (static_cast<uint8_t>(e.opcode_on[1]) & 0xf0) == 0x80);
}

}  // namespace

X86Decoder::X86Decoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
X86Decoder::X86Decoder(X86Decoder&&) noexcept = default;
X86Decoder& X86Decoder::operator=(X86Decoder&&) noexcept = default;
X86Decoder::~X86Decoder() = default;

Result<X86Decoder> X86Decoder::create() {
  auto impl = std::make_unique<Impl>();
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &impl->handle) != CS_ERR_OK) {
    impl->handle = 0;
    return make_error("capstone: cannot open an x86-64 decoder");
  }
  if (cs_option(impl->handle, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
    return make_error("capstone: cannot enable detail mode");
  return X86Decoder(std::move(impl));
}

std::optional<X86Instruction> X86Decoder::decode_one(std::string_view code, uint64_t address,
                                                     uint64_t file_offset) const {
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(impl_->handle, reinterpret_cast<const uint8_t*>(code.data()),
                       std::min<size_t>(code.size(), 15), address, 1, &insn);
  if (n == 0) return std::nullopt;
  X86Instruction out = convert(impl_->handle, insn[0], file_offset);
  cs_free(insn, n);
  return out;
}

Result<std::vector<X86Instruction>> X86Decoder::decode_all(std::string_view code, uint64_t address,
                                                           uint64_t file_offset) const {
  std::vector<X86Instruction> out;
  cs_insn* insn = cs_malloc(impl_->handle);
  if (!insn) return make_error("capstone: out of memory");
  const auto* p = reinterpret_cast<const uint8_t*>(code.data());
  size_t left = code.size();
  uint64_t addr = address;
  while (left > 0) {
    uint64_t at = addr;
    uint64_t off = file_offset + (at - address);
    if (!cs_disasm_iter(impl_->handle, &p, &left, &addr, insn)) {
      cs_free(insn, 1);
      return make_error("undecodable bytes at 0x{:x} (file offset 0x{:x}): {}", at, off,
                        hex_bytes(code.substr(at - address, std::min<size_t>(left, 8))));
    }
    out.push_back(convert(impl_->handle, *insn, off));
    if (has_vendor_dependent_length(out.back().bytes)) {
      cs_free(insn, 1);
      return make_error("0x66-prefixed branch at 0x{:x} ({}): its length differs between CPU "
                        "vendors", at, hex_bytes(out.back().bytes));
    }
  }
  cs_free(insn, 1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Functions

const X86Instruction* FunctionCode::at(uint64_t addr) const {
  auto i = index_of(addr);
  return i ? &instructions[*i] : nullptr;
}

std::optional<size_t> FunctionCode::index_of(uint64_t addr) const {
  auto it = std::lower_bound(instructions.begin(), instructions.end(), addr,
                             [](const X86Instruction& in, uint64_t a) { return in.address < a; });
  if (it == instructions.end() || it->address != addr) return std::nullopt;
  return static_cast<size_t>(it - instructions.begin());
}

Result<FunctionCode> disassemble_function(const X86Decoder& decoder, const ElfFile& elf,
                                          const std::string& name, uint64_t address,
                                          uint64_t size) {
  if (size == 0)
    return make_error("{} in {}: the function's bounds are unknown (symbol size 0)", name, elf.path());
  PROBE_ASSIGN_OR_RETURN(uint64_t first, elf.file_offset(address));
  auto last = elf.file_offset(address + size - 1);
  if (!last || *last - first != size - 1)
    return make_error("{} in {}: [0x{:x}, 0x{:x}) is not inside one loadable segment", name,
                      elf.path(), address, address + size);
  std::string bytes = elf.read_bytes(first, size);
  if (bytes.size() != size)
    return make_error("{} in {}: the file ends inside the function", name, elf.path());
  FunctionCode fn;
  fn.name = name;
  fn.address = address;
  fn.size = size;
  fn.file_offset = first;
  auto insns = decoder.decode_all(bytes, address, first);
  if (!insns) return make_error("{} in {}: {}", name, elf.path(), insns.error().message);
  fn.instructions = std::move(*insns);
  return fn;
}

Result<FunctionCode> disassemble_function(const X86Decoder& decoder, const ElfFile& elf,
                                          const ElfSymbol& symbol) {
  return disassemble_function(decoder, elf, symbol.name, symbol.address, symbol.size);
}

}  // namespace probe
