// What goes into compiling generated C, shared by the compiler (which runs Clang) and the
// daemon (which only computes cache keys and never links Clang).
#pragma once

#include <string>
#include <vector>

namespace probe {

struct CompileOutput {
  bool ok = false;
  std::string object;       // BPF ELF when ok
  std::string diagnostics;  // Clang's messages (errors and warnings), never printed raw
};

// Clang version the compile backend links against (from CMake).
const char* clang_version();
// Front-end flags of every BPF compile; part of the cache key.
const std::vector<std::string>& bpf_compile_flags();
// Cache key of an object: generated source + embedded stdlib + Clang version + flags.
std::string object_cache_key(const std::string& source);

}  // namespace probe
