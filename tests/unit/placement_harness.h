// What the placement tests share: building an assembly fixture into a shared object, and one
// file's analysis context (ELF, decoder, branch sweep) with the helpers the tests read it by.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/probe_placement.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe::test {

// OpenSSL 3's exported wrapper shapes as assembler macros, for the fixtures that need them:
//   PK_SSL_WRAPPER name, internal     SSL_read / SSL_write: refuse num < 0, call `internal`
//                                     with the count pointer rsp+0 in rcx, then
//                                     `test eax, eax; jle` and return the count
//   PK_SSL_WRAPPER_EX name, internal  SSL_read_ex / SSL_write_ex: call, clamp the status (no Jcc)
inline constexpr char kSslWrapperMacros[] = R"(
  .macro PK_SSL_WRAPPER name, internal
  .text
  .p2align 4
  .globl \name
  .type \name, @function
\name:
  sub $0x18, %rsp
  xor %eax, %eax
  test %edx, %edx
  js 1f
  mov %rsp, %rcx
  movslq %edx, %rdx
  call \internal
  test %eax, %eax
  jle 2f
  mov (%rsp), %eax
2:
  add $0x18, %rsp
  ret
1:
  mov $-1, %eax
  jmp 2b
  .size \name, .-\name
  .endm

  .macro PK_SSL_WRAPPER_EX name, internal
  .text
  .p2align 4
  .globl \name
  .type \name, @function
\name:
  sub $8, %rsp
  call \internal
  xor %edx, %edx
  test %eax, %eax
  cmovs %edx, %eax
  add $8, %rsp
  ret
  .size \name, .-\name
  .endm
)";

// Assembles `source` into `dir`/lib`stem`.so (cc, no libc, with a build-id, plus `link_flags`);
// returns (path, error text).
inline std::pair<std::string, std::string> build_asm_library(const TempDir& dir, const std::string& stem,
                                                             const std::string& source,
                                                             const std::vector<std::string>& link_flags = {}) {
  if (!find_program("cc")) return {"", "needs a C compiler (cc)"};
  write_text(dir.file(stem + ".S"), source);
  std::string out = dir.file("lib" + stem + ".so");
  std::vector<std::string> argv{"cc", "-shared", "-nostdlib", "-Wl,--build-id", "-o", out, dir.file(stem + ".S")};
  argv.insert(argv.end(), link_flags.begin(), link_flags.end());
  auto [rc, text] = run(argv);
  if (rc != 0) return {"", "cc failed: " + text};
  return {out, ""};
}

// One file's analysis context; build it once and place many functions.
struct PlacementFile {
  explicit PlacementFile(const std::string& path)
      : elf(ElfFile::open(path)), decoder(X86Decoder::create()),
        branches(elf ? BranchIndex::build(*elf) : Result<BranchIndex>(Error{"no file"})) {}
  bool ok() const { return elf && decoder && branches; }
  PlacementContext context() const { return PlacementContext{*elf, *decoder, *branches}; }
  uint64_t address_of(const std::string& fn) const { return elf->find_function(fn)->address; }
  Result<ElfFile> elf;
  Result<X86Decoder> decoder;
  Result<BranchIndex> branches;
};

// "rdi", "edx", ... as the register reads of a request.
inline std::vector<GprRef> gpr_reads(const std::vector<std::string>& names) {
  std::vector<GprRef> out;
  for (const auto& n : names) out.push_back(*parse_gpr(n));
  return out;
}

// The explanation, one line each, for failure messages and `find`.
inline std::string explanation_text(const Placement& p) {
  std::string s;
  for (const auto& l : p.explanation) s += l + "\n";
  return s;
}

}  // namespace probe::test
