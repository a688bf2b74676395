// Turns libbpf's load log into a message about the policy: which probe's program the kernel
// refused, where the probe is written, why, and the verifier lines that matter.
#pragma once

#include <optional>
#include <string>

#include "compiler/artifact/manifest.h"

namespace probe {

struct LoadFailure {
  std::string program;       // BPF program libbpf reported
  std::string reason;        // "Permission denied", "Invalid argument", ...
  std::string verifier_tail; // last lines of the verifier log, or CO-RE relocation errors
};

// Finds the failing program in a captured libbpf log.
std::optional<LoadFailure> parse_load_log(const std::string& log);
// The probe that owns a program.
const ProbeManifest* probe_of_program(const Manifest& m, const std::string& program);
// "probe 'x' (policy.toml:3:8): the kernel refused its fentry program ...: reason" + tail.
std::string describe_load_failure(const Manifest& m, const LoadFailure& f);

}  // namespace probe
