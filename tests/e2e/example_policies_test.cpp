// The example policies in policies/examples/ on the real software they are written for:
// Python's garbage collector (USDT), redis-server's allocator (uretprobe + histogram), node
// activity from tracepoints, and libc I/O from a Lua policy. Metrics are read back from the
// kernel maps the policies aggregate into.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "common/files.h"
#include "tests/support/bpf_session.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

std::string example(const std::string& name) {
  return *read_file(test::source_dir() + "/policies/examples/" + name);
}

uint64_t total(const std::vector<MetricSeries>& series, const std::string& label, const std::string& value) {
  uint64_t n = 0;
  for (const auto& s : series)
    for (const auto& [k, v] : s.labels)
      if (k == label && v == value) n += s.count;
  return n;
}

TEST(ExamplePolicies, PythonGcCountsCollectionsByGeneration) {
  if (!test::find_program("python3.11")) GTEST_SKIP() << "python3.11 is not installed";
  test::BpfSession s(example("python-gc.toml"));
  ASSERT_EQ(s.error(), "");
  auto [rc, out] = test::run({"/usr/bin/python3.11", "-c", "import gc\nfor _ in range(7): gc.collect()"});
  ASSERT_EQ(rc, 0) << out;
  auto gc = s.metric("python_gc_total");
  // gc.collect() collects generation 2; the interpreter may run others on its own.
  EXPECT_GE(total(gc, "gen", "2"), 7u);
  EXPECT_GE(total(gc, "comm", "python3.11"), 7u);
}

TEST(ExamplePolicies, RedisMallocLatencyHistogram) {
  auto server = test::find_program("redis-server");
  auto bench = test::find_program("redis-benchmark");
  if (!server || !bench) GTEST_SKIP() << "redis-server/redis-benchmark are not installed";
  test::BpfSession s(example("redis-malloc-latency.toml"));
  ASSERT_EQ(s.error(), "");
  int port = test::free_tcp_port();
  test::Process redis({*server, "--port", std::to_string(port), "--save", "", "--appendonly", "no"});
  // Every malloc of the starting server now hits a uretprobe; wait until it answers.
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = test::run({"redis-cli", "-p", std::to_string(port), "ping"}).second.find("PONG") != std::string::npos;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(up) << redis.stderr_text();
  auto [rc, out] = test::run({*bench, "-p", std::to_string(port), "-n", "2000", "-q", "-t", "set,get"});
  ASSERT_EQ(rc, 0) << out;
  redis.signal(SIGTERM);
  redis.wait(10s);
  uint64_t calls = 0, in_buckets = 0;
  for (const auto& m : s.metric("malloc_latency_nanoseconds")) {
    calls += m.count;
    for (auto b : m.buckets) in_buckets += b;
  }
  EXPECT_GT(calls, 2000u);  // redis allocates for every command
  EXPECT_EQ(in_buckets, calls);
  int64_t bytes = 0;
  for (const auto& m : s.metric("malloc_bytes_total")) bytes += m.sum;
  EXPECT_GT(bytes, 0);
  // Only redis-server is selected: redis-benchmark's own mallocs are not counted.
  EXPECT_EQ(s.counters("malloc").filtered, 0u);
}

TEST(ExamplePolicies, NodeMetricsFromTracepoints) {
  test::BpfSession s(example("node-metrics.toml"));
  ASSERT_EQ(s.error(), "");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(test::run({"cat", "/etc/hostname"}).first, 0);
  EXPECT_GE(total(s.metric("process_exec_total"), "comm", "cat"), 3u);
  EXPECT_GE(total(s.metric("file_open_total"), "comm", "cat"), 3u);
  uint64_t reads = 0;
  for (const auto& m : s.metric("read_bytes")) reads += m.count;
  EXPECT_GT(reads, 0u);
}

TEST(ExamplePolicies, LuaPolicyCountsLibcIo) {
  test::BpfSession s(example("libc-io.policy.lua"), ".lua");
  ASSERT_EQ(s.error(), "");
  ASSERT_EQ(test::run({"cat", "/etc/services"}).first, 0);
  uint64_t calls = total(s.metric("libc_read_calls_total"), "comm", "cat");
  EXPECT_GE(calls, 2u);  // reads until EOF
  uint64_t timed = 0;
  for (const auto& m : s.metric("libc_read_latency_ns")) timed += m.count;
  EXPECT_GE(timed, calls);
}

}  // namespace
}  // namespace probe
