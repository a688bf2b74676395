// ProbePlan → BPF C source + manifest. Output depends only on the plan and the stdlib: the
// same policy always yields the same bytes (no timestamps, host paths or map-order effects).
#pragma once

#include <optional>
#include <string>

#include "compiler/artifact/manifest.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"

namespace probe {

// Which generated lines a probe produced, to report compiler errors against the policy.
struct GeneratedSpan {
  uint32_t first_line = 0;
  uint32_t last_line = 0;
  std::string probe;
  SourceRange range;
};

struct GeneratedProgram {
  std::string source;  // BPF C, one translation unit
  Manifest manifest;
  std::vector<GeneratedSpan> spans;
};

// Rewrites Clang's messages about generated code ("/pk/prog.bpf.c:24:32: error: ...") as
// diagnostics at the policy element that produced the line.
std::string explain_compile_errors(const GeneratedProgram& program, const std::string& clang_output);

std::optional<GeneratedProgram> generate(const plan::Plan& plan, Diagnostics& diags);

// Where a plan element came from, as "file:line:col", for runtime messages.
std::string location_string(const SourceRange& r);

}  // namespace probe
