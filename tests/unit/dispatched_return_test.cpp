// The dispatched-return placement (one site per SSL_read call, arguments and result together):
// on synthetic read paths, each rule that keeps it correct refuses the shape that breaks it;
// on the system libssl it finds the site the reference disassembly shows (ssl3_read_internal's
// `je` after the record layer's indirect call) and covers SSL_read_ex.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/dispatch_fixture.h"

namespace probe {
namespace {

constexpr char kLibssl[] = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

// One file's analysis context, placing return probes with dispatch tables.
struct File : test::PlacementFile {
  using PlacementFile::PlacementFile;
  bool ok() const { return PlacementFile::ok() && branches->complete(); }
  Placement place(const std::string& fn, const std::vector<std::string>& tables, bool site_args = true,
                  const std::vector<std::string>& reads = {"rdi", "rsi"}) {
    PlacementRequest req;
    req.function = fn;
    req.side = ProbeSide::kReturn;
    req.dispatch_tables = tables;
    req.site_args_allowed = site_args;
    req.reads = test::gpr_reads(reads);
    auto p = place_probe(context(), req);
    EXPECT_TRUE(p) << p.error().message;
    return p ? *p : Placement{};
  }
};

std::string all(const Placement& p) { return test::explanation_text(p); }

class DispatchedSynthetic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto [lib, why] = test::build_dispatch_library(*dir_);
    why_ = why;
    if (!lib.empty()) file_ = new File(lib);
  }
  static void TearDownTestSuite() {
    delete file_;
    delete dir_;
  }
  void SetUp() override {
    if (!file_) GTEST_SKIP() << why_;
    ASSERT_TRUE(file_->ok());
  }
  static test::TempDir* dir_;
  static File* file_;
  static std::string why_;
};
test::TempDir* DispatchedSynthetic::dir_ = nullptr;
File* DispatchedSynthetic::file_ = nullptr;
std::string DispatchedSynthetic::why_;

TEST_F(DispatchedSynthetic, OneSiteOnTheJccAfterTheIndirectCallWithArgumentsInCalleeSavedRegisters) {
  Placement p = file_->place("pk_rd", {"pk_rd_method", "pk_rd_client_method", "NoSuch_method"});
  ASSERT_EQ(p.kind, PlacementKind::kDispatchedReturnJcc) << all(p);
  ASSERT_EQ(p.sites.size(), 1u) << "no entry side: nothing is stashed";
  const ProbeSite& site = p.sites[0];
  EXPECT_EQ(site.role, ProbeSite::Role::kReturn);
  EXPECT_EQ(site.instruction.rfind("je ", 0), 0u) << site.instruction;
  EXPECT_EQ(site.handling, UprobeHandling::kEmulated);
  // The site is in the body, after the indirect call, never in the wrapper.
  EXPECT_GT(site.address, file_->address_of("pk_rd_mid"));
  ASSERT_TRUE(p.at_site);
  EXPECT_EQ(p.at_site->args[0], Gpr::kRbx);
  EXPECT_EQ(p.at_site->args[1], Gpr::kRbp);
  EXPECT_FALSE(p.at_site->args[2]) << "the length was not asked for";
  EXPECT_EQ(p.at_site->count_pointer, Gpr::kR14);
  EXPECT_EQ(p.at_site->zero_guard, Gpr::kR13) << "peek's route sets ecx = 1";
  EXPECT_EQ(p.covers, (std::vector<std::string>{"pk_rd", "pk_rd_ex"}));
  EXPECT_NE(all(p).find("rejoins"), std::string::npos) << all(p);
  EXPECT_TRUE(verify_placement(*file_->elf, p));
}

TEST_F(DispatchedSynthetic, TheLengthIsNotProvenToPassThroughSoReadingItFallsBack) {
  Placement p = file_->place("pk_rd", {"pk_rd_method"}, true, {"rdi", "rsi", "edx"});
  EXPECT_EQ(p.kind, PlacementKind::kPostCallJcc) << all(p);
  EXPECT_NE(all(p).find("no callee-saved register holds edx"), std::string::npos) << all(p);
}

TEST_F(DispatchedSynthetic, WithoutTablesOrWithAnEntryTimeThePostCallPlacementStays) {
  Placement none = file_->place("pk_rd", {});
  EXPECT_EQ(none.kind, PlacementKind::kPostCallJcc) << all(none);
  Placement timed = file_->place("pk_rd", {"pk_rd_method"}, false);
  EXPECT_EQ(timed.kind, PlacementKind::kPostCallJcc) << all(timed);
  EXPECT_NE(all(timed).find("entry time"), std::string::npos) << all(timed);
  Placement absent = file_->place("pk_rd", {"NoSuch_method"});
  EXPECT_EQ(absent.kind, PlacementKind::kPostCallJcc) << all(absent);
  EXPECT_NE(all(absent).find("none of the tables"), std::string::npos) << all(absent);
}

TEST_F(DispatchedSynthetic, OnlyAProbeThatAcceptsOtherCallersCallsMovesIntoTheSharedImplementation) {
  PlacementRequest req;
  req.function = "pk_rd";
  req.side = ProbeSide::kReturn;
  req.dispatch_tables = {"pk_rd_method"};
  req.site_args_allowed = true;
  req.allow_forwarding = false;  // placement = "auto"
  auto p = place_probe(file_->context(), req);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->kind, PlacementKind::kPostCallJcc) << all(*p);
  EXPECT_NE(all(*p).find("placement = \"shared\""), std::string::npos) << all(*p);
}

TEST_F(DispatchedSynthetic, TablesThatDisagreeOnTheImplementationAreRefused) {
  Placement p = file_->place("pk_rd", {"pk_rd_method", "pk_odd_method"});
  EXPECT_EQ(p.kind, PlacementKind::kPostCallJcc) << all(p);
  EXPECT_NE(all(p).find("no single implementation"), std::string::npos) << all(p);
}

TEST_F(DispatchedSynthetic, ARouteIntoTheBodyThatDoesNotSetTheGuardIsRefused) {
  Placement p = file_->place("pk_un", {"pk_un_method"});
  EXPECT_EQ(p.kind, PlacementKind::kPostCallJcc) << all(p);
  EXPECT_NE(all(p).find(fmt::format("0x{:x}", file_->address_of("pk_un_sneak") + 3)), std::string::npos)
      << "the unguarded jmp is named\n" << all(p);
}

TEST_F(DispatchedSynthetic, AJumpIntoThePathToTheSiteIsRefused) {
  Placement p = file_->place("pk_in", {"pk_in_method"});
  EXPECT_EQ(p.kind, PlacementKind::kPostCallJcc) << all(p);
  EXPECT_NE(all(p).find("inside the path to the site"), std::string::npos) << all(p);
}

// ---------------------------------------------------------------------------------------------

class DispatchedLibssl : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (stat(kLibssl, &st) != 0) GTEST_SKIP() << kLibssl << " is not installed (libssl3)";
    file_ = std::make_unique<File>(kLibssl);
    ASSERT_TRUE(file_->ok());
  }
  std::unique_ptr<File> file_;
};

const std::vector<std::string> kTlsTables = {"TLS_method",  "TLS_client_method",  "TLS_server_method",
                                             "DTLS_method", "DTLS_client_method", "TLSv1_2_method"};

TEST_F(DispatchedLibssl, SslReadReturnsAtOneEmulatedSiteThatAlsoCoversSslReadEx) {
  Placement p = file_->place("SSL_read", kTlsTables);
  ASSERT_EQ(p.kind, PlacementKind::kDispatchedReturnJcc) << all(p);
  ASSERT_EQ(p.sites.size(), 1u);
  EXPECT_EQ(p.sites[0].role, ProbeSite::Role::kReturn);
  EXPECT_EQ(p.sites[0].handling, UprobeHandling::kEmulated);
  EXPECT_EQ(p.sites[0].instruction.rfind("j", 0), 0u) << p.sites[0].instruction;
  // Outside SSL_read: the site is in the implementation every TLS method shares.
  uint64_t read = file_->address_of("SSL_read");
  EXPECT_TRUE(p.sites[0].address < read || p.sites[0].address >= read + 0x40) << p.sites[0].where;
  EXPECT_EQ(p.covers, (std::vector<std::string>{"SSL_read", "SSL_read_ex"}));
  ASSERT_TRUE(p.at_site);
  for (int i : {0, 1}) {
    ASSERT_TRUE(p.at_site->args[i]) << i;
    Gpr g = *p.at_site->args[i];
    EXPECT_TRUE(g == Gpr::kRbx || g == Gpr::kRbp || (g >= Gpr::kR12 && g <= Gpr::kR15)) << gpr_name(g);
  }
  EXPECT_NE(p.at_site->args[0], p.at_site->args[1]);
  EXPECT_TRUE(p.at_site->zero_guard) << "SSL_peek reaches the same body with peek = 1";
  EXPECT_TRUE(verify_placement(*file_->elf, p));
}

TEST_F(DispatchedLibssl, SslPeekIsTheGuardedRouteAndDtlsTablesAgree) {
  // The peek implementation in the same tables is refused by the guard check, not placed.
  Placement read = file_->place("SSL_read", kTlsTables);
  ASSERT_EQ(read.kind, PlacementKind::kDispatchedReturnJcc) << all(read);
  EXPECT_NE(all(read).find("other routes from"), std::string::npos) << all(read);
  EXPECT_NE(all(read).find("DTLS_method"), std::string::npos) << "DTLS dispatches to the same reader\n" << all(read);
}

}  // namespace
}  // namespace probe
