// Event pipeline speed on one core: decoding 64-byte records through the manifest, and
// decoding plus a Lua handler that reads six fields and updates a counter. Run:
//   build/bench/probekit_pipeline_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "runtime/events/event_view.h"
#include "runtime/events/pipeline.h"
#include "runtime/lua/lua_runtime.h"
#include "runtime/metrics/registry.h"

namespace probe {
namespace {

// A probe with a 64-byte record: header (32) + ssl (8) + len (4) + fd (4) + comm (16).
Manifest manifest() {
  Manifest m;
  m.probe_count = 1;
  ProbeManifest p;
  p.name = "w";
  p.handler = "on_w";
  p.fixed_size = 64;
  p.fields = {{"ssl", plan::FieldType::kPtr, 32, 8, -1, 0},
              {"len", plan::FieldType::kI32, 40, 4, -1, 0},
              {"fd", plan::FieldType::kI32, 44, 4, -1, 0},
              {"comm", plan::FieldType::kString, 48, 16, -1, 0}};
  m.probes.push_back(p);
  return m;
}

std::vector<uint8_t> record() {
  std::vector<uint8_t> r(64, 0);
  pk_event_header h{0, 64, 4242, 4243, 123456789, 1};
  std::memcpy(r.data(), &h, sizeof h);
  uint64_t ssl = 0x55aa55aa;
  int32_t len = 512, fd = 7;
  std::memcpy(r.data() + 32, &ssl, 8);
  std::memcpy(r.data() + 40, &len, 4);
  std::memcpy(r.data() + 44, &fd, 4);
  std::memcpy(r.data() + 48, "curl", 4);
  return r;
}

void BM_DecodeOnly(benchmark::State& state) {
  Manifest m = manifest();
  EventDecoder dec(m);
  auto r = record();
  const auto& f = m.probes[0].fields;
  int64_t sum = 0;
  for (auto _ : state) {
    auto ev = dec.decode(r.data(), r.size());
    sum += ev->pid() + *ev->integer(f[0]) + *ev->integer(f[1]) + *ev->integer(f[2]) +
           static_cast<int64_t>(ev->bytes(f[3])->data.size());
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOnly);

void BM_DecodeAndLuaHandler(benchmark::State& state) {
  Manifest m = manifest();
  Registry registry;
  std::string script = "/tmp/probekit-bench-handler.lua";
  std::ofstream(script) << R"(
    local calls = metrics.counter("bench_calls_total", "calls")
    local n = 0
    function on_w(ev)
      local pid, tid, ts, len, fd, comm = ev.pid, ev.tid, ev.ts, ev.len, ev.fd, ev.comm
      if len > 0 and fd >= 0 then n = n + 1 end
      calls:inc()
    end)";
  LuaRuntime::Options o;
  o.registry = &registry;
  auto lua = LuaRuntime::create(script, m, [](const std::string&, const nlohmann::json&) { return true; }, o);
  if (!lua) {
    state.SkipWithError(lua.error().message.c_str());
    return;
  }
  PipelineCounters counters(1);
  Pipeline p(m, counters, nullptr);
  p.set_handlers(lua->get());
  auto r = record();
  for (auto _ : state) p.on_record(r.data(), r.size());
  state.SetItemsProcessed(state.iterations());
  if ((*lua)->counters().errors != 0) state.SkipWithError("handler errors");
}
BENCHMARK(BM_DecodeAndLuaHandler);

}  // namespace
}  // namespace probe

BENCHMARK_MAIN();
