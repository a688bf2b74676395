#include "runtime/loader/features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace probe {
namespace {

// Loads "return 0" as an fentry program on a kernel function; the kernel answers whether
// trampolines are allowed here (some hardened or virtualised kernels refuse with EPERM).
bool probe_trampolines(std::string* error) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) {
    *error = "no kernel BTF";
    return false;
  }
  int id = btf__find_by_name_kind(vmlinux, "do_sys_openat2", BTF_KIND_FUNC);
  btf__free(vmlinux);
  if (id <= 0) {
    *error = "no do_sys_openat2 in the kernel BTF to probe with";
    return false;
  }
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
              .attach_btf_id = static_cast<__u32>(id));
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "pk_feature", "GPL", insns, 2, &opts);
  if (fd < 0) {
    *error = std::strerror(errno);
    return false;
  }
  close(fd);
  return true;
}

}  // namespace

const KernelFeatures& kernel_features() {
  static const KernelFeatures features = [] {
    KernelFeatures f;
    f.kprobes = access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0;
    f.trampolines = probe_trampolines(&f.trampolines_error);
    return f;
  }();
  return features;
}

}  // namespace probe
