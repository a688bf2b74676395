// USDT notes of a real program built with <sys/sdt.h> at test time.
#include <gtest/gtest.h>

#include <optional>

#include "common/elf_file.h"
#include "common/usdt_notes.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using test::TempDir;

// pktest:tick has no semaphore; pktest:ready has one. <sys/sdt.h> decides semaphores for a
// whole translation unit, hence two files.
constexpr char kMainSource[] = R"(#include <sys/sdt.h>
void pk_ready(int n);
int main(int argc, char** argv) {
  int count = argc;
  unsigned long where = (unsigned long)argv;
  DTRACE_PROBE2(pktest, tick, count, where);
  pk_ready(argc);
  return 0;
}
)";
constexpr char kSemaphoreSource[] = R"(#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
/* Never run: the value only lets the test find the semaphore's bytes in the file. */
unsigned short pktest_ready_semaphore __attribute__((section(".probes"))) = 0xbeef;
void pk_ready(int n) {
  if (pktest_ready_semaphore) STAP_PROBE1(pktest, ready, (unsigned char)n);
}
)";

// Builds the program in `dir`; returns its path, or nullopt with the reason in `why`.
std::optional<std::string> build_sdt_program(const TempDir& dir, std::string* why) {
  if (!test::find_program("cc")) {
    *why = "needs a C compiler (cc)";
    return std::nullopt;
  }
  test::write_text(dir.file("main.c"), kMainSource);
  test::write_text(dir.file("ready.c"), kSemaphoreSource);
  std::string exe = dir.file("sdt_prog");
  auto [rc, out] = test::run({"cc", "-O1", "-o", exe, dir.file("main.c"), dir.file("ready.c")});
  if (rc != 0) {
    *why = "cc failed (is systemtap-sdt-dev installed?): " + out;
    return std::nullopt;
  }
  return exe;
}

const UsdtProbe* find_probe(const std::vector<UsdtProbe>& probes, const std::string& name) {
  for (const auto& p : probes)
    if (p.name == name) return &p;
  return nullptr;
}

class UsdtNotes : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto exe = build_sdt_program(dir_, &why);
    if (!exe) GTEST_SKIP() << why;
    exe_ = *exe;
  }
  TempDir dir_;
  std::string exe_;
};

TEST_F(UsdtNotes, ReadsProviderNameAndArguments) {
  auto probes = read_usdt_probes(exe_);
  ASSERT_TRUE(probes) << probes.error().message;
  ASSERT_EQ(probes->size(), 2u);

  const UsdtProbe* tick = find_probe(*probes, "tick");
  ASSERT_NE(tick, nullptr);
  EXPECT_EQ(tick->provider, "pktest");
  EXPECT_NE(tick->pc, 0u);
  EXPECT_EQ(tick->semaphore, 0u);
  ASSERT_EQ(tick->parsed_args.size(), 2u) << tick->args;
  EXPECT_EQ(tick->parsed_args[0].size, -4);  // int
  EXPECT_EQ(tick->parsed_args[1].size, 8);   // unsigned long
  EXPECT_FALSE(tick->parsed_args[0].location.empty());

  const UsdtProbe* ready = find_probe(*probes, "ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->provider, "pktest");
  EXPECT_NE(ready->semaphore, 0u);
  ASSERT_EQ(ready->parsed_args.size(), 1u) << ready->args;
  EXPECT_EQ(ready->parsed_args[0].size, 1);  // unsigned char
}

TEST_F(UsdtNotes, FileOffsetsPointAtTheNopAndTheSemaphore) {
  auto probes = read_usdt_probes(exe_);
  ASSERT_TRUE(probes) << probes.error().message;
  auto elf = ElfFile::open(exe_);
  ASSERT_TRUE(elf) << elf.error().message;
  for (const auto& p : *probes) {
    EXPECT_NE(p.base_section, 0u);
    EXPECT_EQ(p.base, p.base_section) << "not prelinked, so the note's base is the section's";
    auto offsets = usdt_file_offsets(*elf, p);
    ASSERT_TRUE(offsets) << offsets.error().message;
    EXPECT_EQ(elf->read_bytes(offsets->probe, 1), "\x90") << p.name << ": sdt.h places a nop";
    if (p.name == "ready") {
      EXPECT_EQ(elf->read_bytes(offsets->semaphore, 2), "\xef\xbe");
    } else {
      EXPECT_EQ(offsets->semaphore, 0u);
    }
  }
}

TEST_F(UsdtNotes, PrelinkShiftsAddressesByTheMovedBaseSection) {
  auto probes = read_usdt_probes(exe_);
  ASSERT_TRUE(probes) << probes.error().message;
  UsdtProbe moved = *find_probe(*probes, "ready");
  // prelink moved the file up by 0x10000 but left the note (and its base) as linked.
  moved.base_section += 0x10000;
  EXPECT_EQ(usdt_probe_address(moved), moved.pc + 0x10000);
  EXPECT_EQ(usdt_semaphore_address(moved), moved.semaphore + 0x10000);
  moved.base_section -= 0x20000;
  EXPECT_EQ(usdt_probe_address(moved), moved.pc - 0x10000);
}

TEST(UsdtArgs, ParsesSizesSignsAndOperands) {
  auto args = parse_usdt_args("-4@%edi 8@-20(%rbp)  8f@%xmm0 -4@[sp, 96] 2@$5 %eax");
  ASSERT_EQ(args.size(), 6u);
  EXPECT_EQ(args[0].size, -4);
  EXPECT_EQ(args[0].location, "%edi");
  EXPECT_EQ(args[1].size, 8);
  EXPECT_EQ(args[1].location, "-20(%rbp)");
  EXPECT_TRUE(args[2].floating);
  EXPECT_EQ(args[2].size, 8);
  EXPECT_EQ(args[3].location, "[sp, 96]");
  EXPECT_EQ(args[4].location, "$5");
  EXPECT_EQ(args[5].size, 0) << "SDT v1 arguments have no size";
  EXPECT_EQ(args[5].location, "%eax");
  EXPECT_TRUE(parse_usdt_args("").empty());
}

TEST(UsdtNotesErrors, NamesTheFile) {
  auto missing = read_usdt_probes("/nonexistent/prog");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/prog"), std::string::npos);

  TempDir dir;
  test::write_text(dir.file("not-elf"), "hello\n");
  auto text = read_usdt_probes(dir.file("not-elf"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("not an ELF file"), std::string::npos);
}

TEST(UsdtNotesErrors, FileWithoutNotesHasNoProbes) {
  auto probes = read_usdt_probes("/usr/lib/x86_64-linux-gnu/libssl.so.3");
  if (!probes) GTEST_SKIP() << probes.error().message;
  EXPECT_TRUE(probes->empty());
}

}  // namespace
}  // namespace probe
