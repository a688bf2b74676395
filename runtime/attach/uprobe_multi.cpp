#include "runtime/attach/uprobe_multi.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/elf_file.h"
#include "common/subprocess.h"

namespace probe {
namespace {

// The link_create layout of kernels with uprobe_multi (linux-libc-dev 6.1 predates it).
struct LinkCreateUprobeMulti {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;
  uint32_t pid;
  uint32_t pad;
};
constexpr uint32_t kUprobeMultiReturn = 1;

int link_create(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets, bool retprobe,
                const std::vector<uint64_t>& cookies = {}) {
  union {
    LinkCreateUprobeMulti attr;
    char bytes[128];
  } u;
  std::memset(&u, 0, sizeof u);
  u.attr.prog_fd = static_cast<uint32_t>(prog_fd);
  u.attr.attach_type = kAttachUprobeMulti;
  u.attr.path = reinterpret_cast<uint64_t>(path.c_str());
  u.attr.offsets = reinterpret_cast<uint64_t>(offsets.data());
  u.attr.cnt = static_cast<uint32_t>(offsets.size());
  if (!cookies.empty()) u.attr.cookies = reinterpret_cast<uint64_t>(cookies.data());
  u.attr.multi_flags = retprobe ? kUprobeMultiReturn : 0;
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &u, sizeof u));
}

// A function of this binary to attach a probe uprobe_multi link to.
extern "C" __attribute__((noinline, used)) int probekit_uprobe_multi_probe_target(int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

bool probe_support() {
  struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = static_cast<bpf_attach_type>(kAttachUprobeMulti));
  int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "pk_feature", "GPL", insns, 2, &opts);
  if (prog < 0) return false;
  std::string exe = "/proc/self/exe";
  bool ok = false;
  if (auto elf = ElfFile::open(exe)) {
    if (auto sym = elf->find_function("probekit_uprobe_multi_probe_target")) {
      if (auto off = elf->file_offset(sym->address)) {
        int link = link_create(prog, exe, {*off}, false);
        ok = link >= 0;
        if (link >= 0) close(link);
      }
    }
  }
  close(prog);
  return ok;
}

}  // namespace

bool uprobe_multi_supported() {
  // PROBEKIT_UPROBE_MULTI=0 forces one perf-event link per site (an escape hatch, and how the
  // attach benchmark measures the fallback).
  static const bool supported = [] {
    const char* env = std::getenv("PROBEKIT_UPROBE_MULTI");
    if (env && std::string(env) == "0") return false;
    return probe_support();
  }();
  return supported;
}

Result<int> attach_uprobe_multi(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                                bool retprobe, const std::vector<uint64_t>& cookies) {
  int fd = link_create(prog_fd, path, offsets, retprobe, cookies);
  if (fd < 0) return make_error("uprobe_multi link on {}: {}", path, std::strerror(errno));
  return fd;
}

}  // namespace probe
