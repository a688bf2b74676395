// Every direct branch (call rel32, jmp, Jcc, loop/jrcxz) in the executable sections of an ELF
// file, indexed by target, so the placement analysis can prove that no code anywhere in the
// file jumps into the part of a function a probe skips, or into the middle of the patched
// instruction (the int3 would then be executed as part of another instruction's bytes).
//
// The sweep is linear, like objdump -d, and restarts at every function start it knows (the
// symbols, and the unwind table's entries, which cover a stripped library's static functions
// too) so that data or padding cannot desynchronise it for long. Where the stream stops
// decoding — data in .text, like the constant tables of hand-written crypto, or a sweep out of
// step — the bytes up to the next function start are decoded at every offset instead: any
// instruction that really runs there starts at one of them, so its branch is indexed (beside
// branches read out of data, which can only make callers more careful). Only a region too long
// for that is counted as undecodable: a sweep that is not complete() proves nothing, and
// callers must not skip code on its word.
// Indirect branches (jump tables, function pointers) cannot be indexed statically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

class ElfFile;

enum class BranchKind { kCall, kJump, kConditionalJump };

struct DirectBranch {
  uint64_t from = 0;    // address of the branch instruction
  uint64_t target = 0;  // where it goes
  BranchKind kind = BranchKind::kJump;
  bool at_every_offset = false;  // read while decoding a region at every offset: maybe data
};

struct AddressRange {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
};

// "the instruction at 0x…", or for a branch read at every offset of a region that did not
// decode as one stream, what it may really be.
std::string branch_source(const DirectBranch& b);

class BranchIndex {
 public:
  // Sweeps every executable section of `elf` (about 0.1 s per MiB of code).
  static Result<BranchIndex> build(const ElfFile& elf);
  // An index that proves nothing (not complete()): for files not swept, e.g. too large to
  // sweep at attach time. Analyses then fall back wherever they need the sweep.
  static BranchIndex not_swept();

  // Direct branches whose target is in [begin, end), in target order.
  std::vector<DirectBranch> into(uint64_t begin, uint64_t end) const;
  // Addresses of the direct calls to exactly `target`.
  std::vector<uint64_t> calls_to(uint64_t target) const;

  // Whether `address` lies in an executable section, and in which one.
  bool is_code(uint64_t address) const;
  std::string section_of(uint64_t address) const;  // ".text", ".plt.sec", or empty

  uint64_t bytes_swept() const { return bytes_swept_; }
  uint64_t undecodable_bytes() const { return undecodable_bytes_; }
  // True when every byte of every executable section decoded as part of an instruction.
  bool complete() const { return undecodable_bytes_ == 0; }
  // Up to 8 of the ranges that did not decode, for messages.
  const std::vector<AddressRange>& undecodable_samples() const { return undecodable_samples_; }
  // Bytes the linear sweep could not follow and that were decoded at every offset instead.
  uint64_t every_offset_bytes() const { return every_offset_bytes_; }
  // Longest region decoded at every offset; longer ones count as undecodable.
  static constexpr uint64_t kMaxEveryOffsetRegion = 256 << 10;

 private:
  struct Section {
    std::string name;
    AddressRange range;
  };
  std::vector<DirectBranch> by_target_;
  std::vector<Section> code_sections_;
  uint64_t bytes_swept_ = 0;
  uint64_t undecodable_bytes_ = 0;
  uint64_t every_offset_bytes_ = 0;
  std::vector<AddressRange> undecodable_samples_;

  void note_undecodable(uint64_t begin, uint64_t end);
};

}  // namespace probe
