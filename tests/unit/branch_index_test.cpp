// The branch sweep where code and data share .text: function starts from the unwind table
// (a stripped library names only its exports), and regions that do not decode as one stream,
// which are decoded at every offset so that a branch hidden behind data is still found.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/branch_index.h"
#include "common/eh_frame_starts.h"
#include "common/elf_file.h"
#include "common/probe_placement.h"
#include "tests/unit/placement_harness.h"

namespace probe {
namespace {

// pk_clean and pk_victim skip two single-stepped moves to an emulated push. After pk_victim
// comes what hand-written crypto puts in .text: bytes that are not instructions. Behind them,
// code with no symbol and no unwind entry jumps into pk_victim's skipped moves; a linear sweep
// restarted after the bad byte reads `b8` as `mov eax, imm32` and swallows that jump. pk_local
// is a static function (unwind entry, no symbol once stripped), 4 KiB long, before pk_end.
constexpr char kBranchAsm[] = R"(
  .text
  .p2align 4
  .globl pk_clean
  .type pk_clean, @function
pk_clean:
  .cfi_startproc
  mov %edi, %eax
  mov %esi, %edx
  push %rbx
  pop %rbx
  ret
  .cfi_endproc
  .size pk_clean, .-pk_clean

  .p2align 4
  .globl pk_victim
  .type pk_victim, @function
pk_victim:
  .cfi_startproc
  mov %edi, %eax
.Lvictim_skipped:
  mov %esi, %edx
  push %rbx
  pop %rbx
  ret
  .cfi_endproc
  .size pk_victim, .-pk_victim

  .byte 0x06, 0x06, 0xb8
  jmp .Lvictim_skipped
  ret

  .type pk_local, @function
pk_local:
  .cfi_startproc
  push %rbx
  .fill 4096, 1, 0x90
  pop %rbx
  ret
  .cfi_endproc
  .size pk_local, .-pk_local

  .p2align 4
  .globl pk_end
  .type pk_end, @function
pk_end:
  .cfi_startproc
  push %rbx
  pop %rbx
  ret
  .cfi_endproc
  .size pk_end, .-pk_end
)";

class MixedText : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto [stripped, why] = test::build_asm_library(*dir_, "pkmixed", kBranchAsm, {"-Wl,-s"});
    auto [full, why_full] = test::build_asm_library(*dir_, "pkmixed_symbols", kBranchAsm);
    why_ = why.empty() ? why_full : why;
    if (!stripped.empty() && !full.empty()) {
      stripped_ = new test::PlacementFile(stripped);
      full_ = new test::PlacementFile(full);
    }
  }
  static void TearDownTestSuite() {
    delete stripped_;
    delete full_;
    delete dir_;
  }
  void SetUp() override {
    if (!stripped_) GTEST_SKIP() << why_;
    ASSERT_TRUE(stripped_->ok());
    ASSERT_TRUE(full_->ok());
  }
  Placement place(const std::string& fn) {
    PlacementRequest req;
    req.function = fn;
    auto p = place_probe(stripped_->context(), req);
    EXPECT_TRUE(p) << p.error().message;
    return p ? *p : Placement{};
  }

  static test::TempDir* dir_;
  static test::PlacementFile* stripped_;
  static test::PlacementFile* full_;
  static std::string why_;
};
test::TempDir* MixedText::dir_ = nullptr;
test::PlacementFile* MixedText::stripped_ = nullptr;
test::PlacementFile* MixedText::full_ = nullptr;
std::string MixedText::why_;

TEST_F(MixedText, TheUnwindTableNamesTheStartsTheStrippedSymbolsDoNot) {
  EXPECT_FALSE(stripped_->elf->find_function("pk_local")) << "the library was not stripped";
  auto starts = eh_frame_function_starts(*stripped_->elf);
  ASSERT_TRUE(starts) << starts.error().message;
  std::vector<uint64_t> expected;
  for (const char* fn : {"pk_clean", "pk_victim", "pk_local", "pk_end"}) expected.push_back(full_->address_of(fn));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*starts, expected);
  // Stripping leaves the loaded layout alone: the exports are where the symbols say.
  EXPECT_EQ(stripped_->address_of("pk_victim"), full_->address_of("pk_victim"));
}

TEST_F(MixedText, DataInTextIsDecodedAtEveryOffsetUpToTheNextUnwindStart) {
  const BranchIndex& b = *stripped_->branches;
  EXPECT_TRUE(b.complete()) << b.undecodable_bytes() << " undecodable bytes";
  // From a little before the bad bytes to pk_local, not on through its 4 KiB to pk_end.
  EXPECT_GT(b.every_offset_bytes(), 3u);
  EXPECT_LT(b.every_offset_bytes(), 64u);
}

TEST_F(MixedText, ABranchBehindDataIsStillFound) {
  uint64_t victim = stripped_->address_of("pk_victim");
  auto into = stripped_->branches->into(victim + 1, victim + 5);
  ASSERT_EQ(into.size(), 1u);
  EXPECT_EQ(into[0].target, victim + 2);
  EXPECT_TRUE(into[0].at_every_offset);

  Placement p = place("pk_victim");
  EXPECT_EQ(p.kind, PlacementKind::kFallback);
  std::string why = test::explanation_text(p);
  EXPECT_NE(why.find("maybe data"), std::string::npos) << why;
}

TEST_F(MixedText, CodeBesideDataIsStillPlaced) {
  Placement p = place("pk_clean");
  EXPECT_EQ(p.kind, PlacementKind::kFirstEmulatedInstruction) << test::explanation_text(p);
  ASSERT_EQ(p.sites.size(), 1u);
  EXPECT_EQ(p.sites[0].address, stripped_->address_of("pk_clean") + 4);
}

// The system's GnuTLS keeps AES tables in .text; its record functions are placed all the same.
TEST(MixedTextSystem, GnutlsRecordSendIsPlacedPastItsPrologue) {
  const char* path = "/usr/lib/x86_64-linux-gnu/libgnutls.so.30";
  test::PlacementFile f(path);
  if (!f.elf) GTEST_SKIP() << path << " is not installed (libgnutls30): " << f.elf.error().message;
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f.branches->complete()) << f.branches->undecodable_bytes() << " undecodable bytes";
  EXPECT_GT(f.branches->every_offset_bytes(), 0u) << "no data in .text any more: pick another library";
  PlacementRequest req;
  req.function = "gnutls_record_send";
  req.reads = test::gpr_reads({"rdi", "rsi", "rdx"});
  auto p = place_probe(f.context(), req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->kind, PlacementKind::kFirstEmulatedInstruction) << test::explanation_text(*p);
}

}  // namespace
}  // namespace probe
