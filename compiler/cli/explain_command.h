// `probec explain`: where probekit's placement analysis would put a function's uprobe in each
// file — which instruction, whether the kernel emulates it or single-steps it, why that is
// safe for this exact build, or why it falls back to the symbol's entry (common/probe_placement.h).
#pragma once

#include <string>
#include <vector>

namespace probe {

// `args` are the words after "explain". Returns the process exit code.
int run_explain(const std::vector<std::string>& args);

}  // namespace probe
