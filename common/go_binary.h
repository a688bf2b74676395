// Reads what probes need from a Go executable: whether it is Go, its Go version, and its
// functions from .gopclntab — the table the Go runtime itself uses for stack traces, so it is
// present in stripped binaries (`-ldflags=-s -w`), where `crypto/tls.(*Conn).Write` has no
// ELF symbol. pclntab formats: Go 1.2-1.15, 1.16-1.17, 1.18-1.19 and 1.20+ (1.20 changed only
// the magic; 1.21-1.22 kept it).
//
// Go probes: arguments are in Go's register ABI (1.17+: rax, rbx, rcx, rdi, rsi, r8-r11; g in
// r14), and return probes must use RET sites (common/ret_sites.h), never uretprobes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;

struct GoFunction {
  std::string name;    // "crypto/tls.(*Conn).Write"
  uint64_t entry = 0;  // virtual address
  uint64_t end = 0;    // next function's entry (includes the int3 padding after it)
  uint64_t size() const { return end - entry; }
};

enum class PclntabFormat { kGo12, kGo116, kGo118, kGo120 };
const char* pclntab_format_name(PclntabFormat f);  // "go1.18-1.19"

struct Pclntab {
  PclntabFormat format = PclntabFormat::kGo120;
  int pointer_size = 8;
  uint64_t text_start = 0;
  std::vector<GoFunction> functions;  // in entry order
};

// Parses a .gopclntab image. `text_address` (the .text section's address) stands in for a
// 1.18+ header whose textStart the file leaves to a dynamic relocation (0 in PIE files).
Result<Pclntab> parse_gopclntab(std::string_view data, uint64_t text_address);

// The Go version in .go.buildinfo ("go1.19.8"); an error if the section is missing or bad.
Result<std::string> read_go_version(const ElfFile& elf);

class GoBinary {
 public:
  // Cheap check: a .go.buildinfo or .gopclntab section, or a runtime.main symbol.
  static bool is_go(const ElfFile& elf);
  // Reads the version (empty if .go.buildinfo is absent) and the function table.
  static Result<GoBinary> open(const ElfFile& elf);

  const std::string& version() const { return version_; }
  PclntabFormat format() const { return table_.format; }
  const std::vector<GoFunction>& functions() const { return table_.functions; }
  std::optional<GoFunction> find_function(std::string_view name) const;

 private:
  std::string version_;
  Pclntab table_;
};

}  // namespace probe
