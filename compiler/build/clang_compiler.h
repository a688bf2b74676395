// Compiles generated BPF C to a BPF ELF object with Clang's C++ API, entirely in memory:
// the source and the embedded stdlib headers live in an in-memory file system.
//
// LLVM's BPF backend keeps global state between CO-RE compiles and crashes on the second one
// in a process, and its memory is not returned; so callers compile in a child process
// (compile_in_child), never in a long-running one.
#pragma once

#include <string>

#include "common/result.h"
#include "compiler/artifact/build_config.h"

namespace probe {

// Compiles in this process. Call at most once per process (see above).
CompileOutput compile_bpf_c(const std::string& source);

struct ChildCompileStats {
  double wall_ms = 0;
  long peak_rss_kb = 0;  // of the compile child
};

// Forks, compiles in the child and returns the object over a pipe. A crash or fatal LLVM
// error in the child becomes an error here, never a crash of the caller.
Result<CompileOutput> compile_in_child(const std::string& source, ChildCompileStats* stats = nullptr);

}  // namespace probe
