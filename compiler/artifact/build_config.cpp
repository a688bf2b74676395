#include "compiler/artifact/build_config.h"

#include "common/sha256.h"
#include "stdlib/stdlib.h"

#ifndef PROBEKIT_CLANG_VERSION
#error "PROBEKIT_CLANG_VERSION must be defined by the build"
#endif

namespace probe {

const char* clang_version() { return PROBEKIT_CLANG_VERSION; }

const std::vector<std::string>& bpf_compile_flags() {
  static const std::vector<std::string> flags = {
      "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", "-D__bpf__=1",
      "-Wno-unused-function", "-Wno-unused-variable", "-Wno-compare-distinct-pointer-types",
      "-nostdinc", "-fno-stack-protector"};
  return flags;
}

std::string object_cache_key(const std::string& source) {
  Sha256 h;
  h.add("probekit-object-v1").add(source).add(stdlib::version_hash()).add(clang_version());
  for (const auto& f : bpf_compile_flags()) h.add(f);
  return h.hex();
}

}  // namespace probe
