#include "runtime/attach/attacher.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/elf_file.h"
#include "common/ld_cache.h"
#include "common/log.h"
#include "runtime/attach/uprobe_multi.h"

namespace probe {

Attacher::~Attacher() { detach_all(); }

Status Attacher::attach_program(const ProbeManifest& p, const std::string& prog_name,
                                bool retprobe, const std::string& file, uint64_t offset,
                                const std::string& where) {
  bpf_program* prog = object_.program(prog_name);
  if (!prog) return make_error("program {} is missing from the object", prog_name);
  if (uprobe_multi_supported()) {
    PROBE_ASSIGN_OR_RETURN(int fd, attach_uprobe_multi(bpf_program__fd(prog), file, {offset}, retprobe));
    link_fds_.push_back(fd);
    return {};
  }
  bpf_link* link = bpf_program__attach_uprobe(prog, retprobe, -1, file.c_str(), offset);
  if (!link) return make_error("cannot attach {} at {}: {}", retprobe ? "uretprobe" : "uprobe",
                               where, std::strerror(errno));
  links_.push_back(link);
  return {};
}

Status Attacher::attach_user_probe(const Manifest& m, const ProbeManifest& p) {
  const TargetManifest* t = m.target(p.target);
  if (!t) return make_error("target '{}' is not in the manifest", p.target);
  std::vector<std::string> files;
  if (t->kind == plan::Target::Kind::kLibrary) files = resolve_library(t->spec);
  else if (t->kind == plan::Target::Kind::kBinary) files = {t->spec};
  if (files.empty())
    return make_error("library '{}' not found (looked in /etc/ld.so.cache and the standard "
                      "library directories)",
                      t->spec);
  size_t attached = 0;
  std::string last_error;
  for (const auto& file : files) {
    auto elf = ElfFile::open(file);
    if (!elf) {
      last_error = elf.error().message;
      continue;
    }
    auto sym = elf->find_function(p.symbol);
    if (!sym) {
      auto near = elf->nearest_functions(p.symbol, 1);
      last_error = fmt::format("function '{}' not found in {}{}", p.symbol, file,
                               near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near[0]));
      continue;
    }
    auto off = elf->file_offset(sym->address + p.offset);
    if (!off) {
      last_error = off.error().message;
      continue;
    }
    std::string where = fmt::format("{}:{}+0x{:x}", file, p.symbol, p.offset);
    if (!p.entry_program.empty())
      PROBE_TRY(attach_program(p, p.entry_program, false, file, *off, where));
    if (!p.return_program.empty())
      PROBE_TRY(attach_program(p, p.return_program, true, file, *off, where));
    records_.push_back({p.id, p.name, where, AttachState::kAttached, ""});
    log::info("attached {} ({}) at {} [file offset 0x{:x}, build-id {}]", p.name,
              plan::probe_kind_name(p.kind), where, *off, elf->build_id().substr(0, 16));
    ++attached;
  }
  if (attached == 0) return make_error("{}", last_error);
  return {};
}

Status Attacher::keep(bpf_link* link, const std::string& what) {
  if (!link) return make_error("cannot attach {}: {}", what, std::strerror(errno));
  links_.push_back(link);
  return {};
}

Status Attacher::attach_usdt(const Manifest& m, const ProbeManifest& p) {
  const TargetManifest* t = m.target(p.target);
  if (!t) return make_error("target '{}' is not in the manifest", p.target);
  std::vector<std::string> files =
      t->kind == plan::Target::Kind::kLibrary ? resolve_library(t->spec) : std::vector<std::string>{t->spec};
  auto colon = p.symbol.find(':');
  std::string provider = p.symbol.substr(0, colon), name = p.symbol.substr(colon + 1);
  bpf_program* prog = object_.program(p.entry_program);
  if (!prog) return make_error("program {} is missing from the object", p.entry_program);
  size_t attached = 0;
  std::string last_error = fmt::format("no file found for target '{}'", p.target);
  for (const auto& file : files) {
    // libbpf finds every site of the probe in the file and arms its semaphore through the
    // kernel's reference counter, for processes that exist now and later.
    bpf_link* link = bpf_program__attach_usdt(prog, -1, file.c_str(), provider.c_str(), name.c_str(), nullptr);
    std::string where = fmt::format("{}:{}", file, p.symbol);
    if (!link) {
      last_error = fmt::format("cannot attach usdt {}: {}", where, std::strerror(errno));
      continue;
    }
    links_.push_back(link);
    records_.push_back({p.id, p.name, where, AttachState::kAttached, ""});
    log::info("attached {} (usdt) at {}", p.name, where);
    ++attached;
  }
  if (attached == 0) return make_error("{}", last_error);
  return {};
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
        PROBE_TRY(keep(bpf_program__attach_kprobe_opts(prog, p.symbol.c_str(), &opts), where));
      }
      break;
    }
    case plan::ProbeKind::kTracepoint: {
      auto colon = p.symbol.find(':');
      PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(p.entry_program));
      PROBE_TRY(keep(bpf_program__attach_tracepoint(prog, p.symbol.substr(0, colon).c_str(),
                                                    p.symbol.substr(colon + 1).c_str()),
                     where));
      break;
    }
    case plan::ProbeKind::kRawTracepoint: {
      PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(p.entry_program));
      PROBE_TRY(keep(bpf_program__attach_raw_tracepoint(prog, p.symbol.c_str()), where));
      break;
    }
    case plan::ProbeKind::kFentry:
    case plan::ProbeKind::kFexit: {
      for (const std::string* name : {&p.entry_program, &p.return_program}) {
        if (name->empty()) continue;
        PROBE_ASSIGN_OR_RETURN(bpf_program* prog, program(*name));
        PROBE_TRY(keep(bpf_program__attach_trace(prog), where));
      }
      break;
    }
    default: return make_error("{} is not a kernel probe", plan::probe_kind_name(p.kind));
  }
  records_.push_back({p.id, p.name, where, AttachState::kAttached, ""});
  log::info("attached {} ({})", p.name, where);
  return {};
}

Status Attacher::attach_all(const Manifest& m, const std::set<std::string>& not_loaded) {
  for (const auto& p : m.probes) {
    if (not_loaded.count(p.name)) {
      records_.push_back({p.id, p.name, p.symbol, AttachState::kSkipped, "the kernel refused its program"});
      continue;
    }
    Status st = p.kind == plan::ProbeKind::kUsdt ? attach_usdt(m, p)
                : plan::is_user_space(p.kind)   ? attach_user_probe(m, p)
                                                : attach_kernel_probe(p);
    if (st) continue;
    std::string msg = fmt::format("probe '{}' ({}): {}", p.name, p.location, st.error().message);
    const TargetManifest* t = m.target(p.target);
    if (p.optional || (t && t->optional)) {
      log::warn("{} (optional, skipped)", msg);
      records_.push_back({p.id, p.name, p.symbol, AttachState::kSkipped, st.error().message});
      continue;
    }
    records_.push_back({p.id, p.name, p.symbol, AttachState::kFailed, st.error().message});
    return make_error("{}", msg);
  }
  return {};
}

double Attacher::detach_all() {
  auto start = std::chrono::steady_clock::now();
  size_t total = links_.size() + link_fds_.size();
  if (total == 0) return 0;
  // Each release blocks in the kernel (uprobe unregistration waits for an RCU grace period),
  // so release links from many threads at once.
  size_t workers = std::min<size_t>(total, 64);
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([this, w, workers, total] {
      for (size_t i = w; i < total; i += workers) {
        if (i < links_.size()) bpf_link__destroy(links_[i]);
        else close(link_fds_[i - links_.size()]);
      }
    });
  }
  for (auto& t : threads) t.join();
  links_.clear();
  link_fds_.clear();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace probe
