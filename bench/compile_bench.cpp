// Compile speed: front end, cold compile in a child process (as probec and probed do), a
// cache hit, and a 50-probe policy. Run:
//   build/bench/probekit_compile_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "compiler/artifact/cache.h"
#include "compiler/build/clang_compiler.h"
#include "compiler/pipeline.h"

namespace probe {
namespace {

const std::string kApiDiscovery = std::string(PROBEKIT_SOURCE_DIR) + "/policies/api-discovery.toml";

GeneratedProgram front_end(const std::string& path) {
  Diagnostics diags;
  auto p = run_front_end(path, SemaOptions{}, diags);
  if (!p) {
    fmt::print(stderr, "{}", diags.format());
    std::abort();
  }
  return std::move(*p);
}

// A policy with 50 uprobes on libc functions, each capturing arguments and a buffer.
std::string fifty_probe_policy() {
  static const char* kFunctions[] = {
      "read", "write", "pread64", "pwrite64", "recv", "send", "recvfrom", "sendto", "recvmsg",
      "sendmsg", "open", "openat", "close", "connect", "accept", "accept4", "bind", "listen",
      "socket", "getaddrinfo", "malloc", "free", "calloc", "realloc", "memcpy", "memset",
      "strlen", "strcmp", "fopen", "fclose", "fread", "fwrite", "fflush", "fseek", "ftell",
      "stat", "fstat", "lstat", "unlink", "rename", "mkdir", "rmdir", "chdir", "getcwd",
      "dup", "dup2", "pipe", "poll", "select", "epoll_wait"};
  std::string path = "/tmp/probekit-bench-50.toml";
  std::ofstream out(path);
  out << "[policy]\nname = \"fifty\"\n[target.libc]\nlibrary = \"libc.so.6\"\n";
  int i = 0;
  for (const char* fn : kFunctions) {
    out << fmt::format("[probe.p{}]\ntarget = \"libc\"\nuretprobe = \"{}\"\n", i++, fn);
    out << "capture = [{ name = \"a\", value = \"arg0\" }, { name = \"rc\", value = \"ret\" },"
           " { name = \"buf\", value = \"arg1\", type = \"bytes\", len = \"arg2\", max = 256 }]\n"
           "filter = \"ret > 0\"\n";
  }
  return path;
}

void BM_FrontEnd_ApiDiscovery(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(front_end(kApiDiscovery));
}
BENCHMARK(BM_FrontEnd_ApiDiscovery)->Unit(benchmark::kMillisecond);

void compile_cold(benchmark::State& state, const std::string& policy) {
  GeneratedProgram program = front_end(policy);
  long peak_kb = 0;
  for (auto _ : state) {
    ChildCompileStats stats;
    auto out = compile_in_child(program.source, &stats);
    if (!out || !out->ok) state.SkipWithError("compile failed");
    peak_kb = std::max(peak_kb, stats.peak_rss_kb);
  }
  state.counters["child_peak_rss_MiB"] = static_cast<double>(peak_kb) / 1024.0;
}

void BM_CompileCold_ApiDiscovery(benchmark::State& state) { compile_cold(state, kApiDiscovery); }
BENCHMARK(BM_CompileCold_ApiDiscovery)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CompileCold_50Probes(benchmark::State& state) { compile_cold(state, fifty_probe_policy()); }
BENCHMARK(BM_CompileCold_50Probes)->Unit(benchmark::kMillisecond)->UseRealTime();

// probed's start with a warm cache: front end, key, cache read (object in memory).
void BM_CacheHit_ApiDiscovery(benchmark::State& state) {
  std::string dir = "/tmp/probekit-bench-cache";
  ObjectCache cache(dir);
  {
    GeneratedProgram p = front_end(kApiDiscovery);
    auto out = compile_in_child(p.source);
    if (!out || !out->ok || !cache.put(object_cache_key(p.source), out->object)) {
      state.SkipWithError("cannot prime the cache");
      return;
    }
  }
  for (auto _ : state) {
    GeneratedProgram p = front_end(kApiDiscovery);
    auto hit = cache.get(object_cache_key(p.source));
    if (!hit) state.SkipWithError("cache miss");
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_CacheHit_ApiDiscovery)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace probe

BENCHMARK_MAIN();
