// When the kernel refuses a program, probed names the probe and where the policy defines it;
// an optional probe is left out and the rest of the policy runs.
#include <gtest/gtest.h>

#include "runtime/loader/features.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

constexpr char kPolicy[] = R"([policy]
name = "refused"
[probe.open]
fexit = "do_sys_openat2"
capture = [{ name = "rc", value = "ret", type = "i64" }]
%s
[probe.exec]
tracepoint = "sched:sched_process_exec"
)";

std::string policy(bool optional) {
  std::string p = kPolicy;
  p.replace(p.find("%s"), 2, optional ? "optional = true" : "");
  return p;
}

TEST(LoadErrors, RefusedProgramIsReportedAgainstThePolicy) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  if (kernel_features().trampolines)
    GTEST_SKIP() << "this kernel accepts fentry/fexit, so it cannot show a refused program";
  test::TempDir dir;
  test::write_text(dir.file("p.toml"), policy(false));
  auto [rc, out] = test::run({test::probed_path(), "run", "--policy", dir.file("p.toml"), "--cache-dir",
                              dir.file("cache"), "--duration", "1"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find(dir.file("p.toml") + ":3:8: probe 'open': the kernel refused its fexit program"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("hint: this kernel does not allow fentry/fexit programs"), std::string::npos) << out;
}

TEST(LoadErrors, OptionalProbeIsSkippedAndTheRestRuns) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  if (kernel_features().trampolines)
    GTEST_SKIP() << "this kernel accepts fentry/fexit, so nothing is refused";
  test::TempDir dir;
  test::write_text(dir.file("p.toml"), policy(true));
  auto [rc, out] = test::run({test::probed_path(), "run", "--policy", dir.file("p.toml"), "--cache-dir",
                              dir.file("cache"), "--duration", "1"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("(optional probe, skipped)"), std::string::npos) << out;
  EXPECT_NE(out.find("attached exec (tracepoint sched:sched_process_exec)"), std::string::npos) << out;
}

}  // namespace
}  // namespace probe
