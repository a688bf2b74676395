// What this kernel can do beyond the 5.8 baseline, found by trying it (not by version).
#pragma once

#include <string>

namespace probe {

struct KernelFeatures {
  bool kprobes = false;      // kprobe PMU present (CONFIG_KPROBES)
  bool trampolines = false;  // fentry/fexit programs load (BPF trampolines allowed)
  std::string trampolines_error;
};

// Probed once per process.
const KernelFeatures& kernel_features();

}  // namespace probe
