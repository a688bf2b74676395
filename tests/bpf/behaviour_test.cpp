// Behaviour of every probe kind and capture type on real programs: a small C program built by
// the test is traced and the decoded values are compared with what it did.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "runtime/loader/features.h"
#include "tests/support/bpf_session.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using nlohmann::json;

constexpr char kTarget[] = R"(#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* With _SDT_HAS_SEMAPHORES every probe has one; only `armed` is checked before firing. */
unsigned short pktest_tick_semaphore __attribute__((section(".probes")));
unsigned short pktest_armed_semaphore __attribute__((section(".probes")));

__attribute__((noinline)) int64_t pk_mix(int32_t a, int64_t b, uint8_t c, uint16_t d, const char *s, void *p) {
  asm volatile("" ::: "memory");
  return (int64_t)a + b + c + d + (s ? s[0] : 0) + (p ? 1 : 0);
}

__attribute__((noinline)) int pk_fill(char *buf, size_t cap, size_t *written) {
  asm volatile("" ::: "memory");
  const char *msg = "payload-from-target";
  size_t n = strlen(msg) < cap ? strlen(msg) : cap;
  memcpy(buf, msg, n);
  *written = n;
  return 1;
}

__attribute__((noinline)) int pk_fail(int x) {
  asm volatile("" ::: "memory");
  return -x;
}

__attribute__((noinline)) void pk_nap(int us) { usleep(us); }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1;
  int armed = 0;
  /* On the stack: BPF reads of user memory cannot fault pages in, and a string literal's
   * page may not be mapped yet on the first call. */
  char greeting[8];
  strcpy(greeting, "hello");
  for (int i = 0; i < n; i++) {
    pk_mix(-i, 1000000000000LL + i, (uint8_t)(200 + i), (uint16_t)(60000 + i), greeting, &n);
    char buf[64];
    size_t w = 0;
    pk_fill(buf, sizeof buf, &w);
    pk_fail(i + 1);
    DTRACE_PROBE2(pktest, tick, i, i * 2);
    if (pktest_armed_semaphore) {
      armed++;
      STAP_PROBE1(pktest, armed, i);
    }
    pk_nap(1000);
  }
  printf("armed=%d\n", armed);
  fflush(stdout);
  return 0;
}
)";

class Behaviour : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    auto [bin, err] = test::build_c_program(dir_, "pktarget", kTarget, {"-O0"});
    ASSERT_TRUE(err.empty()) << err;
    bin_ = bin;
  }

  std::unique_ptr<test::BpfSession> session(const std::string& body) {
    auto s = std::make_unique<test::BpfSession>(
        fmt::format("[policy]\nname = \"behaviour\"\n[target.t]\nbinary = \"{}\"\n{}", bin_, body));
    EXPECT_EQ(s->error(), "");
    return s;
  }

  // Runs the target for n iterations; returns its stdout.
  std::string run_target(int n) {
    auto [rc, out] = test::run({bin_, std::to_string(n)});
    EXPECT_EQ(rc, 0) << out;
    last_pid_ = 0;
    return out;
  }

  test::TempDir dir_;
  std::string bin_;
  int last_pid_ = 0;
};

TEST_F(Behaviour, UprobeCapturesEveryScalarWidthStringsPointersAndRegisters) {
  auto s = session(R"TOML(
[probe.mix]
target = "t"
uprobe = "pk_mix"
signature = "int64_t pk_mix(int32_t a, int64_t b, uint8_t c, uint16_t d, const char *s, void *p)"
capture = [
  { name = "a", value = "a" }, { name = "b", value = "b" }, { name = "c", value = "c" },
  { name = "d", value = "d" }, { name = "s", value = "s", type = "str", max = 16 },
  { name = "p", value = "p" }, { name = "sp", value = "reg.sp" }, { name = "comm", value = "comm" },
  { name = "stack", value = "ustack" },
]
)TOML");
  if (!s->error().empty()) return;
  run_target(3);
  auto ev = s->events_of("mix");
  ASSERT_EQ(ev.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ev[i]["a"], -i);
    EXPECT_EQ(ev[i]["b"], 1000000000000LL + i);
    EXPECT_EQ(ev[i]["c"], 200 + i);
    EXPECT_EQ(ev[i]["d"], 60000 + i);
    EXPECT_EQ(ev[i]["s"], "hello");
    EXPECT_NE(ev[i]["p"], 0u);
    EXPECT_NE(ev[i]["sp"], 0u);
    EXPECT_EQ(ev[i]["comm"], "pktarget");
    EXPECT_GE(ev[i]["stack"].get<int64_t>(), 0) << "bpf_get_stackid failed";
    EXPECT_EQ(ev[i]["pid"], ev[0]["pid"]);
  }
  EXPECT_EQ(s->counters("mix").hits, 3u);
  EXPECT_EQ(s->counters("mix").emitted, 3u);
}

TEST_F(Behaviour, UretprobePairsEntryArgumentsOutPointersAndElapsedWithTheReturn) {
  auto s = session(R"TOML(
[probe.fill]
target = "t"
uretprobe = "pk_fill"
signature = "int pk_fill(char *buf, size_t cap, size_t *written)"
capture = [
  { name = "rc", value = "ret" }, { name = "cap", value = "cap" }, { name = "n", value = "*written" },
  { name = "data", value = "buf", type = "bytes", len = "*written", max = 64 },
  { name = "took", value = "elapsed" },
]
[probe.fail]
target = "t"
uretprobe = "pk_fail"
returns = "i32"
capture = [{ name = "rc", value = "ret" }, { name = "x", value = "arg0", type = "i32" }]
filter = "ret < -1"
)TOML");
  if (!s->error().empty()) return;
  run_target(4);
  auto fill = s->events_of("fill");
  ASSERT_EQ(fill.size(), 4u);
  for (const auto& e : fill) {
    EXPECT_EQ(e["rc"], 1);
    EXPECT_EQ(e["cap"], 64);
    EXPECT_EQ(e["n"], 19);
    EXPECT_EQ(e["data"], "payload-from-target");
    EXPECT_GT(e["took"].get<uint64_t>(), 0u);
  }
  // pk_fail returns an int: -1 arrives as 0xffffffff in rax and must stay -1; the filter
  // keeps calls 2..4.
  auto fail = s->events_of("fail");
  ASSERT_EQ(fail.size(), 3u);
  for (size_t i = 0; i < fail.size(); ++i) {
    EXPECT_EQ(fail[i]["rc"], -static_cast<int>(i + 2));
    EXPECT_EQ(fail[i]["x"], static_cast<int>(i + 2));
  }
  EXPECT_EQ(s->counters("fail").filtered, 1u);
  EXPECT_EQ(s->counters("fail").no_entry, 0u);
}

TEST_F(Behaviour, AFunctionPatternAttachesToEveryMatchingFunction) {
  // "pk_f*" matches pk_fill and pk_fail (one uprobe_multi link on kernels that have them).
  auto s = session(R"TOML(
[probe.any]
target = "t"
uprobe = "pk_f*"
capture = [{ name = "ip", value = "reg.ip" }]
)TOML");
  if (!s->error().empty()) return;
  run_target(3);
  auto ev = s->events_of("any");
  ASSERT_EQ(ev.size(), 6u);
  std::map<uint64_t, int> per_site;
  for (const auto& e : ev) per_site[e["ip"].get<uint64_t>()]++;
  ASSERT_EQ(per_site.size(), 2u) << "events from two functions carry two instruction pointers";
  for (const auto& [ip, n] : per_site) EXPECT_EQ(n, 3) << std::hex << ip;
}

TEST_F(Behaviour, UsdtArgumentsAndSemaphores) {
  auto s = session(R"TOML(
[probe.tick]
target = "t"
usdt = "pktest:tick"
capture = [{ name = "i", value = "arg0", type = "i32" }, { name = "twice", value = "arg1", type = "i32" }]
[probe.armed]
target = "t"
usdt = "pktest:armed"
capture = [{ name = "i", value = "arg0", type = "i32" }]
)TOML");
  if (!s->error().empty()) return;
  std::string out = run_target(3);
  // Attaching to a probe with a semaphore sets it in every process that maps the file.
  EXPECT_EQ(out, "armed=3\n");
  auto tick = s->events_of("tick");
  ASSERT_EQ(tick.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tick[i]["i"], i);
    EXPECT_EQ(tick[i]["twice"], 2 * i);
  }
  EXPECT_EQ(s->events_of("armed").size(), 3u);
}

TEST_F(Behaviour, TracepointFieldsDataLocStringsAndUserPointers) {
  auto s = session(R"TOML(
[target.me]
process = { comm = ["pktarget"] }
[probe.write]
tracepoint = "syscalls:sys_enter_write"
target = "me"
capture = [{ name = "fd", value = "args.fd", type = "i32" }, { name = "count", value = "args.count" },
           { name = "buf", value = "args.buf", type = "bytes", len = "args.count", max = 64 }]
[probe.exec]
tracepoint = "sched:sched_process_exec"
capture = [{ name = "file", value = "args.filename" }]
filter = 'comm == "pktarget"'
)TOML");
  if (!s->error().empty()) return;
  run_target(2);
  auto w = s->events_of("write");
  ASSERT_EQ(w.size(), 1u) << json(s->events()).dump();
  EXPECT_EQ(w[0]["fd"], 1);
  EXPECT_EQ(w[0]["count"], 8);
  EXPECT_EQ(w[0]["buf"], "armed=0\n");
  auto e = s->events_of("exec");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["file"], bin_);
}

TEST_F(Behaviour, RawTracepointArguments) {
  auto s = session(R"TOML(
[probe.sys]
raw_tracepoint = "sys_enter"
capture = [{ name = "nr", value = "arg1", type = "i64" }]
filter = ['comm == "pktarget"', "arg1 == 1"]
)TOML");
  if (!s->error().empty()) return;
  run_target(1);
  auto ev = s->events_of("sys");
  ASSERT_GE(ev.size(), 1u);  // write(2) is syscall 1 on x86-64
  for (const auto& e : ev) EXPECT_EQ(e["nr"], 1);
}

TEST_F(Behaviour, MetricsCountSumAndBucketInTheKernel) {
  auto s = session(R"TOML(
[probe.mix]
target = "t"
uprobe = "pk_mix"
signature = "int64_t pk_mix(int32_t a, int64_t b, uint8_t c, uint16_t d, const char *s, void *p)"
event = false
[metric.mix_calls_total]
kind = "counter"
probe = "mix"
labels = { comm = "comm", c = "c" }
[metric.mix_b_sum]
kind = "sum"
probe = "mix"
value = "b"
[metric.mix_c_linear]
kind = "histogram"
probe = "mix"
value = "c"
buckets = { linear = { min = 200, max = 204, step = 2 } }
[metric.mix_d_explicit]
kind = "histogram"
probe = "mix"
value = "d"
buckets = [60000, 60002]
[metric.mix_a_log2]
kind = "histogram"
probe = "mix"
value = "a"
[metric.mix_overflow_total]
kind = "counter"
probe = "mix"
labels = { a = "a" }
max_series = 2
)TOML");
  if (!s->error().empty()) return;
  run_target(5);
  EXPECT_TRUE(s->events().empty());  // event = false: nothing crosses to user space

  auto calls = s->metric("mix_calls_total");
  std::map<std::string, uint64_t> by_c;
  for (const auto& m : calls)
    if (!m.overflow) {
      EXPECT_EQ(m.labels[0].second, "pktarget");
      by_c[m.labels[1].second] += m.count;
    }
  EXPECT_EQ(by_c, (std::map<std::string, uint64_t>{{"200", 1}, {"201", 1}, {"202", 1}, {"203", 1}, {"204", 1}}));

  auto sum = s->metric("mix_b_sum");
  int64_t total = 0;
  for (const auto& m : sum) total += m.sum;
  EXPECT_EQ(total, 5 * 1000000000000LL + 0 + 1 + 2 + 3 + 4);

  // le bounds 200, 202, 204, +Inf: c = 200..204 → 1, 2, 2, 0.
  auto lin = s->metric("mix_c_linear");
  std::vector<uint64_t> lin_buckets(4, 0);
  for (const auto& m : lin)
    for (size_t b = 0; b < m.buckets.size(); ++b) lin_buckets[b] += m.buckets[b];
  EXPECT_EQ(lin_buckets, (std::vector<uint64_t>{1, 2, 2, 0}));

  // le bounds 60000, 60002, +Inf: d = 60000..60004 → 1, 2, 2.
  auto ex = s->metric("mix_d_explicit");
  std::vector<uint64_t> ex_buckets(3, 0);
  uint64_t ex_count = 0;
  for (const auto& m : ex) {
    ex_count += m.count;
    for (size_t b = 0; b < m.buckets.size(); ++b) ex_buckets[b] += m.buckets[b];
  }
  EXPECT_EQ(ex_buckets, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_EQ(ex_count, 5u);

  // a = 0, -1, -2, -3, -4: all in the first log2 bucket (le 0).
  auto lg = s->metric("mix_a_log2");
  uint64_t first = 0, all = 0;
  for (const auto& m : lg) {
    first += m.buckets[0];
    for (auto b : m.buckets) all += b;
  }
  EXPECT_EQ(first, 5u);
  EXPECT_EQ(all, 5u);

  // Two series fit; the other three calls land in the overflow series and are counted.
  auto ov = s->metric("mix_overflow_total");
  uint64_t labelled = 0, overflowed = 0;
  for (const auto& m : ov) {
    if (m.overflow) {
      overflowed += m.count;
      EXPECT_EQ(m.labels[0].second, kOverflowLabel);
    } else {
      labelled += m.count;
    }
  }
  EXPECT_EQ(labelled, 2u);
  EXPECT_EQ(overflowed, 3u);
  EXPECT_EQ(s->counters("mix").map_full, 3u);
}

TEST_F(Behaviour, LogTwoHistogramOfElapsedTime) {
  auto s = session(R"TOML(
[probe.nap]
target = "t"
uretprobe = "pk_nap"
event = false
[metric.nap_ns]
kind = "histogram"
probe = "nap"
value = "elapsed"
)TOML");
  if (!s->error().empty()) return;
  run_target(4);
  auto h = s->metric("nap_ns");
  ASSERT_EQ(h.size(), 2u);  // the series and the (empty) overflow series
  for (const auto& m : h) {
    if (m.overflow) continue;
    EXPECT_EQ(m.count, 4u);
    EXPECT_GE(m.sum, 4 * 1000000);  // each nap is at least 1 ms
    // usleep(1000) takes 1–50 ms here: le 2^20 .. 2^26 ns, buckets 21..27.
    uint64_t in_range = 0;
    for (size_t b = 21; b <= 27; ++b) in_range += m.buckets[b];
    EXPECT_EQ(in_range, 4u);
  }
}

TEST_F(Behaviour, KprobesLoadAndAttachWhereTheKernelHasThem) {
  if (!kernel_features().kprobes)
    GTEST_SKIP() << "this kernel is built without kprobes (no kprobe PMU in /sys/bus/event_source)";
  auto s = session(R"TOML(
[probe.open]
kretprobe = "do_sys_openat2"
capture = [{ name = "rc", value = "ret", type = "i64" }]
filter = 'comm == "pktarget"'
)TOML");
  if (!s->error().empty()) return;
  run_target(1);
  EXPECT_GE(s->events_of("open").size(), 1u);
}

TEST_F(Behaviour, FentryAndFexitWhereTheKernelAllowsTrampolines) {
  if (!kernel_features().trampolines)
    GTEST_SKIP() << "this kernel refuses fentry/fexit programs (" << kernel_features().trampolines_error << ")";
  auto s = session(R"TOML(
[probe.open]
fexit = "do_sys_openat2"
capture = [{ name = "rc", value = "ret", type = "i64" }, { name = "took", value = "elapsed" }]
filter = 'comm == "pktarget"'
)TOML");
  if (!s->error().empty()) return;
  run_target(1);
  EXPECT_GE(s->events_of("open").size(), 1u);
}

}  // namespace
}  // namespace probe
