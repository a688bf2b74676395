// Reads what probekit needs from an ELF file: function symbols (with GNU symbol versions),
// virtual-address → file-offset mapping for uprobes, build-id and code bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

struct ElfSymbol {
  std::string name;     // without version: "SSL_write"
  std::string version;  // "OPENSSL_3.0.0" or empty
  bool default_version = true;  // '@@' (default) vs '@' (hidden)
  uint64_t address = 0;         // st_value (virtual address)
  uint64_t size = 0;
  bool dynamic = false;  // from .dynsym (exported)
};

class ElfFile {
 public:
  static Result<ElfFile> open(const std::string& path);
  ElfFile(ElfFile&&) noexcept;
  ElfFile& operator=(ElfFile&&) noexcept;
  ~ElfFile();

  const std::string& path() const;
  // Defined function symbols from .dynsym and .symtab, one per (name, address).
  const std::vector<ElfSymbol>& functions() const;
  // Finds a function by "name", "name@VER" or "name@@VER".
  std::optional<ElfSymbol> find_function(const std::string& spec) const;
  // Functions whose name matches a glob ("bench_fn_*"), one per address (aliases collapse),
  // in address order.
  std::vector<ElfSymbol> match_functions(const std::string& glob) const;
  // Up to `max` function names closest to `name` (for "did you mean" hints).
  std::vector<std::string> nearest_functions(const std::string& name, size_t max = 3) const;
  // Maps a virtual address to its offset in the file, as uprobes need.
  Result<uint64_t> file_offset(uint64_t address) const;
  std::string build_id() const;  // hex, empty if none
  bool is_shared_object() const;
  bool has_section(const std::string& name) const;
  // Raw bytes of the file at [offset, offset+size), clipped at end of file.
  std::string read_bytes(uint64_t offset, uint64_t size) const;

 private:
  struct Impl;
  explicit ElfFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Which of `names` (plain names, no versions) `path` defines as functions in .dynsym or
// .symtab. Scans the tables in place, without building ElfFile's symbol list: a policy check
// asks for a handful of names in executables with 100k+ symbols (node).
Result<std::set<std::string>> defined_functions(const std::string& path, const std::set<std::string>& names);

}  // namespace probe
