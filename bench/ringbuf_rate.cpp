// End to end through a real BPF ring buffer: a generator thread makes getppid() calls at a
// fixed rate, a tracepoint program emits one 64-byte event per call, and the consumer
// decodes each and runs a Lua handler. Reports, per rate, events generated, received and
// dropped, and the highest rate without loss. Needs root.
//   build/bench/probekit_ringbuf_rate [seconds per rate, default 2]
#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/subprocess.h"
#include "compiler/artifact/artifact.h"
#include "runtime/attach/attacher.h"
#include "runtime/events/pipeline.h"
#include "runtime/events/ring_reader.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/metrics/registry.h"

using namespace probe;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kPolicy[] = R"([policy]
name = "ringbuf-rate"
[probe.call]
tracepoint = "syscalls:sys_enter_getppid"
capture = [{ name = "comm", value = "comm" }, { name = "uid", value = "uid" }, { name = "cpu", value = "cpu" }]
filter = "pid == %d"
[handlers]
script = "%s"
[runtime]
ring_buffer = "16MiB"
)";

struct RateResult {
  double rate;
  uint64_t generated, received, dropped;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::string dir = "/tmp/probekit-ringbuf-rate";
  (void)run_process({"/bin/mkdir", "-p", dir}, "");
  std::ofstream(dir + "/h.lua") << "local n = metrics.counter('rate_events_total', 'events')\n"
                                   "function on_call(ev) local c, u, p = ev.comm, ev.uid, ev.pid; n:inc() end\n";
  std::string policy = dir + "/p.toml";
  std::string text = kPolicy;
  text.replace(text.find("%d"), 2, std::to_string(getpid()));
  text.replace(text.find("%s"), 2, dir + "/h.lua");
  std::ofstream(policy) << text;
  auto out = run_process({self_exe_dir() + "/../compiler/cli/probec", "compile", policy, "-o", dir + "/p.pko"}, "");
  if (!out || out->exit_code != 0) {
    fmt::print(stderr, "probec failed: {}\n", out ? out->err : out.error().message);
    return 2;
  }
  auto artifact = read_artifact(dir + "/p.pko");
  install_libbpf_logger();
  auto obj = BpfObject::load(*artifact, "");
  if (!obj) {
    fmt::print(stderr, "{}\n", obj.error().message);
    return 2;
  }
  Registry registry;
  LuaRuntime::Options o;
  o.registry = &registry;
  auto lua = LuaRuntime::create(dir + "/h.lua", artifact->manifest,
                                [](const std::string&, const nlohmann::json&) { return true; }, o);
  PipelineCounters counters(1);
  Pipeline pipeline(artifact->manifest, counters, nullptr);
  pipeline.set_handlers(lua->get());
  auto ring = RingReader::open((*obj)->events_fd(), [&](const void* d, size_t n) { pipeline.on_record(d, n); });
  Attacher attacher(**obj, artifact->manifest);
  if (auto st = attacher.attach_all(); !st) {
    fmt::print(stderr, "{}\n", st.error().message);
    return 2;
  }

  std::vector<RateResult> results;
  for (double rate : {25e3, 50e3, 100e3, 200e3, 400e3, 800e3, 1.6e6, 3.2e6}) {
    auto before = (*obj)->read_counters()[0];
    uint64_t received_before = counters.records.load();
    std::atomic<bool> done{false};
    uint64_t generated = 0;
    std::thread gen([&] {
      auto start = Clock::now();
      auto period = std::chrono::duration<double>(1.0 / rate);
      auto end = start + std::chrono::duration<double>(seconds);
      auto next = start;
      while (next < end) {
        syscall(SYS_getppid);
        ++generated;
        next += std::chrono::duration_cast<Clock::duration>(period);
        while (Clock::now() < next) {}
      }
      done = true;
    });
    while (!done) (*ring)->consume();
    gen.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (*ring)->consume();
    auto after = (*obj)->read_counters()[0];
    uint64_t emitted = after.emitted - before.emitted;
    results.push_back({rate, generated, counters.records.load() - received_before,
                       after.ringbuf_drops - before.ringbuf_drops});
    fmt::print("target {:>9.0f}/s  generated {:>9}  emitted {:>9}  received {:>9}  dropped {:>7}  achieved {:>9.0f}/s\n",
               rate, generated, emitted, results.back().received, results.back().dropped, generated / seconds);
    if (results.back().dropped > 0) break;
  }
  double best = 0;
  for (const auto& r : results)
    if (r.dropped == 0 && r.received == r.generated) best = std::max(best, r.generated / seconds);
  fmt::print("highest rate with zero loss: {:.0f} events/s\n", best);
  return 0;
}
