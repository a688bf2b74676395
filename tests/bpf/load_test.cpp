// The shipped policy's object passes the kernel verifier on this machine.
#include <gtest/gtest.h>

#include <bpf/libbpf.h>

#include "compiler/artifact/artifact.h"
#include "runtime/loader/bpf_object.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

TEST(BpfLoad, ApiDiscoveryPassesTheVerifier) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  std::string out = dir.file("api.pko");
  auto [rc, text] = test::run({test::probec_path(), "compile",
                               test::source_dir() + "/policies/api-discovery.toml", "-o", out,
                               "--cache-dir", dir.file("cache")});
  ASSERT_EQ(rc, 0) << text;
  auto artifact = read_artifact(out);
  ASSERT_TRUE(artifact) << artifact.error().message;
  install_libbpf_logger();
  auto obj = BpfObject::load(*artifact, "");
  ASSERT_TRUE(obj) << obj.error().message;
  for (const auto& p : artifact->manifest.probes) {
    if (!p.entry_program.empty()) {
      EXPECT_NE((*obj)->program(p.entry_program), nullptr);
    }
    if (!p.return_program.empty()) {
      EXPECT_NE((*obj)->program(p.return_program), nullptr);
    }
  }
  EXPECT_GE((*obj)->events_fd(), 0);
  auto counters = (*obj)->read_counters();
  ASSERT_EQ(counters.size(), artifact->manifest.probes.size());
  EXPECT_EQ(counters[0].hits, 0u);
}

}  // namespace
}  // namespace probe
