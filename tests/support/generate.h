// The front end and code generation of a policy file, without host checks (no files or
// kernel facts needed), as the unit tests of generated code and manifests use them.
#pragma once

#include <optional>
#include <string>

#include "compiler/codegen/codegen.h"

namespace probe::test {

// Reports diagnostics as a test failure and returns nothing when the policy has errors.
std::optional<GeneratedProgram> generate_without_host_checks(const std::string& policy_path);

}  // namespace probe::test
