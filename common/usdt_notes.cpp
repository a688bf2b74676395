#include "common/usdt_notes.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/elf_handle.h"
#include "common/elf_file.h"

namespace probe {
namespace {

constexpr char kNoteSection[] = ".note.stapsdt";
constexpr char kBaseSection[] = ".stapsdt.base";
constexpr char kNoteOwner[] = "stapsdt";
constexpr uint32_t kNoteType = 3;  // SDT v3, what <sys/sdt.h> emits (v1/v2 used other sections)

// Note descriptors are raw bytes in the file's byte order; libelf translates only headers.
uint64_t read_address(const unsigned char* p, size_t size, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    size_t byte = big_endian ? i : size - 1 - i;
    v = (v << 8) | p[byte];
  }
  return v;
}

struct NoteLayout {
  size_t address_size = 8;
  bool big_endian = false;
};

// Decodes one note's descriptor: three addresses, then provider, name and args, each
// NUL-terminated.
Result<UsdtProbe> decode_note(const unsigned char* desc, size_t size, const NoteLayout& layout,
                              const std::string& path) {
  const size_t addresses = 3 * layout.address_size;
  if (size < addresses) return make_error("'{}': truncated USDT note", path);
  UsdtProbe probe;
  probe.pc = read_address(desc, layout.address_size, layout.big_endian);
  probe.base = read_address(desc + layout.address_size, layout.address_size, layout.big_endian);
  probe.semaphore =
      read_address(desc + 2 * layout.address_size, layout.address_size, layout.big_endian);
  const char* text = reinterpret_cast<const char*>(desc) + addresses;
  const char* end = reinterpret_cast<const char*>(desc) + size;
  for (std::string* field : {&probe.provider, &probe.name}) {
    const char* nul = static_cast<const char*>(std::memchr(text, '\0', end - text));
    if (!nul) return make_error("'{}': USDT note without a provider or name", path);
    field->assign(text, nul);
    text = nul + 1;
  }
  // The argument string is the rest, NUL-terminated by <sys/sdt.h>; tolerate a missing NUL.
  const char* args_end = static_cast<const char*>(std::memchr(text, '\0', end - text));
  probe.args.assign(text, args_end ? args_end : end);
  if (probe.provider.empty() || probe.name.empty())
    return make_error("'{}': USDT note at 0x{:x} has an empty provider or name", path, probe.pc);
  probe.parsed_args = parse_usdt_args(probe.args);
  return probe;
}

Status read_note_section(Elf_Scn* scn, const NoteLayout& layout, const std::string& path,
                         std::vector<UsdtProbe>* out) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data) return {};
  const auto* bytes = static_cast<const unsigned char*>(data->d_buf);
  size_t off = 0, name_off = 0, desc_off = 0;
  GElf_Nhdr nh;
  while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
    if (nh.n_type != kNoteType || nh.n_namesz != sizeof kNoteOwner ||
        std::memcmp(bytes + name_off, kNoteOwner, sizeof kNoteOwner) != 0)
      continue;
    PROBE_ASSIGN_OR_RETURN(UsdtProbe probe, decode_note(bytes + desc_off, nh.n_descsz, layout, path));
    out->push_back(std::move(probe));
  }
  return {};
}

// "-4", "8f": sign, byte count, optional 'f' for floating point.
bool parse_size_prefix(std::string_view text, UsdtArg* arg) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (!text.empty() && text.back() == 'f') {
    arg->floating = true;
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 2) return false;
  int bytes = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    bytes = bytes * 10 + (c - '0');
  }
  arg->size = negative ? -bytes : bytes;
  return true;
}

// Arguments are separated by spaces, but an operand may contain one inside brackets
// (aarch64: "-4@[sp, 96]").
std::vector<std::string> split_arguments(const std::string& args) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  for (char c : args) {
    if (c == '[' || c == '(') ++depth;
    if ((c == ']' || c == ')') && depth > 0) --depth;
    if (std::isspace(static_cast<unsigned char>(c)) && depth == 0) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

std::vector<UsdtArg> parse_usdt_args(const std::string& args) {
  std::vector<UsdtArg> out;
  for (const std::string& token : split_arguments(args)) {
    UsdtArg arg;
    auto at = token.find('@');
    // Before "N@" sizes existed (SDT v1/v2) an argument was only its operand.
    if (at == std::string::npos || !parse_size_prefix(std::string_view(token).substr(0, at), &arg)) {
      arg = UsdtArg{};
      arg.location = token;
    } else {
      arg.location = token.substr(at + 1);
    }
    out.push_back(std::move(arg));
  }
  return out;
}

Result<std::vector<UsdtProbe>> read_usdt_probes(const std::string& elf_path) {
  ElfHandle h;
  PROBE_TRY(open_elf(elf_path, &h));
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(h.elf, &ehdr)) return make_error("'{}': bad ELF header", elf_path);
  NoteLayout layout;
  layout.address_size = gelf_getclass(h.elf) == ELFCLASS32 ? 4 : 8;
  layout.big_endian = ehdr.e_ident[EI_DATA] == ELFDATA2MSB;

  size_t shstrndx = 0;
  if (elf_getshdrstrndx(h.elf, &shstrndx) != 0)
    return make_error("'{}': no section name table", elf_path);
  std::vector<Elf_Scn*> note_sections;
  uint64_t base_section = 0;
  for (Elf_Scn* scn = elf_nextscn(h.elf, nullptr); scn; scn = elf_nextscn(h.elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(h.elf, shstrndx, sh.sh_name);
    if (!name) continue;
    if (sh.sh_type == SHT_NOTE && std::strcmp(name, kNoteSection) == 0) note_sections.push_back(scn);
    if (std::strcmp(name, kBaseSection) == 0) base_section = sh.sh_addr;
  }

  std::vector<UsdtProbe> probes;
  for (Elf_Scn* scn : note_sections) PROBE_TRY(read_note_section(scn, layout, elf_path, &probes));
  for (auto& p : probes) p.base_section = base_section;
  return probes;
}

uint64_t usdt_probe_address(const UsdtProbe& probe) {
  // Unsigned wrap-around makes this right whichever way prelink moved the file.
  return probe.base_section ? probe.pc + (probe.base_section - probe.base) : probe.pc;
}

uint64_t usdt_semaphore_address(const UsdtProbe& probe) {
  if (!probe.semaphore) return 0;
  return probe.base_section ? probe.semaphore + (probe.base_section - probe.base) : probe.semaphore;
}

Result<UsdtFileOffsets> usdt_file_offsets(const ElfFile& elf, const UsdtProbe& probe) {
  UsdtFileOffsets out;
  PROBE_ASSIGN_OR_RETURN(out.probe, elf.file_offset(usdt_probe_address(probe)));
  if (probe.semaphore) {
    PROBE_ASSIGN_OR_RETURN(out.semaphore, elf.file_offset(usdt_semaphore_address(probe)));
  }
  return out;
}

}  // namespace probe
