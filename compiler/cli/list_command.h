// `probec list`: what can be probed on this machine — the functions of libraries and
// binaries (uprobe), their USDT probes and the kernel's tracepoints — printed in the
// spelling a policy uses.
#pragma once

#include <string>
#include <vector>

#include "common/elf_file.h"
#include "common/result.h"

namespace probe {

// `args` are the words after "list". Returns the process exit code.
int run_list(const std::vector<std::string>& args);

// Shared with `probec new`:

// "SSL_write@@OPENSSL_3.0.0", "memcpy@GLIBC_2.2.5" or "main": how a policy names the symbol.
std::string function_spec(const ElfSymbol& symbol);

// The ELF file `spec` names: an existing path; or, for a bare name, a program in PATH or a
// library the dynamic loader would find. The error says what was looked for and where.
Result<std::string> locate_elf_file(const std::string& spec);

}  // namespace probe
