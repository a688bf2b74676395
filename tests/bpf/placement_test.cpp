// The placement analysis checked against the running kernel: probes at the sites it chooses
// fire once per call with the values its recipes promise, and the kernel never single-steps
// them — a process whose probes were all emulated has no "[uprobes]" XOL area, while one hit
// on a single-stepped instruction creates it (the signal the reference measurements used).
// On a synthetic program built at test time, and on the system libssl with curl and nginx.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/probe_placement.h"
#include "tests/bpf/uprobe_counter.h"
#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/support/tls_server.h"
#include "tests/unit/placement_fixture.h"

namespace probe {
namespace {

using test::CounterOptions;
using test::TempDir;
using test::UprobeCounter;

constexpr int kIterations = 2000;

// Calls every synthetic function kIterations times once the file argv[2] exists (the test
// creates it after attaching), then reports whether the kernel created the XOL area here.
constexpr char kDriver[] = R"(#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int pk_write(void *ssl, const void *buf, int num);
int pk_write_ex(void *ssl, const void *buf, size_t num, size_t *written);
long pk_push_entry(long x);
long pk_cet_entry(long x);
long pk_nop5_entry(long x);
static int has_xol_area(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "[uprobes]")) found = 1;
  if (f) fclose(f);
  return found;
}
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  printf("ready\n");
  fflush(stdout);
  for (int waited = 0; access(argv[2], F_OK) != 0; waited++) {
    if (waited > 60000) return 2;
    usleep(1000);
  }
  char buf[256] = {0};
  size_t written = 0;
  long acc = 0;
  for (int i = 0; i < n; i++) {
    acc += pk_write(0, buf, 123);
    acc += pk_write_ex(0, buf, 77, &written);
    acc += pk_push_entry(i) + pk_cet_entry(i) + pk_nop5_entry(i);
  }
  printf("xol_area=%s acc=%ld\n", has_xol_area() ? "yes" : "no", acc);
  return 0;
}
)";

class PlacementOnKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    if (!test::find_program("cc")) GTEST_SKIP() << "needs a C compiler (cc)";
    test::write_text(dir_.file("pk.S"), test::placement_asm_source());
    test::write_text(dir_.file("main.c"), kDriver);
    exe_ = dir_.file("pk_driver");
    auto [rc, out] = test::run({"cc", "-O1", "-o", exe_, dir_.file("main.c"), dir_.file("pk.S")});
    ASSERT_EQ(rc, 0) << out;
  }

  Placement place(const std::string& fn, ProbeSide side = ProbeSide::kEntry) {
    auto elf = ElfFile::open(exe_);
    EXPECT_TRUE(elf) << elf.error().message;
    auto decoder = X86Decoder::create();
    auto branches = BranchIndex::build(*elf);
    EXPECT_TRUE(branches) << branches.error().message;
    PlacementContext ctx{*elf, *decoder, *branches};
    PlacementRequest req;
    req.function = fn;
    req.side = side;
    auto p = place_probe(ctx, req);
    EXPECT_TRUE(p) << p.error().message;
    return *p;
  }

  // Runs the driver with `counters` attached (they attach while it sleeps); returns its report.
  std::string run_driver(const std::function<void()>& attach) {
    std::string go = dir_.file("go");
    std::remove(go.c_str());
    test::Process driver({exe_, std::to_string(kIterations), go});
    EXPECT_TRUE(driver.wait_stdout([](const std::string& l) { return l == "ready"; },
                                   std::chrono::seconds(30)));
    attach();
    test::write_text(go, "");
    auto report = driver.wait_stdout([](const std::string& l) { return l.rfind("xol_area=", 0) == 0; },
                                     std::chrono::seconds(60));
    EXPECT_TRUE(report) << driver.stderr_text();
    driver.wait(std::chrono::seconds(10));
    return report.value_or("");
  }

  TempDir dir_;
  std::string exe_;
};

std::unique_ptr<UprobeCounter> must_attach(const std::string& path, const ProbeSite& site,
                                           CounterOptions options = {}) {
  auto c = UprobeCounter::attach(path, site.file_offset, options);
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

TEST_F(PlacementOnKernel, EmulatedSitesFireWithTheRecipesValuesAndNeverSingleStep) {
  Placement fwd = place("pk_write");
  ASSERT_EQ(fwd.kind, PlacementKind::kForwardedInternalFunction);
  Placement post = place("pk_write", ProbeSide::kReturn);
  ASSERT_EQ(post.kind, PlacementKind::kPostCallJcc);
  Placement push = place("pk_push_entry");
  ASSERT_EQ(push.kind, PlacementKind::kEntryAtSymbol);
  Placement cet = place("pk_cet_entry");
  ASSERT_EQ(cet.kind, PlacementKind::kFirstEmulatedInstruction);
  Placement nop5 = place("pk_nop5_entry");
  ASSERT_EQ(nop5.kind, PlacementKind::kEntryAtSymbol);

  std::map<std::string, std::unique_ptr<UprobeCounter>> c;
  std::string report = run_driver([&] {
    c["forwarded"] = must_attach(exe_, fwd.sites[0], test::summing_register(test::kPtRegsDx));
    c["call"] = must_attach(exe_, post.sites[0]);
    c["jcc"] = must_attach(exe_, post.sites[1], test::summing_stack_slot_when_eax_positive());
    c["push"] = must_attach(exe_, push.sites[0]);
    c["cet"] = must_attach(exe_, cet.sites[0]);
    c["nop5"] = must_attach(exe_, nop5.sites[0]);
  });
  for (const auto& [name, counter] : c) ASSERT_NE(counter, nullptr) << name;
  EXPECT_EQ(report.substr(0, 12), "xol_area=no ") << "an emulated site was single-stepped: " << report;
  // The internal function sees both wrappers; rdx there is each call's length.
  EXPECT_EQ(c["forwarded"]->hits(), 2u * kIterations);
  EXPECT_EQ(c["forwarded"]->sum(), uint64_t{123 + 77} * kIterations);
  // Post-call: eax is the status (1), the count is in the wrapper's stack slot.
  EXPECT_EQ(c["call"]->hits(), uint64_t{kIterations});
  EXPECT_EQ(c["jcc"]->hits(), uint64_t{kIterations});
  EXPECT_EQ(c["jcc"]->sum(), uint64_t{123} * kIterations);
  for (const char* name : {"push", "cet", "nop5"}) EXPECT_EQ(c[name]->hits(), uint64_t{kIterations}) << name;
}

// The symbol's own entry (`sub rsp, 0x18`): what probekit attached to before this analysis.
TEST_F(PlacementOnKernel, TheSymbolsSubEntryIsSingleStepped) {
  auto elf = ElfFile::open(exe_);
  auto sym = elf->find_function("pk_write");
  ASSERT_TRUE(sym);
  ProbeSite at_symbol;
  at_symbol.file_offset = *elf->file_offset(sym->address);
  std::unique_ptr<UprobeCounter> c;
  std::string report = run_driver([&] { c = must_attach(exe_, at_symbol); });
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->hits(), uint64_t{kIterations});
  EXPECT_EQ(report.substr(0, 13), "xol_area=yes ") << report;
}

TEST_F(PlacementOnKernel, Endbr64IsSingleStepped) {
  auto elf = ElfFile::open(exe_);
  auto sym = elf->find_function("pk_cet_entry");
  ASSERT_TRUE(sym);
  ProbeSite at_symbol;
  at_symbol.file_offset = *elf->file_offset(sym->address);
  std::unique_ptr<UprobeCounter> c;
  std::string report = run_driver([&] { c = must_attach(exe_, at_symbol); });
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->hits(), uint64_t{kIterations});
  EXPECT_EQ(report.substr(0, 13), "xol_area=yes ") << report;
}

// curl over TLS to nginx, both on the system libssl: the forwarded SSL_write site sees the
// request's bytes, and the SSL_read post-call Jcc sees every received byte in the stack slot.
TEST(PlacementOnLibssl, ForwardedWriteAndPostCallReadSeeWhatCurlSentAndReceived) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  auto curl = test::find_program("curl");
  if (!curl) GTEST_SKIP() << "needs curl";
  test::NginxTls server;
  if (server.error()) GTEST_SKIP() << *server.error();
  const std::string lib = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
  auto elf = ElfFile::open(lib);
  if (!elf) GTEST_SKIP() << elf.error().message;
  auto decoder = X86Decoder::create();
  auto branches = BranchIndex::build(*elf);
  ASSERT_TRUE(branches);
  PlacementContext ctx{*elf, *decoder, *branches};
  PlacementRequest write_req;
  write_req.function = "SSL_write";
  write_req.reads = {*parse_gpr("rsi"), *parse_gpr("edx")};
  PlacementRequest read_req;
  read_req.function = "SSL_read";
  read_req.side = ProbeSide::kReturn;
  auto write = place_probe(ctx, write_req);
  auto read = place_probe(ctx, read_req);
  ASSERT_TRUE(write && read);
  ASSERT_EQ(write->kind, PlacementKind::kForwardedInternalFunction) << write->explanation.back();
  ASSERT_EQ(read->kind, PlacementKind::kPostCallJcc) << read->explanation.back();
  ASSERT_TRUE(verify_placement(*elf, *write));
  ASSERT_TRUE(verify_placement(*elf, *read));

  // A copy of curl under its own name, so the comm filter ignores any other curl running.
  TempDir dir;
  std::string pkcurl = dir.file("pkcurl");
  std::filesystem::copy_file(*curl, pkcurl);
  std::filesystem::permissions(pkcurl, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add);
  auto w = must_attach(lib, write->sites[0], test::summing_register(test::kPtRegsDx, "pkcurl"));
  auto r = must_attach(lib, read->sites[1], test::summing_stack_slot_when_eax_positive("pkcurl"));
  ASSERT_TRUE(w && r);
  auto [rc, out] = test::run({pkcurl, "-sk", "--http1.1", "-o", "/dev/null", "-w",
                              "%{size_request} %{size_header} %{size_download}", server.url("/")});
  ASSERT_EQ(rc, 0) << out;
  uint64_t request = 0, header = 0, body = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "%lu %lu %lu", &request, &header, &body), 3) << out;
  EXPECT_EQ(w->hits(), 1u);
  EXPECT_EQ(w->sum(), request);
  EXPECT_GE(r->hits(), 1u);
  EXPECT_EQ(r->sum(), header + body) << "bytes received through SSL_read's post-call site";
}

}  // namespace
}  // namespace probe
