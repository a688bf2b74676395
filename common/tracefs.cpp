#include "common/tracefs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace probe {
namespace {

bool has_events(const std::string& root) {
  struct stat st;
  return stat((root + "/events").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<std::string> tracefs_root() {
  for (const char* p : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    if (has_events(p)) return std::string(p);
  if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 && has_events("/sys/kernel/tracing"))
    return std::string("/sys/kernel/tracing");
  int err = errno;
  return make_error("tracefs is not mounted and mounting it at /sys/kernel/tracing failed ({}); "
                    "run: mount -t tracefs nodev /sys/kernel/tracing",
                    std::strerror(err));
}

}  // namespace probe
