// The straight-line path from a function's entry, as the placement analysis walks it: before
// each instruction, what every general-purpose register holds compared with the entry, which
// registers hold a stack address (rcx = rsp + 8), and where the path stops being something the
// analysis can reason about. Used by common/probe_placement.cpp only.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/probe_placement.h"
#include "common/x86_disasm.h"

namespace probe {

// "SSL_write+0x1b" for an address inside `fn`.
std::string where_in(const FunctionCode& fn, uint64_t address);

class StraightLineWalk {
 public:
  explicit StraightLineWalk(const FunctionCode& fn);

  // The instruction the walk stands before, or nullptr once it stopped.
  const X86Instruction* current() const;
  size_t index() const { return index_; }
  // Applies the current instruction and moves to the next one on the fall-through path.
  // Returns false, with stop_reason(), when the path cannot be followed past it: a call, an
  // unconditional or indirect transfer, a return, an instruction whose effects are not
  // modelled, a store through anything but the stack, or the end of the function.
  // Conditional jumps are passed (their taken side leaves the path: conditional_exits()).
  bool advance();
  const std::string& stop_reason() const { return stop_reason_; }

  // State of `reg` before current(), relative to the function's entry.
  const RegisterAtSite& reg(Gpr reg) const { return regs_[static_cast<size_t>(reg)]; }
  // d when `reg` == rsp + d (with rsp as it is now), else nullopt.
  std::optional<int64_t> stack_address_in(Gpr reg) const { return stack_address_[static_cast<size_t>(reg)]; }
  // Instructions passed so far (the prefix a probe at current() skips).
  const std::vector<const X86Instruction*>& passed() const { return passed_; }
  const std::vector<const X86Instruction*>& conditional_exits() const { return exits_; }

 private:
  bool stop(std::string reason);
  void apply_writes(const X86Instruction& insn);

  const FunctionCode& fn_;
  size_t index_ = 0;
  bool stopped_ = false;
  std::string stop_reason_;
  bool frame_pointer_set_ = false;  // rbp == rsp at some point of this prologue
  std::array<RegisterAtSite, kGprCount> regs_{};
  std::array<std::optional<int64_t>, kGprCount> stack_address_{};
  std::vector<const X86Instruction*> passed_;
  std::vector<const X86Instruction*> exits_;
};

}  // namespace probe
