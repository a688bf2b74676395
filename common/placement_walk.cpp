#include "common/placement_walk.h"

#include <fmt/format.h>

namespace probe {

std::string where_in(const FunctionCode& fn, uint64_t address) {
  if (address == fn.address) return fn.name;
  if (fn.contains(address)) return fmt::format("{}+0x{:x}", fn.name, address - fn.address);
  return fmt::format("0x{:x}", address);
}

StraightLineWalk::StraightLineWalk(const FunctionCode& fn) : fn_(fn) {
  for (int i = 0; i < kGprCount; ++i) regs_[i].reg = static_cast<Gpr>(i);
  stack_address_[static_cast<size_t>(Gpr::kRsp)] = 0;
  if (fn.instructions.empty()) stop("the function has no instructions");
}

const X86Instruction* StraightLineWalk::current() const {
  return stopped_ ? nullptr : &fn_.instructions[index_];
}

bool StraightLineWalk::stop(std::string reason) {
  stopped_ = true;
  stop_reason_ = std::move(reason);
  return false;
}

void StraightLineWalk::apply_writes(const X86Instruction& insn) {
  std::string at = fmt::format("`{}` at {}", insn.text(), where_in(fn_, insn.address));
  for (const auto& w : insn.writes) {
    auto i = static_cast<size_t>(w.reg);
    RegisterAtSite& r = regs_[i];
    switch (w.change) {
      case RegisterChange::kUnchanged:
        break;
      case RegisterChange::kSignExtendedInPlace:
      case RegisterChange::kZeroExtendedInPlace:
        if (r.state == ValueState::kUnchanged) {
          r.state = ValueState::kLow32Kept;
          r.why = fmt::format("{} {}-extends it in place", at,
                              w.change == RegisterChange::kSignExtendedInPlace ? "sign" : "zero");
        }
        break;
      case RegisterChange::kOverwritten:
        r.state = ValueState::kOverwritten;
        r.why = fmt::format("overwritten by {}", at);
        break;
    }
    if (w.change != RegisterChange::kUnchanged) stack_address_[i].reset();
  }
  // Stack addresses: rsp moved, so every "reg = rsp + d" is stale; then the new ones.
  if (insn.change_to(Gpr::kRsp)) {
    for (auto& s : stack_address_) s.reset();
    stack_address_[static_cast<size_t>(Gpr::kRsp)] = 0;
  }
  if (insn.ops.size() == 2 && insn.ops[0].reg && insn.ops[0].reg->width == 8) {
    auto dst = static_cast<size_t>(insn.ops[0].reg->reg);
    const X86Operand& src = insn.ops[1];
    if (insn.mnemonic == "mov" && src.reg && src.reg->reg == Gpr::kRsp && src.reg->width == 8)
      stack_address_[dst] = 0;
    else if (insn.mnemonic == "lea" && src.is_stack_slot())
      stack_address_[dst] = src.displacement;
  }
  if (insn.change_to(Gpr::kRbp))
    frame_pointer_set_ = stack_address_[static_cast<size_t>(Gpr::kRbp)] == 0;
}

bool StraightLineWalk::advance() {
  const X86Instruction* insn = current();
  if (!insn) return false;
  std::string at = fmt::format("`{}` at {}", insn->text(), where_in(fn_, insn->address));
  switch (insn->flow) {
    case ControlFlow::kReturn:
    case ControlFlow::kStop:
      return stop(fmt::format("{} ends the path", at));
    case ControlFlow::kJump:
      return stop(fmt::format("{} continues elsewhere", at));
    case ControlFlow::kIndirectJump:
    case ControlFlow::kIndirectCall:
      return stop(fmt::format("{} is an indirect transfer", at));
    case ControlFlow::kCall:
      return stop(fmt::format("{} runs other code first", at));
    case ControlFlow::kConditionalJump:
      exits_.push_back(insn);
      break;
    case ControlFlow::kNone:
      if (!insn->effects_known) return stop(fmt::format("the effects of {} are not modelled", at));
      if (insn->stores_to_memory) {
        bool own_frame = insn->store_base == Gpr::kRsp ||
                         (insn->store_base == Gpr::kRbp && frame_pointer_set_);
        if (!own_frame) return stop(fmt::format("{} stores through something other than the stack", at));
      }
      apply_writes(*insn);
      break;
  }
  passed_.push_back(insn);
  if (++index_ >= fn_.instructions.size()) return stop("the function ends");
  return true;
}

}  // namespace probe
