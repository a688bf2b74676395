// Locates tracefs (tracepoint formats and ids). Minimal systems do not mount it; as root we
// mount it at /sys/kernel/tracing, as bpftrace and perf do.
#pragma once

#include <string>

#include "common/result.h"

namespace probe {

// The tracefs root with an events/ directory, mounting it if needed and allowed.
Result<std::string> tracefs_root();

}  // namespace probe
