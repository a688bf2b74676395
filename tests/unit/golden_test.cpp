// Golden tests: each tests/golden/check/<case>.{toml,lua} is checked with `probec check` and
// its diagnostics (and exit code) must equal <case>.expected exactly; each
// tests/golden/emit-c/<case>.toml must generate exactly <case>.c.
// Regenerate after an intended change:  PROBEKIT_UPDATE_GOLDENS=1 ctest -R golden
// (then review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> cases(const std::string& dir, std::vector<std::string> exts) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(test::source_dir() + "/tests/golden/" + dir, ec)) {
    std::string ext = e.path().extension();
    if (e.is_regular_file() && std::find(exts.begin(), exts.end(), ext) != exts.end())
      out.push_back(e.path().filename());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool updating() {
  const char* v = std::getenv("PROBEKIT_UPDATE_GOLDENS");
  return v && *v && std::string(v) != "0";
}

// Runs probec from the source directory so paths in messages are stable.
std::pair<int, std::string> probec(const std::vector<std::string>& args, std::string* out = nullptr) {
  std::vector<std::string> argv = {"/bin/sh", "-c", ""};
  std::string cmd = "cd '" + test::source_dir() + "' && exec '" + test::probec_path() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  argv[2] = cmd + (out ? " 2>/dev/null" : " 2>&1 >/dev/null");
  test::Process p(argv);
  auto rc = p.wait(std::chrono::seconds(60));
  std::string text;
  for (const auto& l : p.stdout_lines()) text += l + "\n";
  if (out) *out = text;
  return {rc.value_or(-1), text};
}

void compare_or_update(const std::string& expected_path, const std::string& actual) {
  if (updating()) {
    std::ofstream(expected_path) << actual;
    return;
  }
  auto expected = read_file(expected_path);
  ASSERT_TRUE(expected) << "missing " << expected_path << " (run with PROBEKIT_UPDATE_GOLDENS=1)";
  EXPECT_EQ(actual, *expected) << "golden " << expected_path;
}

class CheckGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckGolden, DiagnosticsMatch) {
  std::string rel = "tests/golden/check/" + GetParam();
  auto [rc, text] = probec({"check", rel});
  std::string actual = "# exit " + std::to_string(rc) + "\n" + text;
  std::string stem = GetParam().substr(0, GetParam().rfind('.'));
  compare_or_update(test::source_dir() + "/tests/golden/check/" + stem + ".expected", actual);
}

INSTANTIATE_TEST_SUITE_P(Policies, CheckGolden, ::testing::ValuesIn(cases("check", {".toml", ".lua"})),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
                           return n;
                         });

class EmitCGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EmitCGolden, GeneratedCodeMatches) {
  std::string rel = "tests/golden/emit-c/" + GetParam();
  std::string out;
  // Host checks stay on: tracepoint layouts and kernel function arity come from this machine.
  auto [rc, err] = probec({"emit-c", rel}, &out);
  ASSERT_EQ(rc, 0) << err;
  std::string stem = GetParam().substr(0, GetParam().rfind('.'));
  compare_or_update(test::source_dir() + "/tests/golden/emit-c/" + stem + ".c", out);
}

INSTANTIATE_TEST_SUITE_P(Policies, EmitCGolden, ::testing::ValuesIn(cases("emit-c", {".toml"})),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
                           return n;
                         });

}  // namespace
}  // namespace probe
