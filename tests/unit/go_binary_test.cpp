// Go binaries: a small TLS program built at test time with the system's go (normally and
// stripped) must yield crypto/tls.(*Conn).Write and Read at the same addresses from .gopclntab,
// with their RET sites; and synthetic tables in each pclntab format parse.
#include <gtest/gtest.h>

#include <map>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/go_binary.h"
#include "common/probe_placement.h"
#include "common/ret_sites.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

constexpr char kProgram[] = R"(package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
)

// Never connects when run without arguments; the calls keep (*Conn).Read and Write linked.
func main() {
	if len(os.Args) < 2 {
		fmt.Println("ok")
		return
	}
	raw, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	fmt.Println(n)
}
)";

constexpr const char* kWrite = "crypto/tls.(*Conn).Write";
constexpr const char* kRead = "crypto/tls.(*Conn).Read";

class GoTlsProgram : public ::testing::Test {
 protected:
  // Both builds share one cache in one temporary directory; no network (standard library only).
  static void SetUpTestSuite() {
    auto go = test::find_program("go");
    if (!go) {
      why_ = "needs the Go toolchain (Debian package golang-go; scripts/install-deps.sh installs it)";
      return;
    }
    dir_ = new test::TempDir();
    test::write_text(dir_->file("main.go"), kProgram);
    std::map<std::string, std::string> env = {
        {"GOCACHE", dir_->file("cache")}, {"GOPATH", dir_->file("gopath")}, {"HOME", dir_->path()},
        {"GOFLAGS", "-mod=mod"}, {"CGO_ENABLED", "0"}, {"GOPROXY", "off"}};
    for (auto [name, flags] : {std::pair{"prog", ""}, std::pair{"prog-stripped", "-s -w"}}) {
      std::vector<std::string> argv = {*go, "build", "-o", dir_->file(name)};
      if (*flags) argv.push_back(std::string("-ldflags=") + flags);
      argv.push_back(dir_->file("main.go"));
      auto [rc, out] = test::run(argv, env);
      if (rc != 0) {
        why_ = "go build failed: " + out;
        return;
      }
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!why_.empty()) GTEST_SKIP() << why_;
  }
  static std::string path(const char* name) { return dir_->file(name); }

  static test::TempDir* dir_;
  static std::string why_;
};
test::TempDir* GoTlsProgram::dir_ = nullptr;
std::string GoTlsProgram::why_;

TEST_F(GoTlsProgram, IsRecognisedWithItsVersion) {
  for (const char* name : {"prog", "prog-stripped"}) {
    auto elf = ElfFile::open(path(name));
    ASSERT_TRUE(elf);
    EXPECT_TRUE(GoBinary::is_go(*elf)) << name;
    auto go = GoBinary::open(*elf);
    ASSERT_TRUE(go) << go.error().message;
    EXPECT_EQ(go->version().rfind("go1.", 0), 0u) << go->version();
    // Debian 12's go is 1.19: the 1.18-1.19 layout; 1.20+ has its own magic.
    if (go->version().rfind("go1.19", 0) == 0 || go->version().rfind("go1.18", 0) == 0) {
      EXPECT_EQ(go->format(), PclntabFormat::kGo118);
    }
  }
  auto c = ElfFile::open("/usr/lib/x86_64-linux-gnu/libssl.so.3");
  if (c) {
    EXPECT_FALSE(GoBinary::is_go(*c));
  }
}

TEST_F(GoTlsProgram, FindsConnWriteAndReadInBothBuildsAtTheSameAddresses) {
  auto full = ElfFile::open(path("prog"));
  auto stripped = ElfFile::open(path("prog-stripped"));
  ASSERT_TRUE(full && stripped);
  EXPECT_FALSE(stripped->find_function(kWrite)) << "-s should remove the symbol table";
  auto go_full = GoBinary::open(*full);
  auto go_stripped = GoBinary::open(*stripped);
  ASSERT_TRUE(go_full && go_stripped);
  for (const char* fn : {kWrite, kRead}) {
    auto a = go_full->find_function(fn);
    auto b = go_stripped->find_function(fn);
    ASSERT_TRUE(a && b) << fn;
    EXPECT_EQ(a->entry, b->entry) << fn;
    EXPECT_EQ(a->end, b->end) << fn;
    // The symbol table of the unstripped build agrees; pclntab's end includes the padding.
    auto sym = full->find_function(fn);
    ASSERT_TRUE(sym) << fn;
    EXPECT_EQ(sym->address, a->entry) << fn;
    EXPECT_GE(a->size(), sym->size) << fn;
    EXPECT_LT(a->size(), sym->size + 64) << fn;
  }
}

TEST_F(GoTlsProgram, RetSitesAreFoundInTheStrippedBuild) {
  auto elf = ElfFile::open(path("prog-stripped"));
  auto go = GoBinary::open(*elf);
  auto decoder = X86Decoder::create();
  ASSERT_TRUE(elf && go && decoder);
  for (const char* name : {kWrite, kRead}) {
    auto fn = go->find_function(name);
    ASSERT_TRUE(fn);
    auto rs = find_return_sites(*decoder, *elf, fn->name, fn->entry, fn->size());
    ASSERT_TRUE(rs) << rs.error().message;
    EXPECT_FALSE(rs->returns.empty()) << name;
    EXPECT_TRUE(rs->tail_jumps.empty()) << name;
    for (uint64_t off : rs->file_offsets()) EXPECT_EQ(elf->read_bytes(off, 1), "\xc3") << name;
  }
}

TEST_F(GoTlsProgram, ReturnProbesGoOnRetSitesNeverOnAUretprobe) {
  auto elf = ElfFile::open(path("prog-stripped"));
  auto decoder = X86Decoder::create();
  auto branches = BranchIndex::build(*elf);
  ASSERT_TRUE(elf && decoder && branches);
  EXPECT_TRUE(branches->complete()) << branches->undecodable_bytes() << " bytes did not decode";
  PlacementContext ctx{*elf, *decoder, *branches};
  PlacementRequest req;
  req.function = kRead;
  req.side = ProbeSide::kReturn;
  req.reads = {*parse_gpr("rax"), *parse_gpr("rbx"), *parse_gpr("rcx")};  // receiver, b.ptr, b.len
  auto p = place_probe(ctx, req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->kind, PlacementKind::kRetSites);
  size_t rets = 0;
  for (const auto& s : p->sites) {
    EXPECT_NE(s.role, ProbeSite::Role::kUretprobe);
    if (s.role == ProbeSite::Role::kReturn) ++rets;
  }
  EXPECT_GT(rets, 0u);
  EXPECT_EQ(p->sites.front().role, ProbeSite::Role::kEntry);
  EXPECT_TRUE(verify_placement(*elf, *p));
}

// ---------------------------------------------------------------------------------------------
// Synthetic tables: two functions, main.a [text, text+0x40) and main.b [text+0x40, text+0x80).

constexpr uint64_t kText = 0x401000;

void put(std::string* s, uint64_t v, int size) {
  for (int i = 0; i < size; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

std::string table(PclntabFormat f) {
  const std::string names("main.a\0main.b\0", 14);
  std::string t;
  uint32_t magic = f == PclntabFormat::kGo12 ? 0xfffffffb : f == PclntabFormat::kGo116 ? 0xfffffffa
                 : f == PclntabFormat::kGo118 ? 0xfffffff0 : 0xfffffff1;
  put(&t, magic, 4);
  t += std::string("\0\0\x01\x08", 4);
  if (f == PclntabFormat::kGo12) {
    put(&t, 2, 8);                        // nfunc
    const uint64_t funcs = 16 + 40;       // after the header and functab
    put(&t, kText, 8); put(&t, funcs, 8);
    put(&t, kText + 0x40, 8); put(&t, funcs + 16, 8);
    put(&t, kText + 0x80, 8);
    const uint64_t name_at = funcs + 32;  // name offsets are from the table's start
    put(&t, kText, 8); put(&t, name_at, 4); put(&t, 0, 4);
    put(&t, kText + 0x40, 8); put(&t, name_at + 7, 4); put(&t, 0, 4);
    return t + names;
  }
  const bool compact = f != PclntabFormat::kGo116;
  const uint64_t header = 8 + 8 * (compact ? 8 : 7);
  const uint64_t funcnames = header, pcln = header + names.size();
  put(&t, 2, 8);  // nfunc
  put(&t, 0, 8);  // nfiles
  if (compact) put(&t, kText, 8);
  put(&t, funcnames, 8);
  for (int i = 0; i < 3; ++i) put(&t, 0, 8);  // cu, filetab, pctab
  put(&t, pcln, 8);
  t += names;
  if (compact) {  // functab: (entryoff, funcoff) u32 pairs, then _func {entryoff, nameoff}
    put(&t, 0, 4); put(&t, 20, 4); put(&t, 0x40, 4); put(&t, 28, 4); put(&t, 0x80, 4);
    put(&t, 0, 4); put(&t, 0, 4); put(&t, 0x40, 4); put(&t, 7, 4);
  } else {  // functab: (entry, funcoff) pointer pairs, then _func {entry, nameoff}
    put(&t, kText, 8); put(&t, 40, 8); put(&t, kText + 0x40, 8); put(&t, 56, 8); put(&t, kText + 0x80, 8);
    put(&t, kText, 8); put(&t, 0, 4); put(&t, 0, 4); put(&t, kText + 0x40, 8); put(&t, 7, 4); put(&t, 0, 4);
  }
  return t;
}

TEST(Pclntab, ParsesEveryFormat) {
  for (auto f : {PclntabFormat::kGo12, PclntabFormat::kGo116, PclntabFormat::kGo118, PclntabFormat::kGo120}) {
    auto t = parse_gopclntab(table(f), 0);
    ASSERT_TRUE(t) << pclntab_format_name(f) << ": " << t.error().message;
    EXPECT_EQ(t->format, f);
    ASSERT_EQ(t->functions.size(), 2u) << pclntab_format_name(f);
    EXPECT_EQ(t->functions[0].name, "main.a");
    EXPECT_EQ(t->functions[0].entry, kText);
    EXPECT_EQ(t->functions[0].end, kText + 0x40);
    EXPECT_EQ(t->functions[1].name, "main.b");
    EXPECT_EQ(t->functions[1].end, kText + 0x80) << pclntab_format_name(f);
  }
}

TEST(Pclntab, UsesTheTextAddressWhenTheHeaderLeavesItToARelocation) {
  std::string t = table(PclntabFormat::kGo120);
  for (int i = 0; i < 8; ++i) t[8 + 16 + i] = 0;  // textStart = 0, as in PIE files
  auto parsed = parse_gopclntab(t, 0x2000);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->functions[1].entry, 0x2040u);
}

TEST(Pclntab, RejectsCorruptTables) {
  EXPECT_FALSE(parse_gopclntab("\x01\x02\x03\x04\0\0\x01\x08", 0));  // magic
  std::string t = table(PclntabFormat::kGo118);
  EXPECT_FALSE(parse_gopclntab(t.substr(0, 90), 0));  // truncated functab
  std::string bad_name = t;
  bad_name[bad_name.size() - 4] = 0x7f;  // main.b's name offset far outside
  EXPECT_FALSE(parse_gopclntab(bad_name, 0));
}

}  // namespace
}  // namespace probe
