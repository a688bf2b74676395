#include "runtime/loader/bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstring>

#include "common/log.h"
#include "common/strings.h"
#include "stdlib/bpf/event.h"

namespace probe {
namespace {

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs arrive as one message of many kilobytes; size the buffer to fit.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(buf.data(), buf.size(), format, args);
  buf.resize(static_cast<size_t>(n));
  std::string msg(trim(buf));
  if (msg.empty()) return 0;
  if (level == LIBBPF_WARN) log::warn("libbpf: {}", msg);
  else log::debug("libbpf: {}", msg);
  return 0;
}

}  // namespace

void install_libbpf_logger() { libbpf_set_print(libbpf_print); }

BpfObject::BpfObject(bpf_object* obj, uint32_t probes) : obj_(obj), probes_(probes) {}
BpfObject::~BpfObject() { bpf_object__close(obj_); }

Result<std::unique_ptr<BpfObject>> BpfObject::load(const Artifact& artifact,
                                                   const std::string& btf_path) {
  std::string name = "pk_" + artifact.manifest.policy_name.substr(0, 12);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name.c_str(),
              .btf_custom_path = btf_path.empty() ? nullptr : btf_path.c_str());
  bpf_object* obj = bpf_object__open_mem(artifact.object.data(), artifact.object.size(), &opts);
  if (!obj) return make_error("cannot open BPF object: {}", std::strerror(errno));
  auto owner = std::unique_ptr<BpfObject>(new BpfObject(obj, artifact.manifest.probe_count));
  // One scratch record per possible CPU.
  if (bpf_map* scratch = bpf_object__find_map_by_name(obj, "pk_scratch_map")) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return make_error("cannot count possible CPUs");
    bpf_map__set_max_entries(scratch, static_cast<uint32_t>(cpus));
  }
  if (int err = bpf_object__load(obj); err != 0)
    return make_error("the kernel rejected the BPF object: {} (run with --log-level debug for the "
                      "verifier log)",
                      std::strerror(-err));
  return owner;
}

bpf_program* BpfObject::program(const std::string& name) const {
  return bpf_object__find_program_by_name(obj_, name.c_str());
}

bpf_map* BpfObject::map(const std::string& name) const {
  return bpf_object__find_map_by_name(obj_, name.c_str());
}

int BpfObject::events_fd() const {
  bpf_map* m = map("pk_events");
  return m ? bpf_map__fd(m) : -1;
}

std::vector<ProbeCounters> BpfObject::read_counters() const {
  std::vector<ProbeCounters> out(probes_);
  bpf_map* m = map("pk_stats");
  if (!m) return out;
  int fd = bpf_map__fd(m);
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> values(static_cast<size_t>(cpus > 0 ? cpus : 1));
  for (uint32_t p = 0; p < probes_; ++p) {
    uint64_t sums[PK_NSTATS] = {};
    for (uint32_t s = 0; s < PK_NSTATS; ++s) {
      uint32_t key = p * PK_NSTATS + s;
      if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) continue;
      for (uint64_t v : values) sums[s] += v;
    }
    out[p] = {sums[PK_STAT_HITS],        sums[PK_STAT_EMITTED],     sums[PK_STAT_FILTERED],
              sums[PK_STAT_RINGBUF_DROPS], sums[PK_STAT_READ_ERRORS], sums[PK_STAT_MAP_FULL],
              sums[PK_STAT_NO_ENTRY],    sums[PK_STAT_TRUNCATED]};
  }
  return out;
}

}  // namespace probe
