// probed: runs a policy — compiles (or loads) it, attaches its probes, handles events.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "runtime/daemon/daemon.h"
#include "runtime/loader/kernel_check.h"

namespace {

const char* kUsage = R"(probed - run probekit policies

Usage:
  probed run --policy POLICY.toml   compile (or reuse the cached object) and run a policy
  probed run --artifact FILE.pko    run a policy compiled by `probec compile`
  probed check-kernel               say whether this machine can run probekit

Options:
  --policy FILE        policy to run
  --artifact FILE      precompiled artifact to run
  --cache-dir DIR      object cache (default: /var/cache/probekit as root)
  --no-cache           always compile
  --probec PATH        compiler binary for cache misses (default: next to probed)
  --btf PATH           kernel BTF for CO-RE (default: /sys/kernel/btf/vmlinux)
  --duration SECONDS   stop after this long (default: until SIGINT/SIGTERM)
  --stats-interval S   seconds between loss reports (default: 10)
  --rescan-interval S  seconds between rescans of /proc for new files (default: 10)
  --sink ID.KEY=VALUE  set a sink setting over the policy's [sinks.ID] (repeatable), e.g.
                       --sink orchestrator.endpoint=10.0.0.5:51712 --sink jsonl.path=/var/log/x
                       (an ID the policy lacks adds a sink of that type)
  --batch-window MS    after a wake-up with events, wait this long before the next (default: 2;
                       0 wakes for every event)
  --log-level LEVEL    debug, info, warn, error (default: info)
  -h, --help           show this help
  --version            show the version

Exit codes: 0 stopped cleanly, 1 the policy has errors, 2 this machine cannot run it.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace probe;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version") {
    std::printf("probed %s\n", PROBEKIT_VERSION);
    return 0;
  }
  DaemonOptions o;
  std::string command = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "probed: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return args[++i];
    };
    if (a == "--policy") o.artifact.policy = value();
    else if (a == "--artifact") o.artifact.artifact = value();
    else if (a == "--cache-dir") o.artifact.cache_dir = value();
    else if (a == "--no-cache") o.artifact.use_cache = false;
    else if (a == "--probec") o.artifact.probec = value();
    else if (a == "--btf") o.btf_path = value();
    else if (a == "--duration") o.duration_s = std::atof(value().c_str());
    else if (a == "--stats-interval") o.stats_interval_s = std::max(1, std::atoi(value().c_str()));
    else if (a == "--rescan-interval") o.rescan_interval_s = std::max(1, std::atoi(value().c_str()));
    else if (a == "--batch-window") o.batch_window_ms = std::max(0, std::atoi(value().c_str()));
    else if (a == "--sink") {
      std::string spec = value();
      size_t dot = spec.find('.'), eq = spec.find('=');
      if (dot == std::string::npos || eq == std::string::npos || dot == 0 || eq < dot + 2) {
        std::fprintf(stderr, "probed: --sink wants ID.KEY=VALUE (e.g. orchestrator.endpoint=host:51712), not '%s'\n",
                     spec.c_str());
        return 1;
      }
      o.sink_overrides.push_back({spec.substr(0, dot), spec.substr(dot + 1, eq - dot - 1), spec.substr(eq + 1)});
    }
    else if (a == "--log-level") {
      std::string l = value();
      log::Level level;
      if (!log::parse_level(l, &level)) {
        std::fprintf(stderr, "probed: unknown log level '%s'\n", l.c_str());
        return 1;
      }
      log::set_level(level);
    } else {
      std::fprintf(stderr, "probed: unknown option %s\n\n%s", a.c_str(), kUsage);
      return 1;
    }
  }
  try {
    if (command == "check-kernel") {
      KernelCheckOptions kc;
      kc.btf_path = o.btf_path;
      if (auto st = check_kernel_support(kc); !st) {
        std::fprintf(stderr, "probed: %s\n", st.error().message.c_str());
        return 2;
      }
      if (auto st = check_bpf_privileges(); !st) {
        std::fprintf(stderr, "probed: %s\n", st.error().message.c_str());
        return 2;
      }
      std::printf("probed: this kernel and these privileges can run probekit\n");
      return 0;
    }
    if (command != "run") {
      std::fprintf(stderr, "probed: unknown command '%s'\n\n%s", command.c_str(), kUsage);
      return 1;
    }
    if (o.artifact.policy.empty() == o.artifact.artifact.empty()) {
      std::fprintf(stderr, "probed run: give exactly one of --policy or --artifact\n");
      return 1;
    }
    return run_daemon(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "probed: internal error: %s\n", e.what());
    return 2;
  }
}
