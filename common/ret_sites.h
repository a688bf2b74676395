// The RET instructions of a function, for "return" probes placed on every RET instead of a
// uretprobe (policy `return = "ret-sites"`). Go needs this: a uretprobe rewrites the return
// address on the goroutine stack, and when the Go runtime moves that stack it finds a bogus
// return PC and crashes the process. Each RET site is a plain uprobe; the kernel single-steps
// RET (it is not emulated), so a hit costs the XOL price but no return trampoline.
//
// A RET scan misses exits that leave by a jump: tail calls (jmp/Jcc to another function) and
// indirect jumps. They are reported so that callers can refuse: C compilers emit tail calls
// routinely; Go's compiler does not (its indirect jumps are jump tables inside the function).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/x86_disasm.h"

namespace probe {

class ElfFile;

struct ReturnSites {
  std::vector<X86Instruction> returns;         // ret / ret imm16, in address order
  std::vector<X86Instruction> tail_jumps;      // direct jmp/Jcc leaving [start, end)
  std::vector<X86Instruction> indirect_jumps;  // jmp *...: jump table or tail call, unknown

  // File offsets of every RET: where the uprobes go.
  std::vector<uint64_t> file_offsets() const;
  // True when every way out of the function is one of `returns` (or a call that does not
  // return, which needs no return probe).
  bool exits_only_by_ret() const { return tail_jumps.empty() && indirect_jumps.empty(); }
};

ReturnSites find_return_sites(const FunctionCode& fn);

// Decodes [address, address+size) of `elf` first; an error if the bounds are unknown or the
// code does not decode.
Result<ReturnSites> find_return_sites(const X86Decoder& decoder, const ElfFile& elf,
                                      const std::string& name, uint64_t address, uint64_t size);

}  // namespace probe
