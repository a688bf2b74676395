#include "common/eh_frame_starts.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/elf_file.h"
#include "common/elf_sections.h"

namespace probe {
namespace {

// DWARF pointer encodings (LSB "Exception Frame Header" / DWARF 3 §7.7.1, as used by GNU).
constexpr uint8_t kOmit = 0xff;
constexpr uint8_t kFormatMask = 0x0f;
constexpr uint8_t kApplicationMask = 0x70;
constexpr uint8_t kAbsptr = 0x00, kUdata4 = 0x03, kUdata8 = 0x04, kSdata4 = 0x0b, kSdata8 = 0x0c;
constexpr uint8_t kPcrel = 0x10, kDatarel = 0x30;
constexpr uint8_t kTableEncoding = kDatarel | kSdata4;

class Reader {
 public:
  Reader(const std::string& bytes, uint64_t address) : bytes_(bytes), address_(address) {}
  size_t position() const { return pos_; }

  std::optional<uint8_t> u8() {
    if (pos_ + 1 > bytes_.size()) return std::nullopt;
    return static_cast<uint8_t>(bytes_[pos_++]);
  }

  // A value in `encoding`; pc-relative ones are relative to where the value is stored and
  // data-relative ones to the start of .eh_frame_hdr.
  std::optional<uint64_t> encoded(uint8_t encoding) {
    uint64_t at = address_ + pos_;
    std::optional<uint64_t> raw;
    switch (encoding & kFormatMask) {
      case kAbsptr:
      case kUdata8:
      case kSdata8: raw = fixed<uint64_t>(); break;
      case kUdata4: raw = fixed<uint32_t>(); break;
      case kSdata4:
        if (auto v = fixed<uint32_t>()) raw = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(*v)));
        break;
      default: return std::nullopt;
    }
    if (!raw) return std::nullopt;
    switch (encoding & kApplicationMask) {
      case 0: return *raw;
      case kPcrel: return at + *raw;
      case kDatarel: return address_ + *raw;
      default: return std::nullopt;
    }
  }

 private:
  template <typename T>
  std::optional<uint64_t> fixed() {
    if (pos_ + sizeof(T) > bytes_.size()) return std::nullopt;
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

  const std::string& bytes_;
  uint64_t address_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<uint64_t>> eh_frame_function_starts(const ElfFile& elf) {
  PROBE_ASSIGN_OR_RETURN(auto sections, read_elf_sections(elf));
  auto hdr = find_section(sections, ".eh_frame_hdr");
  if (!hdr || hdr->address == 0) return std::vector<uint64_t>{};
  PROBE_ASSIGN_OR_RETURN(std::string bytes, read_section_bytes(elf, *hdr));

  Reader r(bytes, hdr->address);
  auto version = r.u8(), frame_enc = r.u8(), count_enc = r.u8(), table_enc = r.u8();
  if (!table_enc || *version != 1 || *count_enc == kOmit || *table_enc != kTableEncoding)
    return std::vector<uint64_t>{};
  if (*frame_enc != kOmit && !r.encoded(*frame_enc)) return std::vector<uint64_t>{};
  auto count = r.encoded(*count_enc);
  if (!count) return std::vector<uint64_t>{};
  // Each entry: the function's start, then its FDE's address, both 4 bytes.
  if (*count > (bytes.size() - r.position()) / 8)
    return make_error("'{}': .eh_frame_hdr lists {} functions but holds room for {}", elf.path(), *count,
                      (bytes.size() - r.position()) / 8);
  std::vector<uint64_t> starts;
  starts.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    auto start = r.encoded(*table_enc);
    r.encoded(*table_enc);  // the FDE itself: not needed
    starts.push_back(*start);
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  return starts;
}

}  // namespace probe
