// Per-hit uprobe cost on this machine: a probe on an instruction the kernel single-steps out
// of line (XOL) against probes on instructions it emulates, with count-only BPF programs
// (tests/bpf/uprobe_counter.h) on small functions of this very binary. Confirms (or not) the
// ~3.5 us vs ~0.35 us classes of docs/probe-placement.md on the running kernel.
//
// As root:  build-place/bench/probekit_placement_bench [calls per round] [rounds]
// Prints a Markdown table: median ns per call over the rounds, minus the unprobed baseline.
#include <fmt/format.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/branch_index.h"
#include "common/elf_file.h"
#include "common/probe_placement.h"
#include "tests/bpf/uprobe_counter.h"

// The probed functions: each a few instructions, so the probe is nearly all the cost.
asm(R"(
  .text
  .p2align 4
  .globl bench_sub
  .hidden bench_sub
  .type bench_sub, @function
bench_sub:                     # +0 sub: single-stepped
  sub $0x18, %rsp
  add $0x18, %rsp
  ret
  .size bench_sub, .-bench_sub

  .p2align 4
  .globl bench_push
  .hidden bench_push
  .type bench_push, @function
bench_push:                    # +0 push %r13: emulated
  push %r13
  pop %r13
  ret
  .size bench_push, .-bench_push

  .p2align 4
  .type bench_leaf, @function
bench_leaf:
  ret
  .size bench_leaf, .-bench_leaf

  .p2align 4
  .globl bench_call
  .hidden bench_call
  .type bench_call, @function
bench_call:                    # +4 call rel32: emulated
  sub $8, %rsp
  call bench_leaf
  add $8, %rsp
  ret
  .size bench_call, .-bench_call

  .p2align 4
  .globl bench_test_jle
  .hidden bench_test_jle
  .type bench_test_jle, @function
bench_test_jle:                # +0 test: single-stepped; +2 jle: emulated
  test %edi, %edi
  jle 1f
1:
  ret
  .size bench_test_jle, .-bench_test_jle

  .p2align 4
  .globl bench_cet
  .hidden bench_cet
  .type bench_cet, @function
bench_cet:                     # +0 endbr64: single-stepped; +4 push %rbp: emulated
  endbr64
  push %rbp
  pop %rbp
  ret
  .size bench_cet, .-bench_cet

  .p2align 4
  .globl bench_nop5
  .hidden bench_nop5
  .type bench_nop5, @function
bench_nop5:                    # +0 5-byte NOP: emulated, then optimized on 6.18
  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00
  ret
  .size bench_nop5, .-bench_nop5
)");

extern "C" long bench_sub(long);
extern "C" long bench_push(long);
extern "C" long bench_call(long);
extern "C" long bench_test_jle(long);
extern "C" long bench_cet(long);
extern "C" long bench_nop5(long);

namespace probe {
namespace {

using Fn = long (*)(long);

struct Config {
  std::string name;
  std::string function;
  Fn fn;
  uint64_t offset = 0;  // within the function
  bool retprobe = false;
  std::string expected;  // what the placement docs call it
};

double clock_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Sample {
  double wall = 0;  // ns per call
  double cpu = 0;   // ns of this thread's CPU (user + kernel) per call: what load elsewhere can't inflate
};

// Cost per call of `fn`, called `calls` times.
Sample time_calls(Fn fn, long calls) {
  Fn volatile f = fn;
  long acc = 0;
  double w0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  for (long i = 0; i < calls; ++i) acc += f(i);
  double c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w1 = clock_ns(CLOCK_MONOTONIC);
  asm volatile("" ::"r"(acc));
  return {(w1 - w0) / static_cast<double>(calls), (c1 - c0) / static_cast<double>(calls)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string self_path() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// What the placement analysis does with each benchmark function, as a cross-check.
void print_analysis(const ElfFile& elf) {
  auto decoder = X86Decoder::create();
  auto branches = BranchIndex::build(elf);
  if (!decoder || !branches) return;
  PlacementContext ctx{elf, *decoder, *branches};
  fmt::print("\nplacement analysis of the same functions (entry probes):\n\n");
  for (const char* fn : {"bench_sub", "bench_push", "bench_call", "bench_test_jle", "bench_cet", "bench_nop5"}) {
    PlacementRequest req;
    req.function = fn;
    auto p = place_probe(ctx, req);
    if (!p) continue;
    auto sym = elf.find_function(fn);
    fmt::print("- {}: {} at +0x{:x} `{}` ({})\n", fn, placement_kind_name(p->kind),
               p->sites[0].address - sym->address, p->sites[0].instruction,
               uprobe_handling_name(p->sites[0].handling));
  }
}

int run(long calls, int rounds) {
  if (geteuid() != 0) {
    fmt::print(stderr, "placement_bench: needs root (BPF and uprobes)\n");
    return 1;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one);  // no migrations inside a measurement

  std::string exe = self_path();
  auto elf = ElfFile::open(exe);
  if (!elf) {
    fmt::print(stderr, "placement_bench: {}\n", elf.error().message);
    return 1;
  }
  std::vector<Config> configs = {
      {"`sub $0x18,%rsp` (function entry)", "bench_sub", bench_sub, 0, false, "XOL"},
      {"`push %r13` (function entry)", "bench_push", bench_push, 0, false, "emulated"},
      {"`call rel32`", "bench_call", bench_call, 4, false, "emulated"},
      {"`test %edi,%edi`", "bench_test_jle", bench_test_jle, 0, false, "XOL"},
      {"`jle`", "bench_test_jle", bench_test_jle, 2, false, "emulated"},
      {"`endbr64` (CET entry)", "bench_cet", bench_cet, 0, false, "XOL"},
      {"`endbr64`+4 (`push %rbp`)", "bench_cet", bench_cet, 4, false, "emulated"},
      {"5-byte NOP", "bench_nop5", bench_nop5, 0, false, "emulated, nop5-optimized"},
      {"uretprobe, `push` entry", "bench_push", bench_push, 0, true, "emulated + return"},
      {"uretprobe, `sub` entry", "bench_sub", bench_sub, 0, true, "XOL + return"},
  };
  std::vector<std::vector<Sample>> samples(configs.size());
  std::vector<Sample> baseline;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < 3; ++i) time_calls(bench_push, calls / 10);  // warm up
    baseline.push_back(time_calls(bench_push, calls));
    for (size_t k = 0; k < configs.size(); ++k) {
      size_t c = (k + static_cast<size_t>(round)) % configs.size();  // rotate the order each round
      const Config& cfg = configs[c];
      auto sym = elf->find_function(cfg.function);
      auto off = elf->file_offset(sym->address + cfg.offset);
      auto counter = test::UprobeCounter::attach(exe, *off, test::count_only(cfg.retprobe));
      if (!counter) {
        fmt::print(stderr, "placement_bench: {}: {}\n", cfg.name, counter.error().message);
        return 1;
      }
      time_calls(cfg.fn, calls / 100);  // the first hits install the XOL area / trampoline
      uint64_t before = (*counter)->hits();
      samples[c].push_back(time_calls(cfg.fn, calls));
      uint64_t hits = (*counter)->hits() - before;
      if (hits != static_cast<uint64_t>(calls))
        fmt::print(stderr, "placement_bench: {}: {} hits for {} calls\n", cfg.name, hits, calls);
    }
  }
  auto wall = [](const std::vector<Sample>& v) {
    std::vector<double> out;
    for (const auto& s : v) out.push_back(s.wall);
    return out;
  };
  auto cpu = [](const std::vector<Sample>& v) {
    std::vector<double> out;
    for (const auto& s : v) out.push_back(s.cpu);
    return out;
  };
  double base_wall = median(wall(baseline)), base_cpu = median(cpu(baseline));
  fmt::print("kernel: ");
  fflush(stdout);
  if (std::system("uname -r") != 0) fmt::print("?\n");
  double load = 0;
  if (FILE* f = fopen("/proc/loadavg", "r")) {
    if (fscanf(f, "%lf", &load) != 1) load = 0;
    fclose(f);
  }
  fmt::print("{} calls per configuration per round, {} rounds (order rotated), medians; unprobed baseline "
             "{:.1f} ns wall / {:.1f} ns CPU per call, subtracted; load average at the end {:.2f}\n\n",
             calls, rounds, base_wall, base_cpu, load);
  fmt::print("| probe on | ns/hit (wall) | min..max over rounds | ns/hit (thread CPU) | expected class |\n"
             "|---|---|---|---|---|\n");
  for (size_t c = 0; c < configs.size(); ++c) {
    auto w = wall(samples[c]);
    auto [lo, hi] = std::minmax_element(w.begin(), w.end());
    fmt::print("| {} | {:.0f} | {:.0f}..{:.0f} | {:.0f} | {} |\n", configs[c].name, median(w) - base_wall,
               *lo - base_wall, *hi - base_wall, median(cpu(samples[c])) - base_cpu, configs[c].expected);
  }
  print_analysis(*elf);
  return 0;
}

}  // namespace
}  // namespace probe

int main(int argc, char** argv) {
  long calls = argc > 1 ? std::atol(argv[1]) : 200000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  return probe::run(calls, rounds);
}
