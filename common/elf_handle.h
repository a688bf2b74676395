// A libelf view of a file, closed (elf_end, close) whichever way the reader returns. For
// readers that walk one table of a file without building ElfFile's symbol list.
#pragma once

#include <libelf.h>

#include <string>

#include "common/result.h"

namespace probe {

struct ElfHandle {
  int fd = -1;
  Elf* elf = nullptr;
  ElfHandle() = default;
  ElfHandle(const ElfHandle&) = delete;
  ElfHandle& operator=(const ElfHandle&) = delete;
  ~ElfHandle();
};

// Opens `path` read-only and checks that it is an ELF file.
Status open_elf(const std::string& path, ElfHandle* h);

}  // namespace probe
