// The placement analysis on synthetic functions (every case the rules accept or refuse) and on
// the system libssl, where it must find what the reference measurements found (§1): the
// forwarded internal functions, the post-call Jcc, and no branch into the skipped bytes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/probe_placement.h"
#include "tests/unit/placement_fixture.h"

namespace probe {
namespace {

constexpr char kLibssl[] = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

// One file's analysis context, placing by name.
struct Analysis : test::PlacementFile {
  using PlacementFile::PlacementFile;
  Result<Placement> place(const std::string& fn, ProbeSide side = ProbeSide::kEntry,
                          const std::vector<std::string>& reads = {}, bool forwarding = true) {
    PlacementRequest req;
    req.function = fn;
    req.side = side;
    req.allow_forwarding = forwarding;
    req.reads = test::gpr_reads(reads);
    return place_probe(context(), req);
  }
};

std::string all(const Placement& p) { return test::explanation_text(p); }

class Synthetic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto [lib, why] = test::build_placement_library(*dir_);
    why_ = why;
    if (!lib.empty()) analysis_ = new Analysis(lib);
  }
  static void TearDownTestSuite() {
    delete analysis_;
    delete dir_;
  }
  void SetUp() override {
    if (!analysis_) GTEST_SKIP() << why_;
    ASSERT_TRUE(analysis_->ok());
    ASSERT_TRUE(analysis_->branches->complete());
  }
  Placement place(const std::string& fn, ProbeSide side = ProbeSide::kEntry,
                  const std::vector<std::string>& reads = {}, bool forwarding = true) {
    auto p = analysis_->place(fn, side, reads, forwarding);
    EXPECT_TRUE(p) << p.error().message;
    return p ? *p : Placement{};
  }
  uint64_t address_of(const std::string& fn) { return analysis_->elf->find_function(fn)->address; }

  static test::TempDir* dir_;
  static Analysis* analysis_;
  static std::string why_;
};
test::TempDir* Synthetic::dir_ = nullptr;
Analysis* Synthetic::analysis_ = nullptr;
std::string Synthetic::why_;

TEST_F(Synthetic, AnEmulatedFirstInstructionIsProbedAtTheSymbol) {
  for (const char* fn : {"pk_push_entry", "pk_nop5_entry"}) {
    Placement p = place(fn, ProbeSide::kEntry, {"rdi"});
    EXPECT_EQ(p.kind, PlacementKind::kEntryAtSymbol) << fn << "\n" << all(p);
    ASSERT_EQ(p.sites.size(), 1u);
    EXPECT_EQ(p.sites[0].address, address_of(fn));
    EXPECT_EQ(p.sites[0].handling, UprobeHandling::kEmulated);
  }
}

TEST_F(Synthetic, Endbr64IsSkippedToTheEmulatedPush) {
  Placement p = place("pk_cet_entry", ProbeSide::kEntry, {"rdi", "rsi"});
  ASSERT_EQ(p.kind, PlacementKind::kFirstEmulatedInstruction) << all(p);
  EXPECT_EQ(p.sites[0].address, address_of("pk_cet_entry") + 4);
  EXPECT_EQ(p.sites[0].instruction, "push rbp");
  EXPECT_EQ(p.sites[0].expected_bytes, "\x55");
  EXPECT_NE(all(p).find("endbr64"), std::string::npos);
}

TEST_F(Synthetic, WrappersSharingAnInternalFunctionAreProbedThere) {
  Placement p = place("pk_write", ProbeSide::kEntry, {"rdi", "rsi", "edx"});
  ASSERT_EQ(p.kind, PlacementKind::kForwardedInternalFunction) << all(p);
  ASSERT_EQ(p.sites.size(), 1u);
  EXPECT_EQ(p.sites[0].instruction, "push r13");
  EXPECT_EQ(p.sites[0].handling, UprobeHandling::kEmulated);
  EXPECT_EQ(p.covers, (std::vector<std::string>{"pk_write", "pk_write_ex"}));
  EXPECT_TRUE(p.other_callers.size() >= 2) << "pk_lonely's call and pk_tail's jump";
  // rdx is sign-extended by pk_write: fine for edx, not for all of rdx.
  ASSERT_GE(p.registers.size(), 3u);
  EXPECT_EQ(p.registers[2].reg, Gpr::kRdx);
  EXPECT_EQ(p.registers[2].state, ValueState::kLow32Kept);
  Placement wide = place("pk_write", ProbeSide::kEntry, {"rdi", "rsi", "rdx"});
  EXPECT_NE(wide.kind, PlacementKind::kForwardedInternalFunction) << all(wide);
  // The sibling resolves to the same site.
  // pk_write changes rdx (and rcx) before its call: reading them in full rules the shared
  // function out, and the probe stays in pk_write_ex, on its own call.
  Placement ex = place("pk_write_ex", ProbeSide::kEntry, {"rdi", "rsi", "rdx", "rcx"});
  EXPECT_EQ(ex.kind, PlacementKind::kFirstEmulatedInstruction) << all(ex);
  EXPECT_EQ(ex.sites[0].address, address_of("pk_write_ex") + 4);
  EXPECT_NE(all(ex).find("not forwarded"), std::string::npos) << all(ex);
  EXPECT_NE(all(ex).find("sign-extends"), std::string::npos) << all(ex);
  Placement ex_narrow = place("pk_write_ex", ProbeSide::kEntry, {"rdi", "rsi", "edx"});
  ASSERT_EQ(ex_narrow.kind, PlacementKind::kForwardedInternalFunction) << all(ex_narrow);
  EXPECT_EQ(ex_narrow.sites[0].file_offset, p.sites[0].file_offset);
}

TEST_F(Synthetic, WithoutASiblingOrWithoutForwardingTheFirstEmulatedInstructionIsUsed) {
  for (auto [fn, forwarding] : {std::pair{"pk_lonely", true}, std::pair{"pk_write", false}}) {
    Placement p = place(fn, ProbeSide::kEntry, {"rdi", "rsi", "rdx", "rcx"}, forwarding);
    ASSERT_EQ(p.kind, PlacementKind::kFirstEmulatedInstruction) << fn << "\n" << all(p);
    EXPECT_EQ(p.sites[0].instruction.rfind("js ", 0), 0u) << p.sites[0].instruction;
    EXPECT_EQ(p.covers, std::vector<std::string>{fn});
  }
}

TEST_F(Synthetic, ARegisterOverwrittenBeforeTheSiteMeansFallback) {
  Placement p = place("pk_clobber_rdi", ProbeSide::kEntry, {"rdi"});
  EXPECT_EQ(p.kind, PlacementKind::kFallback);
  EXPECT_NE(all(p).find("xor edi, edi"), std::string::npos) << all(p);
  Placement other = place("pk_clobber_rdi", ProbeSide::kEntry, {"rsi"});
  EXPECT_EQ(other.kind, PlacementKind::kFirstEmulatedInstruction) << all(other);
}

TEST_F(Synthetic, SignExtensionInPlaceIsFineOnlyForA32BitRead) {
  Placement narrow = place("pk_movsxd", ProbeSide::kEntry, {"edx"});
  ASSERT_EQ(narrow.kind, PlacementKind::kFirstEmulatedInstruction) << all(narrow);
  EXPECT_EQ(narrow.sites[0].address, address_of("pk_movsxd") + 3);
  Placement wide = place("pk_movsxd", ProbeSide::kEntry, {"rdx"});
  EXPECT_EQ(wide.kind, PlacementKind::kFallback);
  EXPECT_NE(all(wide).find("sign-extends"), std::string::npos) << all(wide);
}

TEST_F(Synthetic, ABranchIntoTheSkippedBytesMeansFallback) {
  Placement loop = place("pk_loop_into_prefix");
  EXPECT_EQ(loop.kind, PlacementKind::kFallback);
  EXPECT_NE(all(loop).find("branches into"), std::string::npos) << all(loop);
  // The jump comes from another function: only the file-wide sweep sees it.
  Placement victim = place("pk_victim");
  EXPECT_EQ(victim.kind, PlacementKind::kFallback);
  EXPECT_NE(all(victim).find(fmt::format("0x{:x}", address_of("pk_intruder") + 4)), std::string::npos)
      << all(victim);
}

TEST_F(Synthetic, NoSiteAfterABranchTheKernelSingleSteps) {
  Placement p = place("pk_jrcxz_first");
  EXPECT_EQ(p.kind, PlacementKind::kFallback);
  EXPECT_NE(all(p).find("branches before any emulated instruction"), std::string::npos) << all(p);
}

TEST_F(Synthetic, JumpTablesStoresAndUndecodableCodeMeanFallback) {
  Placement sw = place("pk_switch");
  EXPECT_EQ(sw.kind, PlacementKind::kFallback);
  EXPECT_NE(all(sw).find("indirect jump"), std::string::npos) << all(sw);
  Placement store = place("pk_store_arg");
  EXPECT_EQ(store.kind, PlacementKind::kFallback);
  EXPECT_NE(all(store).find("stores through"), std::string::npos) << all(store);
  Placement odd = place("pk_odd_call");
  EXPECT_EQ(odd.kind, PlacementKind::kFallback);
  EXPECT_NE(all(odd).find("vendors"), std::string::npos) << all(odd);
  Placement unsized = place("pk_no_size");
  EXPECT_EQ(unsized.kind, PlacementKind::kFallback);
  EXPECT_NE(all(unsized).find("bounds are unknown"), std::string::npos) << all(unsized);
  ASSERT_EQ(unsized.sites.size(), 1u);
  EXPECT_EQ(unsized.sites[0].address, address_of("pk_no_size"));
}

TEST_F(Synthetic, ReturnOnThePostCallJcc) {
  Placement p = place("pk_write", ProbeSide::kReturn, {"rsi"});
  ASSERT_EQ(p.kind, PlacementKind::kPostCallJcc) << all(p);
  ASSERT_EQ(p.sites.size(), 2u);
  EXPECT_EQ(p.sites[0].role, ProbeSite::Role::kEntry);
  EXPECT_EQ(p.sites[0].instruction.rfind("call ", 0), 0u);
  EXPECT_EQ(p.sites[1].role, ProbeSite::Role::kReturn);
  EXPECT_EQ(p.sites[1].instruction.rfind("jle ", 0), 0u);
  EXPECT_EQ(p.sites[1].handling, UprobeHandling::kEmulated);
  ASSERT_TRUE(p.result);
  EXPECT_EQ(p.result->count_rsp_offset, 0);
  EXPECT_EQ(p.result->status, Gpr::kRax);
}

TEST_F(Synthetic, ReturnWithoutAJccUsesTheSharedFunctionsUretprobe) {
  Placement p = place("pk_write_ex", ProbeSide::kReturn);
  ASSERT_EQ(p.kind, PlacementKind::kForwardedInternalFunction) << all(p);
  ASSERT_EQ(p.sites.size(), 2u);
  EXPECT_EQ(p.sites[1].role, ProbeSite::Role::kUretprobe);
  EXPECT_EQ(p.sites[1].instruction, "push r13");
  ASSERT_TRUE(p.result);
  EXPECT_NE(p.result->formula.find("rcx_at_entry"), std::string::npos);
  Placement no_fw = place("pk_write_ex", ProbeSide::kReturn, {}, false);
  EXPECT_EQ(no_fw.kind, PlacementKind::kFallback);
  EXPECT_EQ(no_fw.sites.back().role, ProbeSite::Role::kUretprobe);
}

TEST_F(Synthetic, ReturnOnAnEmulatedEntryIsAPlainUretprobe) {
  Placement p = place("pk_push_entry", ProbeSide::kReturn);
  ASSERT_EQ(p.kind, PlacementKind::kEntryAtSymbol) << all(p);
  ASSERT_EQ(p.sites.size(), 2u);
  EXPECT_EQ(p.sites[1].role, ProbeSite::Role::kUretprobe);
  EXPECT_FALSE(p.result) << "rax at the return is the function's own result";
}

TEST_F(Synthetic, RetSitesOnRequestRefuseTailCalls) {
  PlacementRequest req;
  req.function = "pk_two_rets";
  req.side = ProbeSide::kReturn;
  req.ret_sites = true;
  PlacementContext ctx{*analysis_->elf, *analysis_->decoder, *analysis_->branches};
  auto p = place_probe(ctx, req);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, PlacementKind::kRetSites) << all(*p);
  EXPECT_EQ(p->sites.size(), 3u);  // entry + two RETs
  req.function = "pk_tail";
  auto tail = place_probe(ctx, req);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->kind, PlacementKind::kFallback);
  EXPECT_NE(all(*tail).find("RET scan misses"), std::string::npos) << all(*tail);
}

TEST_F(Synthetic, UnknownFunctionsAreErrors) {
  auto p = analysis_->place("pk_nope");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("not found"), std::string::npos);
}

TEST_F(Synthetic, VerifyCatchesChangedBytesAndBuildIds) {
  Placement p = place("pk_cet_entry");
  EXPECT_TRUE(verify_placement(*analysis_->elf, p));
  std::string copy = dir_->file("libpk-changed.so");
  std::filesystem::copy_file(analysis_->elf->path(), copy);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(p.sites[0].file_offset));
    f.put('\x53');  // push rbx instead of push rbp
  }
  auto changed = ElfFile::open(copy);
  ASSERT_TRUE(changed);
  auto st = verify_placement(*changed, p);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("expected [55]"), std::string::npos) << st.error().message;
  Placement other_build = p;
  other_build.build_id = "00";
  EXPECT_FALSE(verify_placement(*analysis_->elf, other_build));
}

// ---------------------------------------------------------------------------------------------

class Libssl : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (stat(kLibssl, &st) != 0) GTEST_SKIP() << kLibssl << " is not installed (libssl3)";
    analysis_ = std::make_unique<Analysis>(kLibssl);
    ASSERT_TRUE(analysis_->ok());
    ASSERT_TRUE(analysis_->branches->complete()) << analysis_->branches->undecodable_bytes();
  }
  uint64_t address_of(const std::string& fn) { return analysis_->elf->find_function(fn)->address; }
  std::unique_ptr<Analysis> analysis_;
};

TEST_F(Libssl, WriteAndWriteExForwardToOneInternalFunctionStartingWithPush) {
  auto p = analysis_->place("SSL_write", ProbeSide::kEntry, {"rdi", "rsi", "edx"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlacementKind::kForwardedInternalFunction) << all(*p);
  EXPECT_EQ(p->sites[0].instruction, "push r14");
  EXPECT_EQ(p->sites[0].expected_bytes, "\x41\x56");
  EXPECT_EQ(p->covers, (std::vector<std::string>{"SSL_write", "SSL_write_ex"}));
  EXPECT_GE(p->other_callers.size(), 1u) << "the BIO_f_ssl write path";
  // Reference §1: the call at SSL_write+0x1e is what leads there.
  auto fn = disassemble_function(*analysis_->decoder, *analysis_->elf, *analysis_->elf->find_function("SSL_write"));
  ASSERT_TRUE(fn);
  const X86Instruction* call = fn->at(address_of("SSL_write") + 0x1e);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->target, p->sites[0].address);
  EXPECT_TRUE(verify_placement(*analysis_->elf, *p));
  // An entry probe on SSL_write_ex lands on the same instruction.
  auto ex = analysis_->place("SSL_write_ex", ProbeSide::kEntry, {"rdi", "rsi", "edx"});
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->sites[0].file_offset, p->sites[0].file_offset);
}

TEST_F(Libssl, ReadForwardsToAnInternalFunctionStartingWithPushR13) {
  auto p = analysis_->place("SSL_read", ProbeSide::kEntry, {"rdi", "rsi", "edx"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlacementKind::kForwardedInternalFunction) << all(*p);
  EXPECT_EQ(p->sites[0].instruction, "push r13");
}

TEST_F(Libssl, ReadReturnIsOnTheJleAfterTheCallNeverOnTheTest) {
  auto p = analysis_->place("SSL_read", ProbeSide::kReturn, {"rsi"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlacementKind::kPostCallJcc) << all(*p);
  uint64_t base = address_of("SSL_read");
  EXPECT_EQ(p->sites[0].address - base, 0x1eu);  // call
  EXPECT_EQ(p->sites[1].address - base, 0x25u);  // jle, not the test at +0x23
  EXPECT_EQ(p->sites[1].expected_bytes.substr(0, 1), "\x7e");
  ASSERT_TRUE(p->result);
  EXPECT_EQ(p->result->count_rsp_offset, 0);
  // No direct branch in the library lands between the entry and the end of the jle.
  EXPECT_TRUE(analysis_->branches->into(base + 1, base + 0x27).empty());
  EXPECT_TRUE(verify_placement(*analysis_->elf, *p));
}

TEST_F(Libssl, ReadExReturnNeverFallsBack) {
  auto p = analysis_->place("SSL_read_ex", ProbeSide::kReturn);
  ASSERT_TRUE(p);
  EXPECT_NE(p->kind, PlacementKind::kFallback) << all(*p);
  for (const auto& s : p->sites) EXPECT_EQ(s.handling, UprobeHandling::kEmulated) << s.where;
}

TEST_F(Libssl, WithoutForwardingTheEntryProbeStaysInTheFunctionBeforeItsFirstBranch) {
  auto p = analysis_->place("SSL_write", ProbeSide::kEntry, {"rdi", "rsi", "rdx", "rcx"}, false);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->kind, PlacementKind::kFirstEmulatedInstruction) << all(*p);
  EXPECT_EQ(p->sites[0].instruction.rfind("js ", 0), 0u) << p->sites[0].instruction;
  EXPECT_EQ(p->sites[0].address - address_of("SSL_write"), 0x16u);
}

}  // namespace
}  // namespace probe
