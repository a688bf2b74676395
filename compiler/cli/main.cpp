// probec: checks policies and compiles them to artifacts (BPF ELF + manifest).
// Exit codes: 0 success, 1 the policy has errors, 2 internal failure.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "common/log.h"
#include "compiler/build/clang_compiler.h"
#include "compiler/cli/explain_command.h"
#include "compiler/cli/list_command.h"
#include "compiler/cli/new_command.h"
#include "compiler/pipeline.h"
#include "stdlib/stdlib.h"

namespace probe {
namespace {

constexpr int kOk = 0;
constexpr int kUserError = 1;
constexpr int kInternal = 2;

const char* kUsage = R"(probec - compile probekit policies to eBPF

Usage:
  probec check POLICY               validate a policy and print its diagnostics
  probec compile POLICY -o OUT.pko  compile a policy to an artifact (BPF ELF + manifest)
  probec emit-c POLICY              print the BPF C generated for a policy
                                    (also: probec --emit-c POLICY)
  probec schema                     print the JSON Schema of TOML policies (for editors)
  probec list --library SPEC [GLOB] functions of a library, as uprobe:PATH:NAME@@VERSION
  probec list --binary PATH [GLOB]  functions and USDT probes of an executable
  probec list --usdt PATH [GLOB]    USDT probes of a binary or library, with argument counts
  probec list --tracepoints [PAT]   kernel tracepoints, e.g. 'syscalls:sys_enter_open*'
  probec new --from-binary PATH [-o OUT.toml] [GLOB]
                                    write a starting policy for a binary or library
  probec explain POLICY             where probed would attach each function probe, and why
  probec explain --library SPEC|--binary PATH FUNCTION [--return] [--args REGS]
                                    where a function's uprobe goes, and why
                                    (emulated instruction or fallback; probec explain -h)

Options:
  -o, --output FILE    artifact to write (compile)
  --emit-c             also print the generated C (compile)
  --cache-dir DIR      object cache directory (default: /var/cache/probekit as root)
  --no-cache           compile even if the cache has the object
  --no-host-checks     do not look for libraries and symbols on this machine
  -v, --verbose        print timings and cache decisions
  -h, --help           show this help
  --version            show the version
)";

struct Options {
  std::string command;
  std::string policy;
  std::string output;
  std::string cache_dir;
  bool emit_c = false;
  bool no_cache = false;
  bool host_checks = true;
  bool verbose = false;
};

bool parse_args(int argc, char** argv, Options* o, std::string* err) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) {
        *err = a + " needs a value";
        return false;
      }
      *out = args[++i];
      return true;
    };
    if (a == "-o" || a == "--output") {
      if (!value(&o->output)) return false;
    } else if (a == "--cache-dir") {
      if (!value(&o->cache_dir)) return false;
    } else if (a == "--emit-c") {
      o->emit_c = true;
    } else if (a == "--no-cache") {
      o->no_cache = true;
    } else if (a == "--no-host-checks") {
      o->host_checks = false;
    } else if (a == "-v" || a == "--verbose") {
      o->verbose = true;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      *err = "unknown option " + a;
      return false;
    } else if (o->command.empty()) {
      o->command = a;
    } else if (o->policy.empty()) {
      o->policy = a;
    } else {
      *err = "unexpected argument " + a;
      return false;
    }
  }
  return true;
}

int print_diagnostics(const Diagnostics& diags) {
  std::string text = diags.format(isatty(2));
  if (!text.empty()) std::fputs(text.c_str(), stderr);
  if (diags.has_errors()) {
    std::fprintf(stderr, "%zu error%s generated.\n", diags.error_count(),
                 diags.error_count() == 1 ? "" : "s");
    return kUserError;
  }
  return kOk;
}

// Internal: C source on stdin, object on stdout, Clang's messages on stderr. probed runs this
// so that Clang and LLVM are never loaded into the daemon.
int run_cc() {
  std::string source((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  CompileOutput out = compile_bpf_c(source);
  std::fwrite(out.diagnostics.data(), 1, out.diagnostics.size(), stderr);
  if (!out.ok) return kUserError;
  std::fwrite(out.object.data(), 1, out.object.size(), stdout);
  return std::fflush(stdout) == 0 ? kOk : kInternal;
}

int run(Options o) {
  // `probec --emit-c POLICY` is short for `probec emit-c POLICY`.
  if (o.emit_c && o.policy.empty() && !o.command.empty() && o.command != "compile") {
    o.policy = o.command;
    o.command = "emit-c";
  }
  if (o.command == "cc") return run_cc();
  if (o.command != "check" && o.command != "compile" && o.command != "emit-c") {
    std::fprintf(stderr, "probec: unknown command '%s'\n\n%s", o.command.c_str(), kUsage);
    return kUserError;
  }
  if (o.policy.empty()) {
    std::fprintf(stderr, "probec %s: which policy? (probec %s POLICY)\n", o.command.c_str(),
                 o.command.c_str());
    return kUserError;
  }
  SemaOptions sema;
  sema.check_host = o.host_checks;
  Diagnostics diags;
  auto program = run_front_end(o.policy, sema, diags);
  int rc = print_diagnostics(diags);
  if (!program) return rc == kOk ? kInternal : rc;
  if (o.command == "check") {
    size_t n = program->manifest.probes.size();
    std::fprintf(stderr, "%s: ok (%zu probe%s)\n", o.policy.c_str(), n, n == 1 ? "" : "s");
    return kOk;
  }
  if (o.command == "emit-c") {
    std::fputs(program->source.c_str(), stdout);
    return kOk;
  }
  if (o.output.empty()) {
    std::fprintf(stderr, "probec compile: where to? (-o OUT.pko)\n");
    return kUserError;
  }
  if (o.emit_c) std::fputs(program->source.c_str(), stdout);
  ObjectCache cache(o.cache_dir.empty() ? ObjectCache::default_dir() : o.cache_dir);
  ChildCompileStats stats;
  BuildReport report;
  auto artifact = build_artifact(std::move(*program), o.no_cache ? nullptr : &cache,
                                 [&](const std::string& src) { return compile_in_child(src, &stats); },
                                 &report);
  if (!artifact) {
    std::fprintf(stderr, "probec: %s\n", artifact.error().message.c_str());
    return kInternal;
  }
  if (auto st = write_artifact(o.output, *artifact); !st) {
    std::fprintf(stderr, "probec: %s\n", st.error().message.c_str());
    return kUserError;
  }
  if (o.verbose) {
    if (report.cache_hit)
      std::fprintf(stderr, "probec: cache hit %s (%.1f ms)\n", report.cache_key.c_str(), report.ms);
    else
      std::fprintf(stderr, "probec: compiled in %.1f ms (child peak RSS %ld KiB), cached as %s\n",
                   stats.wall_ms, stats.peak_rss_kb, report.cache_key.c_str());
  }
  return kOk;
}

// Exceptions are reserved for main(): one escaping a command is an internal error.
int run_guarded(const std::function<int()>& command) {
  try {
    return command();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "probec: internal error: %s\n", e.what());
    return kInternal;
  }
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) {
  probe::Options o;
  std::string err;
  if (argc >= 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0)) {
    std::fputs(probe::kUsage, stdout);
    return 0;
  }
  // `schema` prints the JSON Schema of TOML policies, for editors (e.g. Even Better TOML).
  if (argc >= 2 && std::strcmp(argv[1], "schema") == 0) {
    std::fputs(std::string(*probe::stdlib::find("schema/policy.schema.json")).c_str(), stdout);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("probec %s (clang %s)\n", PROBEKIT_VERSION, probe::clang_version());
    return 0;
  }
  // `explain`, `list` and `new` read binaries, not policies, and take their own options.
  if (argc >= 2 && std::strcmp(argv[1], "explain") == 0) {
    std::vector<std::string> rest(argv + 2, argv + argc);
    return probe::run_guarded([&] { return probe::run_explain(rest); });
  }
  if (argc >= 2 && (std::strcmp(argv[1], "list") == 0 || std::strcmp(argv[1], "new") == 0)) {
    std::vector<std::string> rest(argv + 2, argv + argc);
    bool list = std::strcmp(argv[1], "list") == 0;
    return probe::run_guarded([&] { return list ? probe::run_list(rest) : probe::run_new(rest); });
  }
  if (!probe::parse_args(argc, argv, &o, &err) || o.command.empty()) {
    std::fprintf(stderr, "probec: %s\n\n%s", err.empty() ? "no command given" : err.c_str(),
                 probe::kUsage);
    return probe::kUserError;
  }
  return probe::run_guarded([&] { return probe::run(o); });
}
