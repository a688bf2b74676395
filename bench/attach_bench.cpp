// Attach and detach time for 1,000 uprobes on one binary. The bench builds a program with
// 1,000 functions, compiles a policy whose one probe names them by pattern, and times
// Attacher::attach_all / detach_all (one uprobe_multi link where the kernel has them), next to
// the classic way: one perf-event uprobe link per function, as libbpf 1.1, bpftrace and BCC
// attach (PROBEKIT_UPROBE_MULTI=0). It then runs the program and checks every function was counted, so a fast attach
// that attached nothing cannot pass. Needs root.
//   build/bench/probekit_attach_bench [functions, default 1000] [rounds, default 5]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <cstdlib>

#include "common/subprocess.h"
#include "compiler/artifact/artifact.h"
#include "runtime/attach/attacher.h"
#include "runtime/attach/uprobe_multi.h"
#include "runtime/loader/bpf_object.h"

using namespace probe;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string program_source(int functions) {
  std::string src = "#include <stdlib.h>\n";
  for (int i = 0; i < functions; ++i)
    src += fmt::format("__attribute__((noinline)) int bench_fn_{0}(int x) {{ asm volatile(\"\"); return x + {0}; }}\n", i);
  src += "int (*const table[])(int) = {";
  for (int i = 0; i < functions; ++i) src += fmt::format("bench_fn_{},", i);
  src += "};\nint main(int argc, char **argv) {\n  int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;\n"
         "  for (int r = 0; r < n; r++)\n    for (unsigned i = 0; i < sizeof table / sizeof *table; i++) s += table[i](r);\n"
         "  return s == 42;\n}\n";
  return src;
}

bool step(const char* what, const Status& st) {
  if (st) return true;
  fmt::print(stderr, "{}: {}\n", what, st.error().message);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int functions = argc > 1 ? std::atoi(argv[1]) : 1000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::string dir = "/tmp/probekit-attach-bench";
  (void)run_process({"/bin/mkdir", "-p", dir}, "");
  std::ofstream(dir + "/many.c") << program_source(functions);
  auto cc = run_process({"/usr/bin/cc", "-O1", "-o", dir + "/many", dir + "/many.c"}, "");
  if (!cc || cc->exit_code != 0) return fmt::print(stderr, "cc failed: {}\n", cc ? cc->err : ""), 2;
  std::ofstream(dir + "/p.toml") << fmt::format(
      "[policy]\nname = \"attach-bench\"\n[target.many]\nbinary = \"{}/many\"\n"
      "[probe.fn]\ntarget = \"many\"\nuprobe = \"bench_fn_*\"\n",
      dir);
  auto out = run_process({self_exe_dir() + "/../compiler/cli/probec", "compile", dir + "/p.toml", "-o", dir + "/p.pko"}, "");
  if (!out || out->exit_code != 0) return fmt::print(stderr, "probec failed: {}\n", out ? out->err : ""), 2;
  auto artifact = read_artifact(dir + "/p.pko");
  if (!artifact) return fmt::print(stderr, "{}\n", artifact.error().message), 2;
  install_libbpf_logger();
  auto obj = BpfObject::load(*artifact, "");
  if (!obj) return fmt::print(stderr, "{}\n", obj.error().message), 2;

  // probekit: the policy's pattern probe through the attacher.
  std::vector<double> attach_ms, detach_ms;
  for (int r = 0; r < rounds; ++r) {
    Attacher attacher(**obj, artifact->manifest);
    auto t = Clock::now();
    if (!step("attach", attacher.attach_all())) return 2;
    attach_ms.push_back(ms_since(t));
    if (r == rounds - 1) {
      // Prove the sites are live: every function called `calls` times is counted.
      int calls = 3;
      auto before = (*obj)->read_counters()[0].hits;
      (void)run_process({dir + "/many", std::to_string(calls)}, "");
      auto hits = (*obj)->read_counters()[0].hits - before;
      if (hits != static_cast<uint64_t>(functions) * calls) {
        fmt::print(stderr, "expected {} hits, counted {}\n", functions * calls, hits);
        return 1;
      }
      fmt::print("verified: {} functions x {} calls = {} hits counted in the kernel\n", functions, calls, hits);
    }
    detach_ms.push_back(attacher.detach_all());
  }
  fmt::print("probekit ({}): attach {} uprobes median {:.1f} ms, detach {:.1f} ms ({} rounds)\n",
             uprobe_multi_supported() ? "one uprobe_multi link" : "perf-event links", functions,
             median(attach_ms), median(detach_ms), rounds);

  // The classic way, for comparison: the same attacher forced to one perf-event uprobe link
  // per function (as libbpf 1.1, bpftrace and BCC attach), in a child process because the
  // choice is made once per process.
  if (uprobe_multi_supported() && std::getenv("PROBEKIT_UPROBE_MULTI") == nullptr) {
    setenv("PROBEKIT_UPROBE_MULTI", "0", 1);
    auto child = run_process({self_exe_dir() + "/probekit_attach_bench", std::to_string(functions),
                              std::to_string(std::max(1, rounds / 2))}, "");
    if (!child || child->exit_code != 0) return fmt::print(stderr, "fallback run failed: {}\n", child ? child->err : ""), 2;
    fmt::print("{}", child->out);
  }
  return 0;
}
