// Section headers of an ELF file and the bytes of a section, for the readers that need more
// than symbols: the x86 sweep over executable code, and the Go readers (.gopclntab,
// .go.buildinfo) that work on stripped binaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;

struct ElfSection {
  std::string name;
  uint64_t address = 0;  // sh_addr (0 for sections that are not loaded)
  uint64_t offset = 0;   // sh_offset in the file
  uint64_t size = 0;
  bool executable = false;  // SHF_EXECINSTR
  bool has_file_bytes = true;  // false for SHT_NOBITS (.bss)
};

// Every section of the file, in header order. A file without section headers has none.
Result<std::vector<ElfSection>> read_elf_sections(const ElfFile& elf);

std::optional<ElfSection> find_section(const std::vector<ElfSection>& sections,
                                       const std::string& name);

// The bytes of `section` as stored in the file (empty for SHT_NOBITS).
Result<std::string> read_section_bytes(const ElfFile& elf, const ElfSection& section);

}  // namespace probe
