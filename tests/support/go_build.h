// Builds a Go program (standard library only, no network) for tests, with one build cache
// shared by all tests and runs so the standard library compiles once per machine.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/support/env.h"

namespace probe::test {

// Returns the binary's path, or an empty path and why not (no Go toolchain, build error).
std::pair<std::string, std::string> build_go_program(const TempDir& dir, const std::string& name,
                                                     const std::string& source,
                                                     const std::vector<std::string>& flags = {});

}  // namespace probe::test
