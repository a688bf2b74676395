// Why a single-stepped uprobe costs what it does on this machine: the two CPU traps behind a
// uprobe, measured without any probe. An int3 (#BP) trap is what every uprobe hit takes; a
// single-step trap (#DB, EFLAGS.TF) is the extra one an XOL hit takes. Each is measured with a
// SIGTRAP handler, next to a plain raise() for the cost of signal delivery alone. Under a
// hypervisor that intercepts #DB, the second trap is far dearer than the first.
//
// Any user:  build-place/bench/probekit_placement_trap_bench [iterations]
#include <signal.h>
#include <time.h>
#include <ucontext.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<long> g_steps{0};  // written by the signal handler
long g_limit = 0;

void on_single_step(int, siginfo_t*, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  if (++g_steps >= g_limit) uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L;  // clear TF: stop stepping
}

void on_signal(int) {}

double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 20000;
  signal(SIGUSR1, on_signal);
  double t0 = now_ns();
  for (long i = 0; i < n; ++i) raise(SIGUSR1);
  double raise_ns = (now_ns() - t0) / static_cast<double>(n);

  signal(SIGTRAP, on_signal);
  t0 = now_ns();
  for (long i = 0; i < n; ++i) asm volatile("int3");
  double int3_ns = (now_ns() - t0) / static_cast<double>(n);

  struct sigaction sa = {};
  sa.sa_sigaction = on_single_step;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, nullptr);
  g_limit = n;
  t0 = now_ns();
  asm volatile("pushf; orq $0x100, (%%rsp); popf" ::: "memory", "cc");  // set TF
  while (g_steps < g_limit) asm volatile("nop");
  double step_ns = (now_ns() - t0) / static_cast<double>(g_steps);

  std::printf("| trap (with a SIGTRAP handler) | ns each |\n|---|---|\n");
  std::printf("| raise(SIGUSR1): signal delivery only | %.0f |\n", raise_ns);
  std::printf("| int3 (#BP): the trap of every uprobe hit | %.0f |\n", int3_ns);
  std::printf("| single step (#DB, TF): the extra trap of an XOL hit | %.0f |\n", step_ns);
  return 0;
}
