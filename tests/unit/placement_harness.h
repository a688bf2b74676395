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

// Assembles `source` into `dir`/lib`stem`.so (cc, no libc, with a build-id, plus `link_flags`);
// returns (path, error text).
inline std::pair<std::string, std::string> build_asm_library(const TempDir& dir, const std::string& stem,
                                                             const char* source,
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
