// Parses one in-kernel filter: `LHS OP LITERAL`, where LHS is a value expression or capture
// name, OP is one of == != < <= > >= prefix contains, and LITERAL an integer or "string".
#pragma once

#include <optional>
#include <string>

#include "compiler/diag/diagnostics.h"
#include "compiler/plan/plan.h"

namespace probe {

// `range` is the location of the TOML string holding the filter (its opening quote).
std::optional<plan::Filter> parse_filter(const std::string& text, const SourceRange& range,
                                         Diagnostics& diags);

}  // namespace probe
