// The start address of every function that has unwind information, read from the sorted
// search table of .eh_frame_hdr. Compilers emit an FDE for every function, exported or not,
// so these are instruction boundaries even in a stripped library whose symbol table names
// only its exports: the branch sweep restarts at them (common/branch_index.h).
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;

// Ascending, without duplicates. Empty when the file has no .eh_frame_hdr or its table uses an
// encoding other than the one linkers write (DW_EH_PE_datarel | DW_EH_PE_sdata4): the starts
// only help the sweep, they are never required. An error only for a table that runs past its
// section.
Result<std::vector<uint64_t>> eh_frame_function_starts(const ElfFile& elf);

}  // namespace probe
