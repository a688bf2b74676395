// Resolves library names the way the dynamic loader would: /etc/ld.so.cache first, then the
// standard directories. Accepts a soname ("libssl.so.3"), a glob ("libssl.so.*"), a short
// name ("libssl") or a path.
#pragma once

#include <string>
#include <vector>

namespace probe {

struct LibraryCandidate {
  std::string soname;
  std::string path;
};

// All cache entries for this machine's ABI (x86-64 libc6), in cache order.
std::vector<LibraryCandidate> read_ld_cache(const std::string& cache_path = "/etc/ld.so.cache");

// Paths of the libraries that `spec` names, de-duplicated by real path. Empty if none.
std::vector<std::string> resolve_library(const std::string& spec,
                                         const std::string& cache_path = "/etc/ld.so.cache");

// Directories searched when the cache has no entry, in the loader's order.
const std::vector<std::string>& standard_library_dirs();

}  // namespace probe
