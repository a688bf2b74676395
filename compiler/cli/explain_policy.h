// `probec explain POLICY`: for each user-space function probe of a policy, where probed would
// attach it in each file its target resolves to on this machine — the same plan probed makes
// (compiler/placement/site_plan.h), with the analysis' reasons.
#pragma once

#include <string>

namespace probe {

// Returns the process exit code.
int explain_policy(const std::string& policy_path);

}  // namespace probe
