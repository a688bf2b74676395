// ProbePlan → BPF C source + manifest. Output depends only on the plan and the stdlib: the
// same policy always yields the same bytes (no timestamps, host paths or map-order effects).
#pragma once

#include <optional>
#include <string>

#include "compiler/artifact/manifest.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"

namespace probe {

struct GeneratedProgram {
  std::string source;  // BPF C, one translation unit
  Manifest manifest;
};

std::optional<GeneratedProgram> generate(const plan::Plan& plan, Diagnostics& diags);

// Where a plan element came from, as "file:line:col", for runtime messages.
std::string location_string(const SourceRange& r);

}  // namespace probe
