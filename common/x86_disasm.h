// Decodes x86-64 code with Capstone and says, for every instruction, how the kernel's uprobe
// code (arch/x86/kernel/uprobes.c) treats a breakpoint placed on it: emulated inside the trap,
// or copied out of line and single-stepped (XOL, a second trap, ~10x the cost per hit; see
// docs/probe-placement.md). It also records what the placement analysis needs: direct branch
// targets, returns, and which general-purpose registers an instruction changes.
//
// Emulated on x86-64 (kernel 6.18 as running here; every rule below also holds on 6.19+):
//   - call rel32 (e8), jmp rel8/rel32 (eb/e9), Jcc short/near (70-7f, 0f 80-8f) — all refused
//     by the kernel with a 0x66 prefix (the probe cannot be registered at all);
//   - push %reg (50-57) and push %r8-%r15 with exactly the REX prefix 41;
//   - NOPs: 90 (with any legacy prefix but REP, no REX.B), and the kernel's own x86_nops[]
//     byte forms of 1-11 bytes (66 90, 0f 1f 00, 0f 1f 40 00, 0f 1f 44 00 00, ...).
// Everything else is single-stepped, including ret, endbr64 (f3 0f 1e fa is not a kernel NOP),
// sub/test/mov, other 0f 1f NOPL forms, mov %r,%r and lea 0(%r),%r (those three are emulated
// only from 6.19, which generalised insn_is_nop(); treated as XOL, the slower assumption).
// Refused: 66-prefixed branches, and 90 with REX.B (xchg %r8,%rax), which kernels before 6.19
// would "emulate" as a NOP, corrupting the program.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;
struct ElfSymbol;

// A general-purpose register by its 64-bit family: eax, ax, al and ah are all kRax.
enum class Gpr : uint8_t {
  kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi,
  kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15,
};
constexpr int kGprCount = 16;
// The System V x86-64 calling convention: integer arguments in this order, the registers a
// callee keeps (so a value in one survives a call), and those a call may change.
inline constexpr Gpr kSysVArgumentRegisters[] = {Gpr::kRdi, Gpr::kRsi, Gpr::kRdx, Gpr::kRcx, Gpr::kR8, Gpr::kR9};
inline constexpr Gpr kSysVCalleeSaved[] = {Gpr::kRbx, Gpr::kRbp, Gpr::kR12, Gpr::kR13, Gpr::kR14, Gpr::kR15};
inline constexpr Gpr kSysVCallerSaved[] = {Gpr::kRax, Gpr::kRcx, Gpr::kRdx, Gpr::kRsi, Gpr::kRdi,
                                           Gpr::kR8,  Gpr::kR9,  Gpr::kR10, Gpr::kR11};

// A register as a probe reads it: "rdx" is (kRdx, 8 bytes), "edx" is (kRdx, 4 bytes).
struct GprRef {
  Gpr reg = Gpr::kRax;
  int width = 8;  // 1, 2, 4 or 8 bytes (the low bytes of the register)
};
// "rdx", "edx", "dx", "dl", "r8", "r8d", ... (lower case, no '%'); nullopt if not a GPR.
std::optional<GprRef> parse_gpr(std::string_view name);
std::string gpr_name(Gpr reg, int width = 8);  // (kRdx, 4) → "edx"

// What the kernel does with a uprobe on this instruction.
enum class UprobeHandling {
  kEmulated,    // handled in the int3 trap (branch_setup_xol_ops / push_setup_xol_ops)
  kSingleStep,  // executed out of line with a single step: a second trap per hit
  kRefused,     // registration fails, or the kernel would mis-emulate it: never probe
};
const char* uprobe_handling_name(UprobeHandling h);  // "emulated", "single-step (XOL)", "refused"

struct UprobeClass {
  UprobeHandling handling = UprobeHandling::kSingleStep;
  std::string why;  // "call rel32", "push %r14 (REX 41)", "not a branch, push or kernel NOP"
};
// Classifies one instruction from its exact bytes (prefixes included), as the kernel does.
UprobeClass classify_uprobe(std::string_view instruction_bytes);

// The destination of a direct call rel32, jmp rel8/rel32, Jcc, loop or jrcxz whose exact bytes
// are `instruction_bytes` and which starts at `address`; nullopt for anything else.
std::optional<uint64_t> direct_branch_target(std::string_view instruction_bytes, uint64_t address);

enum class ControlFlow {
  kNone,             // falls through
  kCall,             // call rel32
  kJump,             // jmp rel8/rel32
  kConditionalJump,  // Jcc, loop, jrcxz
  kReturn,           // ret, ret imm16 (also with rep/bnd prefixes)
  kIndirectCall,
  kIndirectJump,
  kStop,             // int3, ud2, hlt: execution does not continue here
};

// How an instruction changes a general-purpose register.
enum class RegisterChange {
  kOverwritten,         // assume a new value
  kSignExtendedInPlace, // movsxd %eR,%rR: the low 32 bits are unchanged
  kZeroExtendedInPlace, // mov %eR,%eR: the low 32 bits are unchanged
  kUnchanged,           // mov %rR,%rR, lea 0(%rR),%rR
};
struct RegisterWrite {
  Gpr reg = Gpr::kRax;
  RegisterChange change = RegisterChange::kOverwritten;
};

// An explicit operand, in Capstone's (Intel) order: the destination first.
struct X86Operand {
  enum class Kind { kRegister, kImmediate, kMemory, kOther };
  Kind kind = Kind::kOther;
  int size = 0;                // bytes
  std::optional<GprRef> reg;   // kRegister naming a GPR
  int64_t immediate = 0;       // kImmediate
  // kMemory: [base + index*scale + displacement]; segment- and rip-relative flagged.
  std::optional<Gpr> base;
  std::optional<Gpr> index;
  int64_t displacement = 0;
  bool segment_or_rip = false;
  // A memory operand that is exactly [rsp + displacement].
  bool is_stack_slot() const {
    return kind == Kind::kMemory && base == Gpr::kRsp && !index && !segment_or_rip;
  }
};

struct X86Instruction {
  uint64_t address = 0;      // virtual address
  uint64_t file_offset = 0;  // offset of its first byte in the file (what uprobes attach to)
  std::string bytes;         // the exact encoding
  std::string mnemonic;      // Capstone, Intel syntax: "push", "movsxd", "jle"
  std::string operands;      // "r14", "rdx, edx"
  std::vector<X86Operand> ops;
  ControlFlow flow = ControlFlow::kNone;
  std::optional<uint64_t> target;  // destination of a direct call, jmp or Jcc
  UprobeClass uprobe;
  bool is_endbr64 = false;

  // Dataflow, for the placement analysis. `effects_known` is true only for instructions whose
  // register and memory effects are modelled (mov, lea, arithmetic, push, test, nop, ...);
  // anything else must be treated as changing everything.
  bool effects_known = false;
  std::vector<RegisterWrite> writes;  // registers it changes (partial writes included)
  bool stores_to_memory = false;
  std::optional<Gpr> store_base;  // base register of a store's address (kRsp for push); none
                                  // for absolute, %rip- or segment-relative stores

  size_t size() const { return bytes.size(); }
  uint64_t end() const { return address + bytes.size(); }
  std::string text() const;                       // "push r14"
  std::optional<RegisterChange> change_to(Gpr reg) const;  // nullopt: not written
};

// A Capstone handle in x86-64 detail mode. Move-only; not thread-safe (one per thread).
class X86Decoder {
 public:
  static Result<X86Decoder> create();
  X86Decoder(X86Decoder&&) noexcept;
  X86Decoder& operator=(X86Decoder&&) noexcept;
  ~X86Decoder();

  // Decodes all of `code`, which sits at virtual `address` and at `file_offset` in its file.
  // Undecodable bytes, or an instruction whose length differs between Intel and AMD
  // (0x66-prefixed call/jmp/Jcc), are an error naming the address.
  Result<std::vector<X86Instruction>> decode_all(std::string_view code, uint64_t address,
                                                 uint64_t file_offset) const;
  // The first instruction of `code`, or nullopt if it does not decode.
  std::optional<X86Instruction> decode_one(std::string_view code, uint64_t address,
                                           uint64_t file_offset) const;

 private:
  struct Impl;
  explicit X86Decoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A function's code, decoded linearly from its entry to its end.
struct FunctionCode {
  std::string name;
  uint64_t address = 0;      // entry (virtual)
  uint64_t size = 0;         // bytes, from the symbol's st_size or the Go pclntab
  uint64_t file_offset = 0;  // of the entry
  std::vector<X86Instruction> instructions;

  uint64_t end() const { return address + size; }
  bool contains(uint64_t addr) const { return addr >= address && addr < end(); }
  // The instruction that starts exactly at `addr`, or nullptr (outside, or not a boundary).
  const X86Instruction* at(uint64_t addr) const;
  // Index of the instruction starting at `addr`, or nullopt.
  std::optional<size_t> index_of(uint64_t addr) const;
};

// Reads and decodes [address, address+size) of `elf`. Refuses unknown bounds (size 0), code
// that is not in one loadable segment of the file, and undecodable bytes.
Result<FunctionCode> disassemble_function(const X86Decoder& decoder, const ElfFile& elf,
                                          const std::string& name, uint64_t address,
                                          uint64_t size);
Result<FunctionCode> disassemble_function(const X86Decoder& decoder, const ElfFile& elf,
                                          const ElfSymbol& symbol);

}  // namespace probe
