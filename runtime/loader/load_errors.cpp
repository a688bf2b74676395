#include "runtime/loader/load_errors.h"

#include <fmt/format.h>

#include <sstream>
#include <vector>

#include "common/strings.h"

namespace probe {
namespace {

constexpr size_t kTailLines = 12;

std::string quoted_after(const std::string& line, const std::string& prefix) {
  auto p = line.find(prefix);
  if (p == std::string::npos) return {};
  auto start = p + prefix.size();
  auto end = line.find('\'', start);
  return end == std::string::npos ? std::string() : line.substr(start, end - start);
}

}  // namespace

std::optional<LoadFailure> parse_load_log(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  LoadFailure f;
  std::vector<std::string> verifier, relo;
  bool in_log = false;
  while (std::getline(in, line)) {
    if (line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
      in_log = true;
      verifier.clear();
      continue;
    }
    if (line.find("-- END PROG LOAD LOG --") != std::string::npos) {
      in_log = false;
      continue;
    }
    if (in_log) {
      if (!trim(line).empty()) verifier.push_back(line);
      continue;
    }
    if (line.find(": relo #") != std::string::npos && line.find("prog '") != std::string::npos &&
        (line.find("fail") != std::string::npos || line.find("err") != std::string::npos))
      relo.push_back(std::string(trim(line)));
    auto p = line.find("': BPF program load failed: ");
    if (p != std::string::npos && f.program.empty()) {
      f.program = quoted_after(line, "prog '");
      f.reason = std::string(trim(line.substr(p + 28)));
    }
    auto q = line.find("': failed to load: ");
    if (q != std::string::npos && f.program.empty()) f.program = quoted_after(line, "prog '");
  }
  if (f.program.empty()) return std::nullopt;
  std::vector<std::string> tail = !relo.empty() ? relo : verifier;
  if (tail.size() > kTailLines) tail.erase(tail.begin(), tail.end() - kTailLines);
  f.verifier_tail = join(tail, "\n");
  return f;
}

const ProbeManifest* probe_of_program(const Manifest& m, const std::string& program) {
  for (const auto& p : m.probes)
    if (p.entry_program == program || p.return_program == program) return &p;
  return nullptr;
}

std::string describe_load_failure(const Manifest& m, const LoadFailure& f) {
  const ProbeManifest* p = probe_of_program(m, f.program);
  std::string who = p ? fmt::format("{}: probe '{}'", p->location.empty() ? "policy" : p->location, p->name)
                      : "the policy";
  std::string what = p ? fmt::format("its {} program {} ({})", plan::probe_kind_name(p->kind), f.program, p->symbol)
                       : fmt::format("program {}", f.program);
  std::string msg = fmt::format("{}: the kernel refused {}: {}", who, what,
                                f.reason.empty() ? "load failed" : f.reason);
  bool trampoline = p && (p->kind == plan::ProbeKind::kFentry || p->kind == plan::ProbeKind::kFexit);
  if (trampoline && f.verifier_tail.empty())
    msg += "\nhint: this kernel does not allow fentry/fexit programs; use kprobe/kretprobe or a "
           "tracepoint, or mark the probe optional = true";
  if (!f.verifier_tail.empty()) {
    std::string indented;
    for (const auto& l : split(f.verifier_tail, '\n')) indented += "\n  | " + l;
    msg += "\nverifier:" + indented;
  }
  return msg;
}

}  // namespace probe
