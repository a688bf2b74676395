// x86 decoding and the kernel's uprobe classification: byte-exact cases from
// arch/x86/kernel/uprobes.c, register effects the placement analysis relies on, and the
// shape of the system libssl's SSL_write that the reference measurements describe.
#include <gtest/gtest.h>

#include <string>

#include "common/elf_file.h"
#include "common/x86_disasm.h"
#include "tests/unit/placement_fixture.h"

namespace probe {
namespace {

using std::string_literals::operator""s;

constexpr char kLibssl[] = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

struct Case {
  std::string bytes;
  UprobeHandling want;
  const char* what;
};

TEST(UprobeClassification, MatchesTheKernel) {
  const Case cases[] = {
      {"\xe8\x00\x00\x00\x00"s, UprobeHandling::kEmulated, "call rel32"},
      {"\xe9\x10\x00\x00\x00"s, UprobeHandling::kEmulated, "jmp rel32"},
      {"\xeb\x05"s, UprobeHandling::kEmulated, "jmp rel8"},
      {"\x7e\x03"s, UprobeHandling::kEmulated, "jle rel8"},
      {"\x0f\x8e\x00\x01\x00\x00"s, UprobeHandling::kEmulated, "jle rel32"},
      {"\x3e\x74\x02"s, UprobeHandling::kEmulated, "Jcc with a branch hint (not 0x66)"},
      {"\x66\xe8\x00\x00"s, UprobeHandling::kRefused, "call with 0x66"},
      {"\x66\x74\x02"s, UprobeHandling::kRefused, "Jcc with 0x66"},
      {"\x53"s, UprobeHandling::kEmulated, "push rbx"},
      {"\x41\x56"s, UprobeHandling::kEmulated, "push r14 (REX 41)"},
      {"\x48\x53"s, UprobeHandling::kSingleStep, "push with REX.W"},
      {"\x66\x53"s, UprobeHandling::kSingleStep, "push with 0x66"},
      {"\x90"s, UprobeHandling::kEmulated, "nop"},
      {"\x66\x90"s, UprobeHandling::kEmulated, "xchg ax, ax (kernel NOP 2)"},
      {"\x0f\x1f\x00"s, UprobeHandling::kEmulated, "kernel NOP 3"},
      {"\x0f\x1f\x44\x00\x00"s, UprobeHandling::kEmulated, "kernel NOP 5"},
      {"\x66\x66\x2e\x0f\x1f\x84\x00\x00\x00\x00\x00"s, UprobeHandling::kEmulated, "kernel NOP 11"},
      {"\x0f\x1f\x40\x08"s, UprobeHandling::kSingleStep, "NOPL other than the kernel's"},
      {"\x41\x90"s, UprobeHandling::kRefused, "xchg r8d, eax"},
      {"\xf3\x90"s, UprobeHandling::kSingleStep, "pause"},
      {"\xf3\x0f\x1e\xfa"s, UprobeHandling::kSingleStep, "endbr64"},
      {"\x48\x83\xec\x18"s, UprobeHandling::kSingleStep, "sub rsp, 0x18"},
      {"\x85\xc0"s, UprobeHandling::kSingleStep, "test eax, eax"},
      {"\x48\x89\xc0"s, UprobeHandling::kSingleStep, "mov rax, rax (a NOP only from 6.19)"},
      {"\xc3"s, UprobeHandling::kSingleStep, "ret"},
      {"\xff\xe0"s, UprobeHandling::kSingleStep, "jmp rax"},
      {"\xe3\x05"s, UprobeHandling::kSingleStep, "jrcxz (not a Jcc to the kernel)"},
      {"\xe2\xfe"s, UprobeHandling::kSingleStep, "loop"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(classify_uprobe(c.bytes).handling, c.want) << c.what << ": " << classify_uprobe(c.bytes).why;
}

TEST(DirectBranchTarget, DecodesRelativeDisplacements) {
  EXPECT_EQ(direct_branch_target("\xe8\xfd\xfb\xff\xff"s, 0x3599e), 0x355a0u);  // SSL_write's call
  EXPECT_EQ(direct_branch_target("\x7e\x03"s, 0x35455), 0x3545au);
  EXPECT_EQ(direct_branch_target("\xeb\xac"s, 0x354ac), 0x3545au);
  EXPECT_EQ(direct_branch_target("\x0f\x86\x64\x07\x00\x00"s, 0x1000), 0x176au);
  EXPECT_FALSE(direct_branch_target("\xff\xe0"s, 0x1000));
  EXPECT_FALSE(direct_branch_target("\xc3"s, 0x1000));
}

class Decoding : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = X86Decoder::create();
    ASSERT_TRUE(d) << d.error().message;
    decoder_ = std::make_unique<X86Decoder>(std::move(*d));
  }
  X86Instruction one(const std::string& bytes) {
    auto insn = decoder_->decode_one(bytes, 0x1000, 0x1000);
    EXPECT_TRUE(insn) << "does not decode";
    return insn.value_or(X86Instruction{});
  }
  std::unique_ptr<X86Decoder> decoder_;
};

TEST_F(Decoding, RefusesUndecodableBytesAndVendorDependentLengths) {
  auto bad = decoder_->decode_all("\x90\x06\xc3"s, 0x1000, 0x2000);  // 06: push es, invalid in 64-bit
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("0x1001"), std::string::npos) << bad.error().message;
  auto odd = decoder_->decode_all("\x66\xe8\x00\x00\xc3"s, 0x1000, 0x1000);
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("vendors"), std::string::npos) << odd.error().message;
}

TEST_F(Decoding, RecordsControlFlowAndTargets) {
  X86Instruction call = one("\xe8\xfd\xfb\xff\xff"s);
  EXPECT_EQ(call.flow, ControlFlow::kCall);
  EXPECT_EQ(call.target, 0x1000u + 5 - 0x403);
  EXPECT_EQ(one("\x7e\x03"s).flow, ControlFlow::kConditionalJump);
  EXPECT_EQ(one("\xc3"s).flow, ControlFlow::kReturn);
  EXPECT_EQ(one("\xc2\x08\x00"s).flow, ControlFlow::kReturn);
  EXPECT_EQ(one("\xf3\xc3"s).flow, ControlFlow::kReturn);
  EXPECT_EQ(one("\xff\xe0"s).flow, ControlFlow::kIndirectJump);
  EXPECT_EQ(one("\xff\xd0"s).flow, ControlFlow::kIndirectCall);
  EXPECT_EQ(one("\x0f\x0b"s).flow, ControlFlow::kStop);
  EXPECT_TRUE(one("\xf3\x0f\x1e\xfa"s).is_endbr64);
}

TEST_F(Decoding, RecordsRegisterEffects) {
  X86Instruction movsxd = one("\x48\x63\xd2"s);  // movsxd rdx, edx
  EXPECT_EQ(movsxd.change_to(Gpr::kRdx), RegisterChange::kSignExtendedInPlace);
  EXPECT_TRUE(movsxd.effects_known);
  EXPECT_EQ(one("\x89\xff"s).change_to(Gpr::kRdi), RegisterChange::kZeroExtendedInPlace);  // mov edi, edi
  EXPECT_EQ(one("\x48\x89\xe1"s).change_to(Gpr::kRcx), RegisterChange::kOverwritten);      // mov rcx, rsp
  EXPECT_EQ(one("\x48\x63\xc2"s).change_to(Gpr::kRax), RegisterChange::kOverwritten);      // movsxd rax, edx
  EXPECT_FALSE(one("\x48\x89\xe1"s).change_to(Gpr::kRsp));
  X86Instruction spill = one("\x48\x89\x44\x24\x08"s);  // mov [rsp + 8], rax
  EXPECT_TRUE(spill.stores_to_memory);
  EXPECT_EQ(spill.store_base, Gpr::kRsp);
  X86Instruction through_arg = one("\x48\x89\x37"s);  // mov [rdi], rsi
  EXPECT_EQ(through_arg.store_base, Gpr::kRdi);
  EXPECT_FALSE(one("\xf6\x87\x68\x11\x00\x00\x01"s).stores_to_memory);  // test byte [rdi+0x1168], 1
  EXPECT_FALSE(one("\x83\x3f\x02"s).stores_to_memory);                    // cmp dword [rdi], 2
  EXPECT_TRUE(one("\x83\x07\x02"s).stores_to_memory);                     // add dword [rdi], 2
  X86Instruction push = one("\x41\x56"s);
  EXPECT_EQ(push.change_to(Gpr::kRsp), RegisterChange::kOverwritten);
  EXPECT_EQ(push.store_base, Gpr::kRsp);
  EXPECT_FALSE(one("\xe8\x00\x00\x00\x00"s).effects_known);  // the callee does anything
  X86Instruction load = one("\x8b\x04\x24"s);  // mov eax, [rsp]
  ASSERT_EQ(load.ops.size(), 2u);
  EXPECT_TRUE(load.ops[1].is_stack_slot());
}

TEST(Gprs, ParseWithWidths) {
  EXPECT_EQ(parse_gpr("edx")->reg, Gpr::kRdx);
  EXPECT_EQ(parse_gpr("edx")->width, 4);
  EXPECT_EQ(parse_gpr("rdi")->width, 8);
  EXPECT_EQ(parse_gpr("r8d")->reg, Gpr::kR8);
  EXPECT_EQ(parse_gpr("r8d")->width, 4);
  EXPECT_EQ(parse_gpr("sil")->width, 1);
  EXPECT_FALSE(parse_gpr("ah"));
  EXPECT_FALSE(parse_gpr("xmm0"));
  EXPECT_EQ(gpr_name(Gpr::kR11, 4), "r11d");
}

// The shape the reference doc measured (§1), at offsets relative to the symbol: they are the
// same on every Debian 12 libssl3 build so far, although the absolute offsets move.
TEST_F(Decoding, SystemLibsslSslWriteHasTheMeasuredShape) {
  auto elf = ElfFile::open(kLibssl);
  if (!elf) GTEST_SKIP() << elf.error().message;
  auto sym = elf->find_function("SSL_write");
  ASSERT_TRUE(sym);
  auto fn = disassemble_function(*decoder_, *elf, *sym);
  ASSERT_TRUE(fn) << fn.error().message;
  EXPECT_EQ(fn->instructions.front().text(), "sub rsp, 0x18");
  EXPECT_EQ(fn->instructions.front().uprobe.handling, UprobeHandling::kSingleStep);
  const X86Instruction* call = fn->at(sym->address + 0x1e);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->flow, ControlFlow::kCall);
  EXPECT_EQ(call->uprobe.handling, UprobeHandling::kEmulated);
  EXPECT_EQ(call->file_offset, *elf->file_offset(sym->address + 0x1e));
  ASSERT_NE(fn->at(sym->address + 0x23), nullptr);
  EXPECT_EQ(fn->at(sym->address + 0x23)->text(), "test eax, eax");
  EXPECT_EQ(fn->at(sym->address + 0x25)->mnemonic, "jle");
  EXPECT_EQ(fn->at(sym->address + 0x25)->uprobe.handling, UprobeHandling::kEmulated);
  EXPECT_EQ(fn->at(sym->address + 0x24), nullptr) << "+0x24 is inside `test`, not a boundary";
}

TEST_F(Decoding, RefusesUnknownBounds) {
  test::TempDir dir;
  auto [lib, why] = test::build_placement_library(dir);
  if (lib.empty()) GTEST_SKIP() << why;
  auto elf = ElfFile::open(lib);
  ASSERT_TRUE(elf);
  auto sym = elf->find_function("pk_no_size");
  ASSERT_TRUE(sym);
  ASSERT_EQ(sym->size, 0u);
  auto fn = disassemble_function(*decoder_, *elf, *sym);
  ASSERT_FALSE(fn);
  EXPECT_NE(fn.error().message.find("bounds are unknown"), std::string::npos) << fn.error().message;
}

}  // namespace
}  // namespace probe
