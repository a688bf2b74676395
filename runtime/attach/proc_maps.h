// Executable file mappings of a process, read from /proc/PID/maps, with a path probed can
// open from its own mount namespace (/proc/PID/root/... or /proc/PID/map_files/... for a
// deleted file), so libraries inside containers are found and attached.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace probe {

struct MappedFile {
  std::string path;       // as the process sees it
  std::string host_path;  // openable from probed
  uint64_t dev = 0;       // makedev(major, minor) from the maps line
  uint64_t inode = 0;
};

// Distinct executable file mappings of `pid` (empty if the process is gone).
std::vector<MappedFile> executable_mappings(pid_t pid, const std::string& proc = "/proc");
// Parses maps text (for tests).
std::vector<MappedFile> parse_executable_mappings(const std::string& maps, pid_t pid,
                                                  const std::string& proc = "/proc");
// Every numeric entry of /proc.
std::vector<pid_t> all_pids(const std::string& proc = "/proc");

}  // namespace probe
