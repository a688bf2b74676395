#include "runtime/loader/kernel_check.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace probe {

Result<KernelVersion> parse_kernel_release(const std::string& release) {
  KernelVersion v;
  if (std::sscanf(release.c_str(), "%d.%d.%d", &v.major, &v.minor, &v.patch) < 2)
    return make_error("cannot parse kernel release '{}'", release);
  return v;
}

bool at_least(const KernelVersion& v, int major, int minor) {
  return v.major > major || (v.major == major && v.minor >= minor);
}

Status check_kernel_support(const KernelCheckOptions& options) {
  std::string release = options.release;
  if (release.empty()) {
    utsname u{};
    uname(&u);
    release = u.release;
  }
  PROBE_ASSIGN_OR_RETURN(KernelVersion v, parse_kernel_release(release));
  PROBE_ASSIGN_OR_RETURN(KernelVersion need, parse_kernel_release(options.min_version));
  if (!at_least(v, need.major, need.minor))
    return make_error(
        "kernel {} is too old: probekit needs Linux {}.{} or later (BPF ring buffer, CO-RE)", release,
        need.major, need.minor);
  struct stat st;
  if (stat(options.btf_path.c_str(), &st) != 0 || st.st_size == 0)
    return make_error("kernel BTF not found at {} ({}): probekit needs a kernel built with "
                      "CONFIG_DEBUG_INFO_BTF=y",
                      options.btf_path, std::strerror(errno));
  return {};
}

Status check_bpf_privileges() {
  std::ifstream status("/proc/self/status");
  std::string line;
  unsigned long long caps = 0;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) caps = std::stoull(line.substr(7), nullptr, 16);
  constexpr int kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;
  auto has = [&](int cap) { return (caps >> cap) & 1ull; };
  if (has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon))) return {};
  return make_error("missing privileges to load BPF programs: need CAP_BPF and CAP_PERFMON, or "
                    "CAP_SYS_ADMIN (run probed as root)");
}

}  // namespace probe
