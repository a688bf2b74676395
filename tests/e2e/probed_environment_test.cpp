// probed refuses to run where it cannot, with one line that says why and exit code 2.
#include <gtest/gtest.h>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

std::string policy() { return test::source_dir() + "/policies/api-discovery.toml"; }

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(ProbedEnvironment, MissingBtfIsOneLineAndExitCode2) {
  auto [rc, out] = test::run({test::probed_path(), "run", "--policy", policy(), "--btf",
                              "/nonexistent/vmlinux"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("kernel BTF not found at /nonexistent/vmlinux"), std::string::npos) << out;
  EXPECT_EQ(count_lines(out), 1u) << out;
}

TEST(ProbedEnvironment, MissingPrivilegesIsOneLineAndExitCode2) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges with setpriv";
  auto setpriv = test::find_program("setpriv");
  if (!setpriv) GTEST_SKIP() << "setpriv (util-linux) is not installed";
  auto [rc, out] = test::run({*setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                              "--inh-caps=-all", test::probed_path(), "run", "--policy", policy()});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("missing privileges to load BPF programs"), std::string::npos) << out;
  EXPECT_EQ(count_lines(out), 1u) << out;
}

TEST(ProbedEnvironment, PolicyErrorsExitWith1) {
  test::TempDir dir;
  test::write_text(dir.file("bad.toml"), "[policy]\nname = \"bad\"\n[probe.x]\nupobe = \"f\"\n");
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  auto [rc, out] = test::run({test::probed_path(), "run", "--policy", dir.file("bad.toml")});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("bad.toml:4:1: error: unknown key 'upobe' in probe 'x'"), std::string::npos) << out;
  EXPECT_NE(out.find("hint: did you mean 'uprobe'?"), std::string::npos) << out;
}

}  // namespace
}  // namespace probe
