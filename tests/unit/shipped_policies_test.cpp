// Every shipped policy and stdlib pack passes `probec check` on this machine, and every TOML
// policy validates against the JSON Schema that `probec schema` prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

namespace fs = std::filesystem;

// Policies are *.toml and *.policy.lua (other .lua files there are handler scripts).
std::vector<std::string> shipped_policies() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(test::source_dir() + "/policies")) {
    std::string p = e.path();
    if (p.size() > 5 && (p.ends_with(".toml") || p.ends_with(".policy.lua"))) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> stdlib_packs() {
  std::vector<std::string> out;
  std::string root = test::source_dir() + "/stdlib/packs/";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string p = e.path();
    if (p.ends_with(".toml")) out.push_back(p.substr(root.size(), p.size() - root.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedPolicies, EveryPolicyPassesCheck) {
  auto policies = shipped_policies();
  ASSERT_FALSE(policies.empty());
  for (const auto& p : policies) {
    auto [rc, out] = test::run({test::probec_path(), "check", p});
    EXPECT_EQ(rc, 0) << p << ":\n" << out;
  }
}

TEST(ShippedPolicies, EveryPackPassesCheck) {
  auto packs = stdlib_packs();
  ASSERT_FALSE(packs.empty());
  test::TempDir dir;
  for (const auto& pack : packs) {
    std::string policy = dir.file("uses-pack.toml");
    test::write_text(policy, "[policy]\nname = \"uses-pack\"\ninclude = [\"" + pack + "\"]\n");
    auto [rc, out] = test::run({test::probec_path(), "check", policy});
    EXPECT_EQ(rc, 0) << "pack " << pack << ":\n" << out;
  }
}

// Validates with Debian's python3-jsonschema, an implementation independent of ours.
std::pair<int, std::string> validate(const std::string& schema, const std::string& policy) {
  const char* script =
      "import json, sys, tomllib, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "doc = tomllib.load(open(sys.argv[2], 'rb'))\n"
      "jsonschema.validate(doc, schema)\n";
  return test::run({"/usr/bin/python3", "-c", script, schema, policy});
}

TEST(ShippedPolicies, TomlPoliciesMatchTheJsonSchema) {
  if (!test::find_program("python3")) GTEST_SKIP() << "python3 is not installed";
  auto [probe_rc, probe_out] = test::run({"/usr/bin/python3", "-c", "import jsonschema, tomllib"});
  if (probe_rc != 0) GTEST_SKIP() << "python3-jsonschema is not installed: " << probe_out;
  test::TempDir dir;
  std::string schema = dir.file("policy.schema.json");
  auto [rc, text] = test::run({test::probec_path(), "schema"});
  ASSERT_EQ(rc, 0);
  test::write_text(schema, text);
  for (const auto& p : shipped_policies()) {
    if (!p.ends_with(".toml")) continue;
    auto [vrc, vout] = validate(schema, p);
    EXPECT_EQ(vrc, 0) << p << ":\n" << vout;
  }
  // The schema is strict: a misspelled table is rejected, as probec rejects it.
  auto [bad_rc, bad_out] =
      validate(schema, test::source_dir() + "/tests/golden/check/unknown-top-level-key.toml");
  EXPECT_NE(bad_rc, 0) << bad_out;
  EXPECT_NE(bad_out.find("'probes' was unexpected"), std::string::npos) << bad_out;
}

}  // namespace
}  // namespace probe
