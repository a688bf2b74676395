#include "common/ret_sites.h"

#include "common/elf_file.h"

namespace probe {

std::vector<uint64_t> ReturnSites::file_offsets() const {
  std::vector<uint64_t> out;
  out.reserve(returns.size());
  for (const auto& r : returns) out.push_back(r.file_offset);
  return out;
}

ReturnSites find_return_sites(const FunctionCode& fn) {
  ReturnSites sites;
  for (const auto& insn : fn.instructions) {
    switch (insn.flow) {
      case ControlFlow::kReturn:
        sites.returns.push_back(insn);
        break;
      case ControlFlow::kJump:
      case ControlFlow::kConditionalJump:
        if (insn.target && !fn.contains(*insn.target)) sites.tail_jumps.push_back(insn);
        break;
      case ControlFlow::kIndirectJump:
        sites.indirect_jumps.push_back(insn);
        break;
      default:
        break;
    }
  }
  return sites;
}

Result<ReturnSites> find_return_sites(const X86Decoder& decoder, const ElfFile& elf,
                                      const std::string& name, uint64_t address, uint64_t size) {
  PROBE_ASSIGN_OR_RETURN(auto fn, disassemble_function(decoder, elf, name, address, size));
  return find_return_sites(fn);
}

}  // namespace probe
