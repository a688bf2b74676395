#include "common/elf_sections.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/elf_handle.h"
#include "common/elf_file.h"

namespace probe {

Result<std::vector<ElfSection>> read_elf_sections(const ElfFile& file) {
  ElfHandle h;
  PROBE_TRY(open_elf(file.path(), &h));
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(h.elf, &shstrndx) != 0) return std::vector<ElfSection>{};
  std::vector<ElfSection> out;
  for (Elf_Scn* scn = elf_nextscn(h.elf, nullptr); scn; scn = elf_nextscn(h.elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(h.elf, shstrndx, sh.sh_name);
    ElfSection s;
    s.name = name ? name : "";
    s.address = sh.sh_addr;
    s.offset = sh.sh_offset;
    s.size = sh.sh_size;
    s.executable = (sh.sh_flags & SHF_EXECINSTR) != 0;
    s.has_file_bytes = sh.sh_type != SHT_NOBITS;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<ElfSection> find_section(const std::vector<ElfSection>& sections,
                                       const std::string& name) {
  for (const auto& s : sections)
    if (s.name == name) return s;
  return std::nullopt;
}

Result<std::string> read_section_bytes(const ElfFile& elf, const ElfSection& section) {
  if (!section.has_file_bytes) return std::string();
  std::string bytes = elf.read_bytes(section.offset, section.size);
  if (bytes.size() != section.size)
    return make_error("'{}': section {} is truncated ({} of {} bytes)", elf.path(), section.name,
                      bytes.size(), section.size);
  return bytes;
}

}  // namespace probe
