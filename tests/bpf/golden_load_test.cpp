// Every emit-c golden policy compiles to an object that this kernel's verifier accepts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "compiler/artifact/artifact.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/loader/features.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

std::vector<std::string> golden_policies() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(test::source_dir() + "/tests/golden/emit-c"))
    if (e.path().extension() == ".toml") out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenLoad : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLoad, PassesTheVerifier) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  std::string out = dir.file("p.pko");
  auto [rc, text] = test::run({test::probec_path(), "compile",
                               test::source_dir() + "/tests/golden/emit-c/" + GetParam(), "-o", out,
                               "--cache-dir", dir.file("cache")});
  ASSERT_EQ(rc, 0) << text;
  auto artifact = read_artifact(out);
  ASSERT_TRUE(artifact) << artifact.error().message;
  for (const auto& p : artifact->manifest.probes) {
    bool trampoline = p.kind == plan::ProbeKind::kFentry || p.kind == plan::ProbeKind::kFexit;
    if (trampoline && !kernel_features().trampolines)
      GTEST_SKIP() << "this kernel refuses fentry/fexit programs (" << kernel_features().trampolines_error << ")";
  }
  install_libbpf_logger();
  auto obj = BpfObject::load(*artifact, "");
  ASSERT_TRUE(obj) << obj.error().message;
  for (const auto& p : artifact->manifest.probes)
    for (const std::string* prog : {&p.entry_program, &p.return_program})
      if (!prog->empty()) {
        EXPECT_NE((*obj)->program(*prog), nullptr) << *prog;
      }
}

INSTANTIATE_TEST_SUITE_P(EmitC, GoldenLoad, ::testing::ValuesIn(golden_policies()), [](const auto& info) {
  std::string n = info.param;
  std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
  return n;
});

}  // namespace
}  // namespace probe
