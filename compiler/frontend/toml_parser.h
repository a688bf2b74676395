// Parses TOML text with toml++ into a located Node tree. Syntax errors become diagnostics.
#pragma once

#include <optional>

#include "compiler/diag/diagnostics.h"
#include "compiler/frontend/node.h"

namespace probe {

std::optional<Node> parse_toml(const SourceFilePtr& file, Diagnostics& diags);

}  // namespace probe
