#include "common/elf_sections.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/elf_file.h"

namespace probe {
namespace {

// Closes what libelf opened, whichever way the reader returns.
struct ElfHandle {
  int fd = -1;
  Elf* elf = nullptr;
  ~ElfHandle() {
    if (elf) elf_end(elf);
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Result<std::vector<ElfSection>> read_elf_sections(const ElfFile& file) {
  if (elf_version(EV_CURRENT) == EV_NONE) return make_error("libelf initialisation failed");
  ElfHandle h;
  h.fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (h.fd < 0) return make_error("cannot open '{}': {}", file.path(), std::strerror(errno));
  h.elf = elf_begin(h.fd, ELF_C_READ_MMAP, nullptr);
  if (!h.elf || elf_kind(h.elf) != ELF_K_ELF)
    return make_error("'{}' is not an ELF file", file.path());
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
