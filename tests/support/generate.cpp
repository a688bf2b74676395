#include "tests/support/generate.h"

#include <gtest/gtest.h>

#include "compiler/sema/sema.h"

namespace probe::test {

std::optional<GeneratedProgram> generate_without_host_checks(const std::string& policy_path) {
  Diagnostics diags;
  SemaOptions opts;
  opts.check_host = false;
  auto plan = analyze_policy_file(policy_path, opts, diags);
  std::optional<GeneratedProgram> g;
  if (plan) g = generate(*plan, diags);
  if (!g) ADD_FAILURE() << diags.format();
  return g;
}

}  // namespace probe::test
