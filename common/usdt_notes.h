// Reads USDT probes (SystemTap SDT v3 notes, as <sys/sdt.h> emits them) from an ELF file:
// provider, name, addresses and the argument specification of every `.note.stapsdt` note.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;

// One argument of a probe, e.g. "-4@%edi": a signed 4-byte value in register edi.
struct UsdtArg {
  int size = 0;           // bytes; negative = signed; 0 = unknown (argument without "N@")
  bool floating = false;  // "8f@%xmm0": a floating-point value
  std::string location;   // assembler operand: "%edi", "-20(%rbp)", "$5"
};

struct UsdtProbe {
  std::string provider;
  std::string name;
  uint64_t pc = 0;         // link-time address of the probe's nop
  uint64_t base = 0;       // link-time address of .stapsdt.base, as the note recorded it
  uint64_t semaphore = 0;  // link-time address of the semaphore, 0 if the probe has none
  // Address of .stapsdt.base in this file (0 if absent). Differs from `base` when prelink
  // moved the file, because prelink does not rewrite the (non-allocated) notes.
  uint64_t base_section = 0;
  std::string args;  // raw argument string: "-4@%edi 8@%rsi"
  std::vector<UsdtArg> parsed_args;
};

// Every USDT probe of the file, in note order (a probe inlined at several sites appears
// once per site). A file without notes has none; an unreadable file or note is an error.
Result<std::vector<UsdtProbe>> read_usdt_probes(const std::string& elf_path);

// Splits an argument string ("-4@%edi 8@%rsi") into its arguments.
std::vector<UsdtArg> parse_usdt_args(const std::string& args);

// The probe's addresses corrected for prelink, per the SDT spec: both move by
// (address of .stapsdt.base in the file - base recorded in the note).
uint64_t usdt_probe_address(const UsdtProbe& probe);
uint64_t usdt_semaphore_address(const UsdtProbe& probe);  // 0 if none

// Offsets in the file, as uprobes want them: the probe's nop, and the semaphore the kernel
// increments while the probe is attached (uprobe ref_ctr_offset; 0 if none).
struct UsdtFileOffsets {
  uint64_t probe = 0;
  uint64_t semaphore = 0;
};
// `elf` must be the file the probe was read from.
Result<UsdtFileOffsets> usdt_file_offsets(const ElfFile& elf, const UsdtProbe& probe);

}  // namespace probe
