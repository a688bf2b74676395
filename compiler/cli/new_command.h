// `probec new --from-binary PATH`: writes a starting policy for a binary or library — its
// target, one probe per USDT probe with a capture per argument, and the functions a uprobe
// could attach to, as comments to pick from.
#pragma once

#include <string>
#include <vector>

namespace probe {

// `args` are the words after "new". Returns the process exit code.
int run_new(const std::vector<std::string>& args);

}  // namespace probe
