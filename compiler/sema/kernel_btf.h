// Kernel function prototypes from the running kernel's BTF (/sys/kernel/btf/vmlinux): arity
// and parameter names for fentry/fexit/kprobe probes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

struct KernelFunction {
  std::vector<std::string> params;  // parameter names (may be empty strings)
  bool returns_void = false;
};

// The function, nullopt if the kernel has no such function; `near` gets close names.
Result<std::optional<KernelFunction>> find_kernel_function(const std::string& name,
                                                          std::vector<std::string>* near);

}  // namespace probe
