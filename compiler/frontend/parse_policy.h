// Parses a policy document — TOML, or Lua returning the same structure — into a Node tree.
#pragma once

#include <optional>

#include "compiler/diag/diagnostics.h"
#include "compiler/frontend/node.h"

namespace probe {

// Chooses the parser by file name: ".lua" runs a Lua policy, anything else is TOML.
std::optional<Node> parse_policy_source(const SourceFilePtr& file, Diagnostics& diags);

}  // namespace probe
