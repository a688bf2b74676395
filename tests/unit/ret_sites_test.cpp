// RET sites of synthetic functions: every ret found at its file offset, and the exits a RET
// scan misses (tail calls, indirect jumps) reported.
#include <gtest/gtest.h>

#include "common/elf_file.h"
#include "common/ret_sites.h"
#include "tests/unit/placement_fixture.h"

namespace probe {
namespace {

class RetSites : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto [lib, why] = test::build_placement_library(*dir_);
    lib_ = lib;
    why_ = why;
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (lib_.empty()) GTEST_SKIP() << why_;
  }
  ReturnSites sites_of(const std::string& name) {
    auto elf = ElfFile::open(lib_);
    EXPECT_TRUE(elf);
    auto sym = elf->find_function(name);
    EXPECT_TRUE(sym) << name;
    auto decoder = X86Decoder::create();
    auto rs = find_return_sites(*decoder, *elf, sym->name, sym->address, sym->size);
    EXPECT_TRUE(rs) << rs.error().message;
    return rs ? *rs : ReturnSites{};
  }
  static test::TempDir* dir_;
  static std::string lib_, why_;
};
test::TempDir* RetSites::dir_ = nullptr;
std::string RetSites::lib_, RetSites::why_;

TEST_F(RetSites, FindsEveryRetAtItsFileOffset) {
  ReturnSites rs = sites_of("pk_two_rets");
  ASSERT_EQ(rs.returns.size(), 2u);
  EXPECT_TRUE(rs.exits_only_by_ret());
  auto elf = ElfFile::open(lib_);
  auto offsets = rs.file_offsets();
  EXPECT_EQ(elf->read_bytes(offsets[0], 1), "\xc3");
  EXPECT_EQ(elf->read_bytes(offsets[1], 3), std::string("\xc2\x00\x00", 3));  // ret imm16
}

TEST_F(RetSites, ReportsTailCallsThatARetScanMisses) {
  ReturnSites rs = sites_of("pk_tail");
  EXPECT_EQ(rs.returns.size(), 1u);
  ASSERT_EQ(rs.tail_jumps.size(), 1u);
  EXPECT_EQ(rs.tail_jumps[0].mnemonic, "jmp");
  EXPECT_FALSE(rs.exits_only_by_ret());
}

TEST_F(RetSites, ReportsIndirectJumps) {
  ReturnSites rs = sites_of("pk_switch");
  EXPECT_EQ(rs.indirect_jumps.size(), 1u);
  EXPECT_TRUE(rs.tail_jumps.empty());
  EXPECT_FALSE(rs.exits_only_by_ret());
}

TEST_F(RetSites, JumpsInsideTheFunctionAreNotExits) {
  ReturnSites rs = sites_of("pk_write");  // js/jle/jmp all stay inside
  EXPECT_EQ(rs.returns.size(), 1u);
  EXPECT_TRUE(rs.exits_only_by_ret());
}

}  // namespace
}  // namespace probe
