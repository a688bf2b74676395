#include "common/branch_index.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>

#include "common/eh_frame_starts.h"
#include "common/elf_file.h"
#include "common/elf_sections.h"
#include "common/x86_disasm.h"

namespace probe {
namespace {

// A detail-free Capstone handle: lengths and ids are all the sweep needs, at twice the speed.
struct FastDecoder {
  csh handle = 0;
  ~FastDecoder() {
    if (handle) cs_close(&handle);
  }
};

// Length of an instruction Capstone 4 does not know, for the encodings where that happens in
// real code: VEX/EVEX (AVX-512 mask moves in glibc, some AVX2 in Go's assembly) and 0f 01
// register forms (rdpkru). None of these is a branch, so the sweep only needs the length to
// stay in step. 0 if `p` is none of them.
size_t unknown_instruction_length(const uint8_t* p, size_t left) {
  size_t i = 0;
  while (i < left && (p[i] == 0x26 || p[i] == 0x2e || p[i] == 0x36 || p[i] == 0x3e ||
                      p[i] == 0x64 || p[i] == 0x65 || p[i] == 0x67))
    ++i;
  if (i >= left) return 0;
  unsigned map = 0;
  // 0f 01 with a register ModRM (rdpkru, wrpkru, xgetbv, ...): three bytes, no operands.
  if (p[i] == 0x0f && i + 2 < left && p[i + 1] == 0x01 && (p[i + 2] >> 6) == 3) return i + 3;
  if (p[i] == 0xc5) {  // 2-byte VEX: map 0f
    map = 1;
    i += 2;
  } else if (p[i] == 0xc4) {  // 3-byte VEX: map in the low 5 bits
    if (i + 1 >= left) return 0;
    map = p[i + 1] & 0x1f;
    i += 3;
  } else if (p[i] == 0x62) {  // EVEX: map in the low 3 bits of P0
    if (i + 1 >= left) return 0;
    map = p[i + 1] & 0x07;
    i += 4;
  } else {
    return 0;
  }
  if (map < 1 || map > 6 || map == 4 || i >= left) return 0;
  uint8_t opcode = p[i++];
  if (map == 1 && opcode == 0x77) return i;  // vzeroupper / vzeroall: no ModRM
  if (i >= left) return 0;
  uint8_t modrm = p[i++];
  unsigned mod = modrm >> 6, rm = modrm & 7;
  if (mod != 3 && rm == 4) {
    if (i >= left) return 0;
    uint8_t sib = p[i++];
    if (mod == 0 && (sib & 7) == 5) i += 4;
  }
  if (mod == 0 && rm == 5) i += 4;
  else if (mod == 1) i += 1;
  else if (mod == 2) i += 4;
  bool imm8 = map == 3 || (map == 1 && ((opcode >= 0x70 && opcode <= 0x73) || opcode == 0xc2 ||
                                        opcode == 0xc4 || opcode == 0xc5 || opcode == 0xc6));
  if (imm8) i += 1;
  return i <= left && i <= 15 ? i : 0;
}

BranchKind kind_of(unsigned id) {
  if (id == X86_INS_CALL) return BranchKind::kCall;
  if (id == X86_INS_JMP) return BranchKind::kJump;
  return BranchKind::kConditionalJump;
}

// The direct branch `insn` makes, if any.
std::optional<DirectBranch> branch_of(const cs_insn& insn, uint64_t at) {
  std::string_view enc(reinterpret_cast<const char*>(insn.bytes), insn.size);
  auto target = direct_branch_target(enc, at);
  if (!target) return std::nullopt;
  return DirectBranch{at, *target, kind_of(insn.id)};
}

// Function starts: instruction boundaries where a desynchronised sweep restarts.
std::set<uint64_t> sync_points_of(const ElfFile& elf) {
  std::set<uint64_t> points;
  for (const auto& f : elf.functions()) points.insert(f.address);
  // The unwind table only adds starts; a file without a usable one is swept without them.
  if (auto starts = eh_frame_function_starts(elf)) points.insert(starts->begin(), starts->end());
  return points;
}

}  // namespace

std::string branch_source(const DirectBranch& b) {
  if (b.at_every_offset)
    return fmt::format("the bytes at 0x{:x} (maybe data: the code there does not decode as one stream)", b.from);
  return fmt::format("the instruction at 0x{:x}", b.from);
}

void BranchIndex::note_undecodable(uint64_t begin, uint64_t end) {
  undecodable_bytes_ += end - begin;
  if (!undecodable_samples_.empty() && undecodable_samples_.back().end == begin) {
    undecodable_samples_.back().end = end;
    return;
  }
  if (undecodable_samples_.size() < 8) undecodable_samples_.push_back({begin, end});
}

BranchIndex BranchIndex::not_swept() {
  BranchIndex index;
  index.undecodable_bytes_ = 1;
  index.undecodable_samples_.push_back({0, 0});
  return index;
}

Result<BranchIndex> BranchIndex::build(const ElfFile& elf) {
  PROBE_ASSIGN_OR_RETURN(auto sections, read_elf_sections(elf));
  FastDecoder dec;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &dec.handle) != CS_ERR_OK) {
    dec.handle = 0;
    return make_error("capstone: cannot open an x86-64 decoder");
  }
  cs_insn* insn = cs_malloc(dec.handle);
  if (!insn) return make_error("capstone: out of memory");

  const std::set<uint64_t> sync_points = sync_points_of(elf);

  BranchIndex index;
  for (const auto& sec : sections) {
    if (!sec.executable || !sec.has_file_bytes || sec.size == 0 || sec.address == 0) continue;
    auto bytes = read_section_bytes(elf, sec);
    if (!bytes) {
      cs_free(insn, 1);
      return std::move(bytes).take_error();
    }
    index.code_sections_.push_back({sec.name, {sec.address, sec.address + sec.size}});
    index.bytes_swept_ += sec.size;
    const auto* base = reinterpret_cast<const uint8_t*>(bytes->data());
    const uint64_t end = sec.address + sec.size;
    // Decodes one instruction at `at`, bounded by `limit`; false if none decodes.
    auto decode_at = [&](uint64_t at, uint64_t limit) {
      const uint8_t* p = base + (at - sec.address);
      size_t left = limit - at;
      uint64_t addr = at;
      return cs_disasm_iter(dec.handle, &p, &left, &addr, insn);
    };
    // The linear sweep lost its footing at `pos`: decode from a little before it (an
    // instruction it read may have swallowed the start of a real one) up to the next function
    // start at every offset, or count the region as undecodable when it is too long.
    auto sweep_every_offset = [&](uint64_t pos, uint64_t next_sync) {
      uint64_t from = pos - std::min<uint64_t>(pos - sec.address, 15);
      if (next_sync - from > kMaxEveryOffsetRegion) return false;
      for (uint64_t at = from; at < next_sync; ++at)
        if (decode_at(at, end))
          if (auto b = branch_of(*insn, at)) {
            b->at_every_offset = true;
            index.by_target_.push_back(*b);
          }
      index.every_offset_bytes_ += next_sync - from;
      return true;
    };
    uint64_t pos = sec.address;
    while (pos < end) {
      auto next_sync_it = sync_points.upper_bound(pos);
      uint64_t next_sync = next_sync_it == sync_points.end() ? end : std::min(end, *next_sync_it);
      if (!decode_at(pos, end)) {
        const uint8_t* p = base + (pos - sec.address);
        if (size_t n = unknown_instruction_length(p, end - pos); n > 0 && pos + n <= next_sync) {
          pos += n;
          continue;
        }
        if (sweep_every_offset(pos, next_sync)) {
          pos = next_sync;
          continue;
        }
        index.note_undecodable(pos, pos + 1);
        ++pos;
        continue;
      }
      if (pos + insn->size > next_sync) {
        // An instruction running over a function start: we were out of step.
        if (!sweep_every_offset(pos, next_sync)) index.note_undecodable(pos, next_sync);
        pos = next_sync;
        continue;
      }
      if (auto b = branch_of(*insn, pos)) index.by_target_.push_back(*b);
      pos += insn->size;
    }
  }
  cs_free(insn, 1);
  std::sort(index.by_target_.begin(), index.by_target_.end(),
            [](const DirectBranch& a, const DirectBranch& b) {
              return a.target != b.target ? a.target < b.target : a.from < b.from;
            });
  return index;
}

std::vector<DirectBranch> BranchIndex::into(uint64_t begin, uint64_t end) const {
  auto lo = std::lower_bound(by_target_.begin(), by_target_.end(), begin,
                             [](const DirectBranch& b, uint64_t t) { return b.target < t; });
  std::vector<DirectBranch> out;
  for (auto it = lo; it != by_target_.end() && it->target < end; ++it) out.push_back(*it);
  return out;
}

std::vector<uint64_t> BranchIndex::calls_to(uint64_t target) const {
  std::vector<uint64_t> out;
  for (const auto& b : into(target, target + 1))
    if (b.kind == BranchKind::kCall) out.push_back(b.from);
  return out;
}

bool BranchIndex::is_code(uint64_t address) const { return !section_of(address).empty(); }

std::string BranchIndex::section_of(uint64_t address) const {
  for (const auto& s : code_sections_)
    if (address >= s.range.begin && address < s.range.end) return s.name;
  return "";
}

}  // namespace probe
