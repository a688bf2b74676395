// Expands ${NAME} and ${NAME:-default} in sink settings at run time, so one compiled policy
// follows each node's environment (e.g. METRIST_ORCHESTRATOR_ENDPOINT).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/result.h"

namespace probe {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();
Result<std::string> substitute_env(const std::string& text, const EnvLookup& env);

}  // namespace probe
