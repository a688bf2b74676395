// The site planner on this machine's libssl: what probed attaches for a policy's probes —
// forwarded probes cover the sibling wrapper's probe when their events are interchangeable and
// stay on their own function when not (no call reported twice), placement = "off" keeps the
// symbol, and `probec explain POLICY` prints the same plan.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "compiler/pipeline.h"
#include "compiler/placement/site_plan.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

constexpr char kLibssl[] = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

std::string write_probe(const std::string& name, const std::string& fn, const std::string& handler,
                        const std::string& placement) {
  std::string len_type = fn == "SSL_write" ? "int num" : "size_t num, size_t *written";
  return "[probe." + name + "]\ntarget = \"ssl\"\nuprobe = \"" + fn + "\"\nplacement = \"" + placement +
         "\"\nhandler = \"" + handler + "\"\nsignature = \"int " + fn + "(SSL *ssl, const void *buf, " +
         len_type + ")\"\ncapture = [{ name = \"ssl\", value = \"ssl\" }, { name = \"data\", value = \"buf\", "
         "type = \"bytes\", len = \"num\", max = 64 }]\n";
}

class SitePlan : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (stat(kLibssl, &st) != 0) GTEST_SKIP() << "libssl3 is not installed";
  }
  std::vector<ProbePlan> plan(const std::string& probes) {
    policy_ = dir_.file("p.toml");
    test::write_text(policy_, "[policy]\nname = \"plan\"\n[target.ssl]\nlibrary = \"libssl.so.3\"\n" + probes);
    Diagnostics diags;
    program_ = run_front_end(policy_, SemaOptions{}, diags);
    EXPECT_TRUE(program_) << diags.format(false);
    if (!program_) return {};
    std::vector<const ProbeManifest*> planned;
    for (const auto& p : program_->manifest.probes)
      if (planned_probe(p)) planned.push_back(&p);
    auto planner = FilePlanner::open(kLibssl);
    EXPECT_TRUE(planner);
    std::map<std::string, std::string> errors;
    auto plans = (*planner)->plan(planned, program_->manifest, &errors);
    EXPECT_TRUE(errors.empty());
    return plans;
  }
  const ProbePlan* find(const std::vector<ProbePlan>& plans, const std::string& name) {
    for (const auto& p : plans)
      if (p.probe->name == name) return &p;
    return nullptr;
  }
  test::TempDir dir_;
  std::string policy_;
  std::optional<GeneratedProgram> program_;
};

TEST_F(SitePlan, ASharedProbeCoversTheSiblingWrapperWithTheSameEvents) {
  auto plans = plan(write_probe("w", "SSL_write", "on_w", "shared") + write_probe("wx", "SSL_write_ex", "on_w", "shared"));
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(find(plans, "w")->placement.kind, PlacementKind::kForwardedInternalFunction);
  EXPECT_EQ(find(plans, "w")->sites.size(), 1u);
  EXPECT_EQ(find(plans, "wx")->covered_by, "w");
  EXPECT_TRUE(find(plans, "wx")->sites.empty()) << "attached once, so each call is one event";
}

TEST_F(SitePlan, ProbesWithDifferentEventsNeverBothSeeOneCall) {
  auto plans = plan(write_probe("w", "SSL_write", "on_w", "shared") + write_probe("wx", "SSL_write_ex", "on_other", "shared"));
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_NE(find(plans, "w")->placement.kind, PlacementKind::kForwardedInternalFunction);
  EXPECT_TRUE(find(plans, "wx")->covered_by.empty());
  // Disjoint sites: SSL_write_ex calls reach only wx's site.
  for (const auto& a : find(plans, "w")->sites)
    for (const auto& b : find(plans, "wx")->sites) EXPECT_NE(a.file_offset, b.file_offset);
}

TEST_F(SitePlan, AutoNeverForwardsAndOffIsNotPlanned) {
  auto plans = plan(write_probe("w", "SSL_write", "on_w", "auto") + write_probe("off", "SSL_write_ex", "on_w", "off"));
  ASSERT_EQ(plans.size(), 1u) << "placement = off attaches as written";
  EXPECT_NE(plans[0].placement.kind, PlacementKind::kForwardedInternalFunction);
  ASSERT_FALSE(plans[0].sites.empty());
  EXPECT_EQ(plans[0].sites[0].describe.find("single-stepped"), std::string::npos) << plans[0].summary();
}

TEST_F(SitePlan, ReturnAfterTheInternalCallCarriesItsResultRecipe) {
  auto plans = plan(R"TOML([probe.r]
target = "ssl"
uretprobe = "SSL_read"
signature = "int SSL_read(SSL *ssl, void *buf, int num)"
capture = [{ name = "rc", value = "ret" }]
)TOML");
  ASSERT_EQ(plans.size(), 1u);
  ASSERT_EQ(plans[0].placement.kind, PlacementKind::kPostCallJcc) << plans[0].summary();
  bool recipe = false;
  for (const auto& s : plans[0].sites)
    if (s.role == ProbeSite::Role::kReturn) recipe = s.recipe == ResultRecipe::kCountAtRsp;
  EXPECT_TRUE(recipe) << "the byte count is read from the wrapper's stack slot, not rax";
}

TEST_F(SitePlan, ProbecExplainPolicyPrintsThePlan) {
  auto [rc, out] = test::run({test::probec_path(), "explain", test::source_dir() + "/tests/unit/data/openssl-plaintext.toml"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ssl_write (uprobe SSL_write, placement shared): forwarded-internal-function"), std::string::npos) << out;
  EXPECT_NE(out.find("ssl_write_ex (uprobe SSL_write_ex, placement shared): covered by probe 'ssl_write'"), std::string::npos) << out;
  EXPECT_NE(out.find("ssl_read (uretprobe SSL_read, placement auto): post-call-jcc"), std::string::npos) << out;
}

}  // namespace
}  // namespace probe
