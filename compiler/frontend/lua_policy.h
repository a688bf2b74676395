// Lua policies: a .lua file that returns a table shaped like the TOML policy, so users can
// generate many probes in a loop. It runs in a sandbox (no io/os/debug, no bytecode, a
// budget of instructions and memory). The result becomes the same Node tree the TOML front
// end produces; each key and string value is located in the Lua source (where the code that
// produced it is written), so diagnostics point into the Lua file.
#pragma once

#include <optional>

#include "compiler/diag/diagnostics.h"
#include "compiler/frontend/node.h"

namespace probe {

std::optional<Node> parse_lua_policy(const SourceFilePtr& file, Diagnostics& diags);

}  // namespace probe
