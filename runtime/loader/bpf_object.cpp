#include "runtime/loader/bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <thread>
#include <cstring>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/attach/uprobe_multi.h"
#include "runtime/loader/load_errors.h"
#include "stdlib/bpf/event.h"

namespace probe {
namespace {

// While a load runs, libbpf's messages are also kept here to explain a failure.
thread_local std::string* g_capture = nullptr;

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
  if (g_capture) *g_capture += buf;
  std::string msg(trim(buf));
  if (msg.empty()) return 0;
  // During a load, failures are explained by describe_load_failure; keep libbpf's own
  // warnings for --log-level debug.
  if (level == LIBBPF_WARN && !g_capture) log::warn("libbpf: {}", msg);
  else log::debug("libbpf: {}", msg);
  return 0;
}

// State that outlives a probe: the connections tls/stream.h follows (a request waiting for
// its response, the connection a TLS call is binding). A reloaded policy keeps using them.
constexpr const char* kSharedStateMaps[] = {"pk_stream_conns", "pk_stream_inflight"};

bool same_definition(const bpf_map* a, const bpf_map* b) {
  return bpf_map__type(a) == bpf_map__type(b) && bpf_map__key_size(a) == bpf_map__key_size(b) &&
         bpf_map__value_size(a) == bpf_map__value_size(b) && bpf_map__max_entries(a) == bpf_map__max_entries(b) &&
         bpf_map__map_flags(a) == bpf_map__map_flags(b);
}

}  // namespace

void install_libbpf_logger() { libbpf_set_print(libbpf_print); }

BpfObject::BpfObject(bpf_object* obj, uint32_t probes) : obj_(obj), probes_(probes) {}
BpfObject::~BpfObject() { bpf_object__close(obj_); }

Result<std::unique_ptr<BpfObject>> BpfObject::open_and_load(const Artifact& artifact,
                                                            const std::string& btf_path,
                                                            const std::set<std::string>& disabled,
                                                            const BpfObject* share_state_from,
                                                            std::string* log) {
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
  for (const auto& p : artifact.manifest.probes) {
    for (const std::string* prog : {&p.entry_program, &p.return_program}) {
      if (prog->empty()) continue;
      bpf_program* bp = bpf_object__find_program_by_name(obj, prog->c_str());
      if (!bp) continue;
      if (disabled.count(p.name)) bpf_program__set_autoload(bp, false);
      // On kernels with uprobe_multi links, uprobes use them (see attach/uprobe_multi.h).
      bool uprobe = p.kind == plan::ProbeKind::kUprobe || p.kind == plan::ProbeKind::kUretprobe;
      if (uprobe && uprobe_multi_supported())
        bpf_program__set_expected_attach_type(bp, static_cast<bpf_attach_type>(kAttachUprobeMulti));
      // fentry/fexit programs name their kernel function before load (BTF id resolution).
      if (p.kind == plan::ProbeKind::kFentry || p.kind == plan::ProbeKind::kFexit)
        bpf_program__set_attach_target(bp, 0, p.symbol.c_str());
    }
  }
  if (share_state_from) {
    for (const char* name : kSharedStateMaps) {
      bpf_map* mine = bpf_object__find_map_by_name(obj, name);
      bpf_map* theirs = share_state_from->map(name);
      if (!mine || !theirs || !same_definition(mine, theirs)) continue;
      if (bpf_map__reuse_fd(mine, bpf_map__fd(theirs)) != 0)
        return make_error("cannot share map {}: {}", name, std::strerror(errno));
      owner->shared_maps_.push_back(name);
    }
  }
  g_capture = log;
  int err = bpf_object__load(obj);
  g_capture = nullptr;
  if (err != 0) return make_error("{}", std::strerror(-err));
  return owner;
}

Result<std::unique_ptr<BpfObject>> BpfObject::load(const Artifact& artifact, const std::string& btf_path,
                                                   std::set<std::string>* skipped,
                                                   const BpfObject* share_state_from,
                                                   const std::set<std::string>& leave_out) {
  std::set<std::string> disabled = leave_out;
  // A program the kernel refuses fails the whole object; if it belongs to an optional probe,
  // load again without it.
  for (size_t attempt = 0; attempt <= artifact.manifest.probes.size(); ++attempt) {
    std::string log;
    auto obj = open_and_load(artifact, btf_path, disabled, share_state_from, &log);
    if (obj) {
      PROBE_TRY((*obj)->insert_overflow_series(artifact.manifest));
      if (skipped)
        for (const auto& name : disabled)
          if (!leave_out.count(name)) skipped->insert(name);
      return obj;
    }
    auto failure = parse_load_log(log);
    if (!failure) return make_error("the kernel rejected the BPF object: {}", obj.error().message);
    const ProbeManifest* p = probe_of_program(artifact.manifest, failure->program);
    std::string msg = describe_load_failure(artifact.manifest, *failure);
    if (!p || !p->optional || disabled.count(p->name)) return make_error("{}", msg);
    log::warn("{} (optional probe, skipped)", msg.substr(0, msg.find('\n')));
    disabled.insert(p->name);
  }
  return make_error("the kernel rejected the BPF object");
}

// Each metric map keeps one slot for the overflow series; inserting it now means a full map
// can always count what it could not label.
Status BpfObject::insert_overflow_series(const Manifest& m) {
  int cpus = libbpf_num_possible_cpus();
  for (const auto& metric : m.metrics) {
    bpf_map* map = this->map(metric.map);
    if (!map) return make_error("metric map {} is missing from the object", metric.map);
    std::vector<uint8_t> key(metric.key_size, 0);
    key[metric.overflow_offset] = 1;
    size_t stride = (metric.value_size + 7) / 8 * 8;  // per-CPU values are 8-byte aligned
    std::vector<uint8_t> zero(stride * static_cast<size_t>(cpus), 0);
    if (bpf_map_update_elem(bpf_map__fd(map), key.data(), zero.data(), BPF_NOEXIST) != 0)
      return make_error("cannot prepare metric {}: {}", metric.name, std::strerror(errno));
  }
  return {};
}

std::vector<uint32_t> BpfObject::program_ids() const {
  std::vector<uint32_t> ids;
  bpf_program* p = nullptr;
  bpf_object__for_each_program(p, obj_) {
    int fd = bpf_program__fd(p);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) ids.push_back(info.id);
  }
  return ids;
}

bool wait_programs_freed(const std::vector<uint32_t>& ids, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    bool any = false;
    for (uint32_t id : ids) {
      int fd = bpf_prog_get_fd_by_id(id);
      if (fd >= 0) {
        any = true;
        close(fd);
      }
    }
    if (!any) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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
