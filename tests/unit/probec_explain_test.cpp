// `probec explain`, run as the built binary against this machine's libssl and synthetic code.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/env.h"
#include "tests/support/process.h"
#include "tests/unit/placement_fixture.h"

namespace probe {
namespace {

constexpr char kLibssl[] = "/usr/lib/x86_64-linux-gnu/libssl.so.3";

bool has_libssl() {
  struct stat st;
  return stat(kLibssl, &st) == 0;
}

std::pair<int, std::string> explain(std::vector<std::string> args) {
  args.insert(args.begin(), {test::probec_path(), "explain"});
  return test::run(args);
}

TEST(ProbecExplain, SslWriteGoesToTheSharedInternalFunction) {
  if (!has_libssl()) GTEST_SKIP() << "libssl3 is not installed";
  auto [rc, out] = explain({"--binary", kLibssl, "SSL_write", "--args", "rdi,rsi,edx"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("SSL_write: entry probe -> forwarded-internal-function"), std::string::npos) << out;
  EXPECT_NE(out.find("`push r14` [41 56]  emulated"), std::string::npos) << out;
  EXPECT_NE(out.find("covers SSL_write, SSL_write_ex"), std::string::npos) << out;
  EXPECT_NE(out.find("build-id "), std::string::npos) << out;
  EXPECT_NE(out.find("single-step (XOL)"), std::string::npos) << "says why the entry is not used\n" << out;
}

TEST(ProbecExplain, SslReadReturnIsThePostCallJcc) {
  if (!has_libssl()) GTEST_SKIP() << "libssl3 is not installed";
  auto [rc, out] = explain({"--library", "libssl.so.3", "SSL_read", "--return"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("SSL_read: return probe -> post-call-jcc"), std::string::npos) << out;
  EXPECT_NE(out.find("SSL_read+0x1e  `call"), std::string::npos) << out;
  EXPECT_NE(out.find("SSL_read+0x25  `jle"), std::string::npos) << out;
  EXPECT_NE(out.find("never on the `test`"), std::string::npos) << out;
  EXPECT_NE(out.find("result: "), std::string::npos) << out;
}

TEST(ProbecExplain, SaysWhyItFallsBack) {
  test::TempDir dir;
  auto [lib, why] = test::build_placement_library(dir);
  if (lib.empty()) GTEST_SKIP() << why;
  auto [rc, out] = explain({"--binary", lib, "pk_victim"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("-> fallback"), std::string::npos) << out;
  EXPECT_NE(out.find("branches to"), std::string::npos) << out;
  auto [rc2, cet] = explain({"--binary", lib, "pk_cet_entry", "--args", "%rdi"});
  ASSERT_EQ(rc2, 0) << cet;
  EXPECT_NE(cet.find("first-emulated-instruction"), std::string::npos) << cet;
  EXPECT_NE(cet.find("pk_cet_entry+0x4  `push rbp`"), std::string::npos) << cet;
}

TEST(ProbecExplain, RejectsBadRequests) {
  auto [rc, out] = explain({"SSL_write"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("which file?"), std::string::npos) << out;
  auto [rc2, out2] = explain({"--binary", "/bin/true", "main", "--args", "xmm0"});
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("not a general-purpose register"), std::string::npos) << out2;
  if (!has_libssl()) return;
  auto [rc3, out3] = explain({"--binary", kLibssl, "SSL_wrte"});
  EXPECT_EQ(rc3, 1);
  EXPECT_NE(out3.find("not found"), std::string::npos) << out3;
  EXPECT_NE(out3.find("SSL_write"), std::string::npos) << "did-you-mean hint\n" << out3;
}

}  // namespace
}  // namespace probe
