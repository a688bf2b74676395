#include <gtest/gtest.h>

#include <map>

#include "runtime/sinks/env_subst.h"

namespace probe {
namespace {

EnvLookup fake(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EnvSubst, UsesTheVariableOrTheDefault) {
  std::string t = "${METRIST_ORCHESTRATOR_ENDPOINT:-127.0.0.1:51712}";
  EXPECT_EQ(*substitute_env(t, fake({})), "127.0.0.1:51712");
  EXPECT_EQ(*substitute_env(t, fake({{"METRIST_ORCHESTRATOR_ENDPOINT", "10.0.0.1:9"}})), "10.0.0.1:9");
  EXPECT_EQ(*substitute_env(t, fake({{"METRIST_ORCHESTRATOR_ENDPOINT", ""}})), "127.0.0.1:51712");
  EXPECT_EQ(*substitute_env("a${X}b${Y:-}c", fake({{"X", "1"}})), "a1bc");
  EXPECT_EQ(*substitute_env("plain", fake({})), "plain");
}

TEST(EnvSubst, ReportsMissingVariablesAndBadSyntax) {
  auto r = substitute_env("${NOPE}", fake({}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "environment variable NOPE is not set (in '${NOPE}')");
  EXPECT_FALSE(substitute_env("${OPEN", fake({})));
  EXPECT_FALSE(substitute_env("${:-x}", fake({})));
}

}  // namespace
}  // namespace probe
