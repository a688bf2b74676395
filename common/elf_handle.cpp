#include "common/elf_handle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace probe {

ElfHandle::~ElfHandle() {
  if (elf) elf_end(elf);
  if (fd >= 0) close(fd);
}

Status open_elf(const std::string& path, ElfHandle* h) {
  if (elf_version(EV_CURRENT) == EV_NONE) return make_error("libelf initialisation failed");
  h->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (h->fd < 0) return make_error("cannot open '{}': {}", path, std::strerror(errno));
  h->elf = elf_begin(h->fd, ELF_C_READ_MMAP, nullptr);
  if (!h->elf || elf_kind(h->elf) != ELF_K_ELF) return make_error("'{}' is not an ELF file", path);
  return {};
}

}  // namespace probe
