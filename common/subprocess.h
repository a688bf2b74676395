// Runs a child program, feeding it stdin and collecting stdout and stderr without deadlock.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

struct ProcessOutput {
  int exit_code = -1;  // exit status, or 128+signal if killed by a signal
  std::string out;
  std::string err;
};

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, const std::string& input);

// Directory of the running executable (to find sibling binaries such as probec).
std::string self_exe_dir();

}  // namespace probe
