#include "common/branch_index.h"

#include <capstone/capstone.h>

#include <algorithm>
#include <set>

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

}  // namespace

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

  std::set<uint64_t> sync_points;  // function starts: a desynchronised sweep restarts there
  for (const auto& f : elf.functions()) sync_points.insert(f.address);

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
    uint64_t pos = sec.address;
    const uint64_t end = sec.address + sec.size;
    while (pos < end) {
      auto next_sync_it = sync_points.upper_bound(pos);
      uint64_t next_sync = next_sync_it == sync_points.end() ? end : std::min(end, *next_sync_it);
      const auto* p = reinterpret_cast<const uint8_t*>(bytes->data()) + (pos - sec.address);
      size_t left = end - pos;
      uint64_t addr = pos;
      if (!cs_disasm_iter(dec.handle, &p, &left, &addr, insn)) {
        if (size_t n = unknown_instruction_length(p, left); n > 0 && pos + n <= next_sync) {
          pos += n;
          continue;
        }
        index.note_undecodable(pos, pos + 1);
        ++pos;
        continue;
      }
      if (pos + insn->size > next_sync) {
        // An instruction running over a function start: we were out of step.
        index.note_undecodable(pos, next_sync);
        pos = next_sync;
        continue;
      }
      std::string_view enc(reinterpret_cast<const char*>(insn->bytes), insn->size);
      if (auto target = direct_branch_target(enc, pos))
        index.by_target_.push_back({pos, *target, kind_of(insn->id)});
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
