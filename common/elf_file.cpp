#include "common/elf_file.h"

#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>

#include "common/elf_handle.h"
#include "common/strings.h"

namespace probe {

struct ElfFile::Impl {
  std::string path;
  ElfHandle file;  // open for read_bytes
  std::vector<ElfSymbol> functions;
  std::vector<GElf_Phdr> loads;
  std::set<std::string> sections;
  std::string build_id;
  uint16_t type = 0;
};

namespace {

// Version names from .gnu.version_d, indexed by version index.
std::map<uint16_t, std::string> read_version_definitions(Elf* elf, Elf_Scn* verdef_scn,
                                                         size_t strtab) {
  std::map<uint16_t, std::string> names;
  if (!verdef_scn) return names;
  Elf_Data* data = elf_getdata(verdef_scn, nullptr);
  if (!data) return names;
  size_t off = 0;
  while (off < data->d_size) {
    GElf_Verdef def;
    if (!gelf_getverdef(data, off, &def)) break;
    GElf_Verdaux aux;
    if (def.vd_cnt > 0 && gelf_getverdaux(data, off + def.vd_aux, &aux)) {
      const char* n = elf_strptr(elf, strtab, aux.vda_name);
      if (n && !(def.vd_flags & VER_FLG_BASE)) names[def.vd_ndx] = n;
    }
    if (def.vd_next == 0) break;
    off += def.vd_next;
  }
  return names;
}

void read_symbols(Elf* elf, Elf_Scn* scn, const GElf_Shdr& shdr, bool dynamic,
                  Elf_Scn* versym_scn, const std::map<uint16_t, std::string>& versions,
                  std::vector<ElfSymbol>* out) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (!data || shdr.sh_entsize == 0) return;
  Elf_Data* versym = versym_scn ? elf_getdata(versym_scn, nullptr) : nullptr;
  size_t count = shdr.sh_size / shdr.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Sym sym;
    if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
      continue;
    if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
    const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
    if (!name || !*name) continue;
    ElfSymbol s;
    s.name = name;
    s.address = sym.st_value;
    s.size = sym.st_size;
    s.dynamic = dynamic;
    if (versym) {
      GElf_Versym vs;
      if (gelf_getversym(versym, static_cast<int>(i), &vs)) {
        auto it = versions.find(vs & 0x7fff);
        if (it != versions.end()) {
          s.version = it->second;
          s.default_version = (vs & 0x8000) == 0;
        }
      }
    }
    // .symtab entries may spell versions inline ("foo@@V1").
    auto at = s.name.find('@');
    if (at != std::string::npos) {
      s.default_version = s.name.compare(at, 2, "@@") == 0;
      s.version = s.name.substr(at + (s.default_version ? 2 : 1));
      s.name.resize(at);
    }
    out->push_back(std::move(s));
  }
}

}  // namespace

ElfFile::ElfFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ElfFile::ElfFile(ElfFile&&) noexcept = default;
ElfFile& ElfFile::operator=(ElfFile&&) noexcept = default;
ElfFile::~ElfFile() = default;

Result<ElfFile> ElfFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  PROBE_TRY(open_elf(path, &impl->file));
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(impl->file.elf, &ehdr)) return make_error("'{}': bad ELF header", path);
  impl->type = ehdr.e_type;

  size_t phnum = 0;
  elf_getphdrnum(impl->file.elf, &phnum);
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(impl->file.elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
      impl->loads.push_back(ph);
  }

  size_t shstrndx = 0;
  elf_getshdrstrndx(impl->file.elf, &shstrndx);
  Elf_Scn* versym = nullptr;
  Elf_Scn* verdef = nullptr;
  size_t verdef_strtab = 0;
  std::vector<std::pair<Elf_Scn*, GElf_Shdr>> symtabs;
  for (Elf_Scn* scn = elf_nextscn(impl->file.elf, nullptr); scn; scn = elf_nextscn(impl->file.elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* sname = elf_strptr(impl->file.elf, shstrndx, sh.sh_name);
    if (sname) impl->sections.insert(sname);
    if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) symtabs.emplace_back(scn, sh);
    if (sh.sh_type == SHT_GNU_versym) versym = scn;
    if (sh.sh_type == SHT_GNU_verdef) {
      verdef = scn;
      verdef_strtab = sh.sh_link;
    }
    if (sh.sh_type == SHT_NOTE) {
      Elf_Data* data = elf_getdata(scn, nullptr);
      size_t off = 0, name_off = 0, desc_off = 0;
      GElf_Nhdr nh;
      while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            std::memcmp(static_cast<char*>(data->d_buf) + name_off, "GNU", 4) == 0) {
          const auto* d = static_cast<const unsigned char*>(data->d_buf) + desc_off;
          for (size_t k = 0; k < nh.n_descsz; ++k) impl->build_id += fmt::format("{:02x}", d[k]);
        }
      }
    }
  }
  auto versions = read_version_definitions(impl->file.elf, verdef, verdef_strtab);
  // .dynsym first: of a (name, address) pair in both tables, the exported copy (which has
  // its version) is the one kept.
  std::stable_partition(symtabs.begin(), symtabs.end(),
                        [](const auto& t) { return t.second.sh_type == SHT_DYNSYM; });
  std::vector<ElfSymbol> all;
  for (auto& [scn, sh] : symtabs) {
    bool dynamic = sh.sh_type == SHT_DYNSYM;
    read_symbols(impl->file.elf, scn, sh, dynamic, dynamic ? versym : nullptr, versions, &all);
  }
  // One entry per (name, address), in table order. Hashing rather than sorting: executables
  // such as node carry 100k+ function symbols, and every `probec check` opens them.
  struct Key {
    uint64_t address;
    std::string_view name;
    bool operator==(const Key& o) const { return address == o.address && name == o.name; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<std::string_view>()(k.name) ^ (k.address * 0x9e3779b97f4a7c15ull); }
  };
  std::unordered_set<Key, KeyHash> seen;
  seen.reserve(all.size());
  std::vector<bool> keep(all.size());
  for (size_t i = 0; i < all.size(); ++i) keep[i] = seen.insert({all[i].address, all[i].name}).second;
  seen.clear();
  impl->functions.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    if (keep[i]) impl->functions.push_back(std::move(all[i]));
  return ElfFile(std::move(impl));
}

const std::string& ElfFile::path() const { return impl_->path; }
const std::vector<ElfSymbol>& ElfFile::functions() const { return impl_->functions; }
std::string ElfFile::build_id() const { return impl_->build_id; }
bool ElfFile::is_shared_object() const { return impl_->type == ET_DYN; }
bool ElfFile::has_section(const std::string& name) const { return impl_->sections.count(name); }

std::optional<ElfSymbol> ElfFile::find_function(const std::string& spec) const {
  std::string name = spec, version;
  bool want_default = false;
  if (auto at = spec.find('@'); at != std::string::npos) {
    name = spec.substr(0, at);
    want_default = spec.compare(at, 2, "@@") == 0;
    version = spec.substr(at + (want_default ? 2 : 1));
  }
  const ElfSymbol* best = nullptr;
  for (const auto& s : impl_->functions) {
    if (s.name != name) continue;
    if (!version.empty() && s.version != version) continue;
    if (want_default && !s.default_version) continue;
    // Without a version, the default ('@@') definition is what the dynamic linker binds.
    if (!best || (s.default_version && !best->default_version) || (s.dynamic && !best->dynamic))
      best = &s;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::vector<ElfSymbol> ElfFile::match_functions(const std::string& glob) const {
  std::map<uint64_t, ElfSymbol> by_address;
  for (const auto& s : impl_->functions) {
    if (s.address == 0 || !glob_match(glob, s.name)) continue;
    auto [it, added] = by_address.emplace(s.address, s);
    // Prefer the exported name of an alias for logs.
    if (!added && s.dynamic && !it->second.dynamic) it->second = s;
  }
  std::vector<ElfSymbol> out;
  out.reserve(by_address.size());
  for (auto& [addr, s] : by_address) out.push_back(std::move(s));
  return out;
}

std::vector<std::string> ElfFile::nearest_functions(const std::string& name, size_t max) const {
  std::vector<std::string> names;
  names.reserve(impl_->functions.size());
  for (const auto& s : impl_->functions) names.push_back(s.name);
  return closest_matches(name, names, max);
}

Result<uint64_t> ElfFile::file_offset(uint64_t address) const {
  for (const auto& ph : impl_->loads) {
    if (address >= ph.p_vaddr && address < ph.p_vaddr + ph.p_memsz)
      return address - ph.p_vaddr + ph.p_offset;
  }
  return make_error("address 0x{:x} is not in a loadable segment of '{}'", address, impl_->path);
}

std::string ElfFile::read_bytes(uint64_t offset, uint64_t size) const {
  std::string out(size, '\0');
  ssize_t n = pread(impl_->file.fd, out.data(), size, static_cast<off_t>(offset));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

Result<std::set<std::string>> defined_functions(const std::string& path, const std::set<std::string>& names) {
  ElfHandle h;
  PROBE_TRY(open_elf(path, &h));
  Elf* elf = h.elf;
  std::set<std::string> found;
  std::unordered_set<std::string_view> wanted(names.begin(), names.end());
  size_t longest = 0;
  bool first_chars[256] = {};
  for (const auto& n : names) {
    longest = std::max(longest, n.size());
    if (!n.empty()) first_chars[static_cast<unsigned char>(n[0])] = true;
  }
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn && found.size() < names.size(); scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || sh.sh_entsize == 0)
      continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    size_t count = data ? sh.sh_size / sh.sh_entsize : 0;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
      int type = GELF_ST_TYPE(sym.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
      const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
      if (!name || !first_chars[static_cast<unsigned char>(name[0])]) continue;
      // Long mangled names are never measured past the longest wanted one.
      std::string_view n(name, strnlen(name, longest + 1));
      n = n.substr(0, n.find('@'));  // .symtab may spell versions inline
      if (n.size() > longest) continue;
      if (wanted.count(n) && found.insert(std::string(n)).second && found.size() == names.size()) break;
    }
  }
  return found;
}

}  // namespace probe
