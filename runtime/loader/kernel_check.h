// What the kernel and our privileges allow, checked before anything is loaded, so a machine
// that cannot run probekit gets one clear line instead of a verifier dump.
#pragma once

#include <string>

#include "common/result.h"

namespace probe {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
};

// Parses a release string such as "6.1.0-18-amd64" or "5.4.0".
Result<KernelVersion> parse_kernel_release(const std::string& release);
bool at_least(const KernelVersion& v, int major, int minor);

struct KernelCheckOptions {
  std::string btf_path = "/sys/kernel/btf/vmlinux";
  std::string release;  // empty: uname()
  std::string min_version = "5.8";
};

// OK, or an error whose message is the single line to print.
Status check_kernel_support(const KernelCheckOptions& options);
// Whether the effective capabilities allow loading and attaching BPF programs.
Status check_bpf_privileges();

}  // namespace probe
