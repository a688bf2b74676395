// Front end entry point: policy file → validated ProbePlan, or diagnostics.
#pragma once

#include <optional>
#include <string>

#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"
#include "compiler/sema/context.h"

namespace probe {

// Reads and checks the policy at `path`. Returns the plan when there are no errors; warnings
// may still be present in `diags`.
std::optional<plan::Plan> analyze_policy_file(const std::string& path, const SemaOptions& options,
                                              Diagnostics& diags);
// Same, from text already in memory (tests, fuzzing). `path` names it in diagnostics.
std::optional<plan::Plan> analyze_policy_text(const std::string& path, std::string text,
                                              const SemaOptions& options, Diagnostics& diags);

}  // namespace probe
