#include "common/go_binary.h"

#include <algorithm>

#include "common/elf_file.h"
#include "common/elf_sections.h"

namespace probe {
namespace {

constexpr uint32_t kMagic12 = 0xfffffffb;
constexpr uint32_t kMagic116 = 0xfffffffa;
constexpr uint32_t kMagic118 = 0xfffffff0;
constexpr uint32_t kMagic120 = 0xfffffff1;
constexpr std::string_view kBuildInfoMagic("\xff Go buildinf:", 14);

// Little-endian reads with bounds checks: a corrupt table is an error, never a crash.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool has(uint64_t off, uint64_t n) const { return off <= data_.size() && n <= data_.size() - off; }
  uint64_t uint(uint64_t off, int size) const {
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data_[off + i]);
    return v;
  }
  std::optional<std::string> cstring(uint64_t off) const {
    if (off >= data_.size()) return std::nullopt;
    auto nul = data_.find('\0', off);
    if (nul == std::string_view::npos) return std::nullopt;
    return std::string(data_.substr(off, nul - off));
  }
  size_t size() const { return data_.size(); }

 private:
  std::string_view data_;
};

struct Header {
  PclntabFormat format;
  int ptr = 8;
  uint64_t nfunc = 0;
  uint64_t text_start = 0;
  uint64_t funcname_offset = 0;  // 1.16+: start of the function-name table
  uint64_t funcdata_offset = 0;  // where functab and the _func records live
};

Result<Header> read_header(const Reader& r, uint64_t text_address) {
  if (!r.has(0, 8)) return make_error(".gopclntab is too short");
  Header h;
  switch (r.uint(0, 4)) {
    case kMagic12: h.format = PclntabFormat::kGo12; break;
    case kMagic116: h.format = PclntabFormat::kGo116; break;
    case kMagic118: h.format = PclntabFormat::kGo118; break;
    case kMagic120: h.format = PclntabFormat::kGo120; break;
    default: return make_error(".gopclntab has an unknown magic 0x{:08x}", r.uint(0, 4));
  }
  uint64_t quantum = r.uint(6, 1);
  h.ptr = static_cast<int>(r.uint(7, 1));
  if (r.uint(4, 2) != 0 || (quantum != 1 && quantum != 2 && quantum != 4) || (h.ptr != 4 && h.ptr != 8))
    return make_error(".gopclntab header is malformed");
  auto word = [&](int i) { return r.uint(8 + static_cast<uint64_t>(i) * h.ptr, h.ptr); };
  int words = h.format == PclntabFormat::kGo12 ? 1 : h.format == PclntabFormat::kGo116 ? 7 : 8;
  if (!r.has(8, static_cast<uint64_t>(words) * h.ptr)) return make_error(".gopclntab header is truncated");
  h.nfunc = word(0);
  switch (h.format) {
    case PclntabFormat::kGo12:
      h.funcdata_offset = 0;  // functab follows the header; _func offsets are from the start
      break;
    case PclntabFormat::kGo116:
      h.funcname_offset = word(2);
      h.funcdata_offset = word(6);
      break;
    case PclntabFormat::kGo118:
    case PclntabFormat::kGo120:
      h.text_start = word(2) ? word(2) : text_address;
      h.funcname_offset = word(3);
      h.funcdata_offset = word(7);
      break;
  }
  if (h.nfunc == 0 || h.nfunc > r.size()) return make_error(".gopclntab has an implausible function count {}", h.nfunc);
  return h;
}

Result<std::vector<GoFunction>> read_functions(const Reader& r, const Header& h) {
  const bool compact = h.format == PclntabFormat::kGo118 || h.format == PclntabFormat::kGo120;
  const uint64_t field = compact ? 4 : static_cast<uint64_t>(h.ptr);  // functab field size
  const uint64_t functab = h.format == PclntabFormat::kGo12 ? 8 + static_cast<uint64_t>(h.ptr)
                                                            : h.funcdata_offset;
  if (!r.has(functab, (2 * h.nfunc + 1) * field)) return make_error(".gopclntab functab is truncated");
  auto entry_at = [&](uint64_t i) {
    uint64_t v = r.uint(functab + 2 * i * field, static_cast<int>(field));
    return compact ? h.text_start + v : v;
  };
  std::vector<GoFunction> out;
  out.reserve(h.nfunc);
  for (uint64_t i = 0; i < h.nfunc; ++i) {
    uint64_t funcoff = r.uint(functab + (2 * i + 1) * field, static_cast<int>(field));
    // _func: entry (uint32 offset in 1.18+, a pointer before), then nameOff (int32).
    uint64_t rec = h.funcdata_offset + funcoff;
    uint64_t name_field = rec + (compact ? 4 : static_cast<uint64_t>(h.ptr));
    if (!r.has(name_field, 4)) return make_error(".gopclntab _func record {} is out of bounds", i);
    uint64_t name_off = r.uint(name_field, 4);
    uint64_t name_base = h.format == PclntabFormat::kGo12 ? 0 : h.funcname_offset;
    auto name = r.cstring(name_base + name_off);
    if (!name) return make_error(".gopclntab name of function {} is out of bounds", i);
    GoFunction f;
    f.name = std::move(*name);
    f.entry = entry_at(i);
    f.end = entry_at(i + 1);
    if (f.end < f.entry) return make_error(".gopclntab functab is not sorted at {}", f.name);
    out.push_back(std::move(f));
  }
  return out;
}

// Go's buildinfo strings are a uvarint length and the bytes.
std::optional<std::string> read_varint_string(std::string_view data, size_t* at) {
  uint64_t len = 0;
  for (int shift = 0; *at < data.size() && shift < 64; shift += 7) {
    auto b = static_cast<uint8_t>(data[(*at)++]);
    len |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      if (len > data.size() - *at) return std::nullopt;
      std::string s(data.substr(*at, len));
      *at += len;
      return s;
    }
  }
  return std::nullopt;
}

// Before Go 1.18, buildinfo points at the runtime.buildVersion string header (ptr, len).
Result<std::string> read_pointed_string(const ElfFile& elf, uint64_t header_address, int ptr) {
  PROBE_ASSIGN_OR_RETURN(uint64_t hdr_off, elf.file_offset(header_address));
  std::string hdr = elf.read_bytes(hdr_off, 2 * static_cast<uint64_t>(ptr));
  if (hdr.size() != 2 * static_cast<size_t>(ptr)) return make_error("buildinfo string header is truncated");
  Reader r(hdr);
  uint64_t data_address = r.uint(0, ptr), len = r.uint(ptr, ptr);
  if (len > 4096) return make_error("buildinfo version string is implausibly long");
  PROBE_ASSIGN_OR_RETURN(uint64_t data_off, elf.file_offset(data_address));
  std::string s = elf.read_bytes(data_off, len);
  if (s.size() != len) return make_error("buildinfo version string is truncated");
  return s;
}

}  // namespace

const char* pclntab_format_name(PclntabFormat f) {
  switch (f) {
    case PclntabFormat::kGo12: return "go1.2-1.15";
    case PclntabFormat::kGo116: return "go1.16-1.17";
    case PclntabFormat::kGo118: return "go1.18-1.19";
    case PclntabFormat::kGo120: return "go1.20+";
  }
  return "?";
}

Result<Pclntab> parse_gopclntab(std::string_view data, uint64_t text_address) {
  Reader r(data);
  PROBE_ASSIGN_OR_RETURN(Header h, read_header(r, text_address));
  PROBE_ASSIGN_OR_RETURN(auto functions, read_functions(r, h));
  Pclntab t;
  t.format = h.format;
  t.pointer_size = h.ptr;
  t.text_start = h.text_start;
  t.functions = std::move(functions);
  return t;
}

Result<std::string> read_go_version(const ElfFile& elf) {
  PROBE_ASSIGN_OR_RETURN(auto sections, read_elf_sections(elf));
  auto sec = find_section(sections, ".go.buildinfo");
  if (!sec) return make_error("{} has no .go.buildinfo section", elf.path());
  PROBE_ASSIGN_OR_RETURN(std::string data, read_section_bytes(elf, *sec));
  if (data.size() < 32 || data.compare(0, kBuildInfoMagic.size(), kBuildInfoMagic) != 0)
    return make_error("{}: .go.buildinfo does not start with the Go buildinfo magic", elf.path());
  int ptr = static_cast<uint8_t>(data[14]);
  auto flags = static_cast<uint8_t>(data[15]);
  if (flags & 0x2) {  // Go 1.18+: the strings follow the header
    size_t at = 32;
    auto version = read_varint_string(data, &at);
    if (!version) return make_error("{}: .go.buildinfo version string is malformed", elf.path());
    return *version;
  }
  if (flags & 0x1) return make_error("{}: big-endian Go buildinfo is not supported", elf.path());
  if (ptr != 4 && ptr != 8) return make_error("{}: .go.buildinfo pointer size {}", elf.path(), ptr);
  return read_pointed_string(elf, Reader(data).uint(16, ptr), ptr);
}

bool GoBinary::is_go(const ElfFile& elf) {
  return elf.has_section(".go.buildinfo") || elf.has_section(".gopclntab") ||
         elf.find_function("runtime.main").has_value();
}

Result<GoBinary> GoBinary::open(const ElfFile& elf) {
  if (!is_go(elf)) return make_error("{} is not a Go binary (no .go.buildinfo or .gopclntab)", elf.path());
  PROBE_ASSIGN_OR_RETURN(auto sections, read_elf_sections(elf));
  auto pcln = find_section(sections, ".gopclntab");
  if (!pcln) return make_error("{} is a Go binary without a .gopclntab section", elf.path());
  PROBE_ASSIGN_OR_RETURN(std::string data, read_section_bytes(elf, *pcln));
  auto text = find_section(sections, ".text");
  auto table = parse_gopclntab(data, text ? text->address : 0);
  if (!table) return make_error("{}: {}", elf.path(), table.error().message);
  GoBinary go;
  go.table_ = std::move(*table);
  if (auto v = read_go_version(elf)) go.version_ = *v;
  return go;
}

std::optional<GoFunction> GoBinary::find_function(std::string_view name) const {
  for (const auto& f : table_.functions)
    if (f.name == name) return f;
  return std::nullopt;
}

}  // namespace probe
