// uprobe_multi links (kernel 6.6+): one link attaches a program to many offsets in one file,
// and releasing it costs one RCU grace period instead of one per site — the perf-event
// uprobes libbpf 1.1 creates are released one at a time under a global mutex. libbpf 1.1 has
// no API for it, so the link is created with the BPF_LINK_CREATE syscall directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

// BPF_TRACE_UPROBE_MULTI: programs attached this way must be loaded with this attach type.
constexpr uint32_t kAttachUprobeMulti = 48;

// Whether this kernel creates uprobe_multi links (probed once, by creating one).
bool uprobe_multi_supported();

// Creates the link; returns its fd (close it to detach). `cookies` (empty, or one per offset)
// are what bpf_get_attach_cookie returns at each site.
Result<int> attach_uprobe_multi(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                                bool retprobe, const std::vector<uint64_t>& cookies = {});

}  // namespace probe
