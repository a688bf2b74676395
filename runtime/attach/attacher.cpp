#include "runtime/attach/attacher.h"

#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "common/elf_file.h"
#include "common/ld_cache.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/attach/uprobe_multi.h"

namespace probe {

const char* attach_state_name(AttachState s) {
  switch (s) {
    case AttachState::kAttached: return "attached";
    case AttachState::kPending: return "pending";
    case AttachState::kFailed: return "failed";
    case AttachState::kSkipped: return "skipped";
  }
  return "unknown";
}

std::vector<std::string> host_files(const TargetManifest& t) {
  std::vector<std::string> files =
      t.kind == plan::Target::Kind::kLibrary ? resolve_library(t.spec) : std::vector<std::string>{t.spec};
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](const std::string& f) { return access(f.c_str(), R_OK) != 0; }),
              files.end());
  return files;
}

Attacher::Attacher(const BpfObject& object, const Manifest& manifest, std::set<std::string> not_loaded,
                   std::optional<std::set<uint32_t>> owned)
    : object_(object), manifest_(manifest), not_loaded_(std::move(not_loaded)),
      owned_(manifest.probes.size(), !owned.has_value()) {
  if (owned)
    for (uint32_t id : *owned)
      if (id < owned_.size()) owned_[id] = true;
}

bool Attacher::owns_any() const { return std::find(owned_.begin(), owned_.end(), true) != owned_.end(); }

Attacher::~Attacher() { detach_all(); }

void Attacher::record(const ProbeManifest& p, std::string where, AttachState state, std::string reason) {
  records_.push_back({p.id, p.name, std::move(where), state, std::move(reason)});
}

Status Attacher::keep(uint32_t probe, bpf_link* link, const std::string& what) {
  if (!link) return make_error("cannot attach {}: {}", what, std::strerror(errno));
  links_.push_back({probe, link, -1});
  return {};
}

Status Attacher::attach_uprobe_program(uint32_t probe, const std::string& prog_name, bool retprobe,
                                       const std::string& path, const std::vector<uint64_t>& offsets,
                                       const std::vector<uint64_t>& cookies) {
  bpf_program* prog = object_.program(prog_name);
  if (!prog) return make_error("program {} is missing from the object", prog_name);
  if (uprobe_multi_supported()) {
    // One link for every site in the file: attaching and releasing it costs about as much as
    // one site does.
    PROBE_ASSIGN_OR_RETURN(int fd, attach_uprobe_multi(bpf_program__fd(prog), path, offsets, retprobe, cookies));
    links_.push_back({probe, nullptr, fd});
    return {};
  }
  for (size_t i = 0; i < offsets.size(); ++i) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookies.empty() ? 0 : cookies[i], .retprobe = retprobe);
    PROBE_TRY(keep(probe, bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), offsets[i], &opts),
                   fmt::format("{} at {}+0x{:x}", retprobe ? "uretprobe" : "uprobe", path, offsets[i])));
  }
  return {};
}

// File offsets of the functions a probe names: one, or every match of a pattern.
static Result<std::vector<uint64_t>> probe_offsets(const ProbeManifest& p, const ElfFile& elf,
                                                   const std::string& shown) {
  std::vector<uint64_t> offsets;
  if (is_function_pattern(p.symbol)) {
    for (const auto& sym : elf.match_functions(p.symbol)) {
      PROBE_ASSIGN_OR_RETURN(uint64_t off, elf.file_offset(sym.address));
      offsets.push_back(off);
    }
    if (offsets.empty()) return make_error("no function matches '{}' in {}", p.symbol, shown);
    return offsets;
  }
  auto sym = elf.find_function(p.symbol);
  if (!sym) {
    auto near = elf.nearest_functions(p.symbol, 1);
    return make_error("function '{}' not found in {}{}", p.symbol, shown,
                      near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near[0]));
  }
  PROBE_ASSIGN_OR_RETURN(uint64_t off, elf.file_offset(sym->address + p.offset));
  offsets.push_back(off);
  return offsets;
}

Status Attacher::attach_probe_to_file(const ProbeManifest& p, const std::string& path, const std::string& shown) {
  if (p.kind == plan::ProbeKind::kUsdt) {
    auto colon = p.symbol.find(':');
    bpf_program* prog = object_.program(p.entry_program);
    if (!prog) return make_error("program {} is missing from the object", p.entry_program);
    // libbpf finds every site of the probe in the file and arms its semaphore through the
    // kernel's reference counter, for processes that exist now and later.
    PROBE_TRY(keep(p.id, bpf_program__attach_usdt(prog, -1, path.c_str(), p.symbol.substr(0, colon).c_str(),
                                            p.symbol.substr(colon + 1).c_str(), nullptr),
                   fmt::format("usdt {} in {}", p.symbol, shown)));
    record(p, fmt::format("{}:{}", shown, p.symbol), AttachState::kAttached, "");
    log::info("attached {} (usdt) at {}:{}", p.name, shown, p.symbol);
    return {};
  }
  PROBE_ASSIGN_OR_RETURN(ElfFile elf, ElfFile::open(path));
  PROBE_ASSIGN_OR_RETURN(std::vector<uint64_t> offsets, probe_offsets(p, elf, shown));
  std::string where = is_function_pattern(p.symbol)
                          ? fmt::format("{}:{} ({} functions)", shown, p.symbol, offsets.size())
                          : fmt::format("{}:{}+0x{:x}", shown, p.symbol, p.offset);
  if (!p.entry_program.empty()) PROBE_TRY(attach_uprobe_program(p.id, p.entry_program, false, path, offsets));
  if (!p.return_program.empty()) PROBE_TRY(attach_uprobe_program(p.id, p.return_program, true, path, offsets));
  record(p, where, AttachState::kAttached, "");
  log::info("attached {} ({}) at {} [file offset 0x{:x}, build-id {}]", p.name, plan::probe_kind_name(p.kind),
            where, offsets.front(), elf.build_id().substr(0, 16));
  return {};
}

Status Attacher::attach_tracepoint(const std::string& program, const std::string& category,
                                   const std::string& name) {
  bpf_program* prog = object_.program(program);
  if (!prog) return make_error("program {} is missing from the object", program);
  return keep(kNoProbe, bpf_program__attach_tracepoint(prog, category.c_str(), name.c_str()),
              fmt::format("tracepoint {}:{}", category, name));
}

bool Attacher::has_file(const std::string& target, uint64_t dev, uint64_t inode) const {
  return files_.count({target, dev, inode}) > 0;
}

bool Attacher::attach_file(const TargetManifest& target, const std::string& path, uint64_t dev, uint64_t inode,
                           const std::string& shown) {
  if (!files_.insert({target.name, dev, inode}).second) return false;
  bool any = false;
  for (auto& [probe, st] : attach_target_file(target, path, shown)) {
    if (st) {
      any = true;
      continue;
    }
    const ProbeManifest* p = manifest_.find_probe(probe);
    log::warn("probe '{}' ({}): {}", probe, p ? p->location : "", st.error().message);
    if (p) record(*p, shown, AttachState::kFailed, st.error().message);
  }
  return any;
}

Status Attacher::attach_kernel_probe(const ProbeManifest& p) {
  auto program = [&](const std::string& name) -> Result<bpf_program*> {
    bpf_program* prog = object_.program(name);
    if (!prog) return make_error("program {} is missing from the object", name);
    return prog;
  };
  std::string where = fmt::format("{} {}", plan::probe_kind_name(p.kind), p.symbol);
  switch (p.kind) {
    case plan::ProbeKind::kKprobe:
    case plan::ProbeKind::kKretprobe: {
      for (const std::string* name : {&p.entry_program, &p.return_program}) {
        if (name->empty()) continue;
        PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(*name));
        LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = p.offset, .retprobe = name == &p.return_program);
        PROBE_TRY(keep(p.id, bpf_program__attach_kprobe_opts(prog, p.symbol.c_str(), &opts), where));
      }
      break;
    }
    case plan::ProbeKind::kTracepoint: {
      auto colon = p.symbol.find(':');
      PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(p.entry_program));
      PROBE_TRY(keep(p.id, bpf_program__attach_tracepoint(prog, p.symbol.substr(0, colon).c_str(),
                                                    p.symbol.substr(colon + 1).c_str()),
                     where));
      break;
    }
    case plan::ProbeKind::kRawTracepoint: {
      PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(p.entry_program));
      PROBE_TRY(keep(p.id, bpf_program__attach_raw_tracepoint(prog, p.symbol.c_str()), where));
      break;
    }
    case plan::ProbeKind::kFentry:
    case plan::ProbeKind::kFexit: {
      for (const std::string* name : {&p.entry_program, &p.return_program}) {
        if (name->empty()) continue;
        PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(*name));
        PROBE_TRY(keep(p.id, bpf_program__attach_trace(prog), where));
      }
      break;
    }
    default: return make_error("{} is not a kernel probe", plan::probe_kind_name(p.kind));
  }
  record(p, where, AttachState::kAttached, "");
  log::info("attached {} ({})", p.name, where);
  return {};
}

Status Attacher::attach_all() {
  // Kernel probes.
  for (const auto& p : manifest_.probes) {
    if (plan::is_user_space(p.kind) || !owns(p.id)) continue;
    if (not_loaded_.count(p.name)) {
      record(p, p.symbol, AttachState::kSkipped, "the kernel refused its program");
      continue;
    }
    if (auto st = attach_kernel_probe(p); !st) {
      std::string msg = fmt::format("probe '{}' ({}): {}", p.name, p.location, st.error().message);
      if (!p.optional) return make_error("{}", msg);
      log::warn("{} (optional, skipped)", msg);
      record(p, p.symbol, AttachState::kSkipped, st.error().message);
    }
  }
  // User-space probes, target by target, on the files the host resolves.
  for (const auto& t : manifest_.targets) {
    if (t.kind == plan::Target::Kind::kProcess) continue;
    std::vector<std::string> files = host_files(t);
    if (files.empty()) {
      for (const auto& p : manifest_.probes)
        if (p.target == t.name && owns(p.id)) record(p, t.spec, AttachState::kPending, "no such file on the host yet");
      log::warn("target '{}': '{}' is not on the host; probes attach when a process maps it", t.name, t.spec);
      continue;
    }
    std::map<std::string, size_t> attached;
    std::map<std::string, std::string> last_error;
    for (const auto& f : files) {
      for (auto& [probe, st] : attach_target_file(t, f, f)) {
        if (st) ++attached[probe];
        else last_error[probe] = st.error().message;
      }
    }
    for (const auto& p : manifest_.probes) {
      if (p.target != t.name || leaves_out(p)) continue;
      if (attached[p.name] > 0) continue;
      std::string msg = fmt::format("probe '{}' ({}): {}", p.name, p.location, last_error[p.name]);
      if (!p.optional && !t.optional) return make_error("{}", msg);
      log::warn("{} (optional, skipped)", msg);
      record(p, t.spec, AttachState::kSkipped, last_error[p.name]);
    }
    for (const auto& f : files) {
      struct stat st;
      if (stat(f.c_str(), &st) == 0) files_.insert({t.name, st.st_dev, st.st_ino});
    }
  }
  return {};
}

double Attacher::destroy(std::vector<Link> links) {
  auto start = std::chrono::steady_clock::now();
  if (links.empty()) return 0;
  // Each release blocks in the kernel (uprobe unregistration waits for an RCU grace period),
  // so release links from many threads at once.
  size_t workers = std::min<size_t>(links.size(), 64);
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&links, w, workers] {
      for (size_t i = w; i < links.size(); i += workers) {
        if (links[i].link) bpf_link__destroy(links[i].link);
        else close(links[i].fd);
      }
    });
  }
  for (auto& t : threads) t.join();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double Attacher::detach_all() {
  std::fill(owned_.begin(), owned_.end(), false);
  return destroy(std::exchange(links_, {}));
}

double Attacher::detach_probes(const std::set<uint32_t>& probe_ids) {
  std::vector<Link> going;
  auto kept = std::partition(links_.begin(), links_.end(), [&](const Link& l) { return !probe_ids.count(l.probe); });
  going.assign(kept, links_.end());
  links_.erase(kept, links_.end());
  for (uint32_t id : probe_ids)
    if (id < owned_.size()) owned_[id] = false;
  records_.erase(std::remove_if(records_.begin(), records_.end(),
                                [&](const AttachRecord& r) { return probe_ids.count(r.probe_id) > 0; }),
                 records_.end());
  return destroy(std::move(going));
}

}  // namespace probe
