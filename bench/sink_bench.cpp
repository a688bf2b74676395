// Sink throughput on one core: records per second through emit() and the sink's worker to a
// real destination — Orchestrator datagrams to a local UDP socket, JSON lines to /dev/null and
// to a file, OTLP spans batched to a local HTTP receiver — plus the per-record costs on the
// event loop (formatting, validation, encoding) and a /metrics render. The process is pinned
// to CPU 0, so the event loop and the sink's worker share one core; the receivers run on their
// own threads, started before the pinning.
//
//   build-sinks/bench/probekit_sink_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "runtime/metrics/registry.h"
#include "runtime/sinks/jsonl/jsonl_sink.h"
#include "runtime/sinks/orchestrator/datagram.h"
#include "runtime/sinks/orchestrator/orchestrator_sink.h"
#include "runtime/sinks/otlp/otlp_encode.h"
#include "runtime/sinks/otlp/otlp_sink.h"
#include "runtime/sinks/otlp/span_record.h"
#include "runtime/sinks/prometheus/text_format.h"

namespace probe {
namespace {

constexpr int kBurst = 4096;  // records per iteration: below every queue bound, so none drop

void pin_to_cpu0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
}

nlohmann::json api_call(int i) {
  return {{"method", "GET"}, {"host", "api.example.com"}, {"path", "/v1/items?id=" + std::to_string(i)},
          {"latency_ms", 41.2}, {"status", 200}, {"pid", 1234}, {"comm", "curl"}};
}

nlohmann::json span_record(int i) {
  return {{"kind", "client"},
          {"start_ns", 1'000'000'000},
          {"end_ns", 1'002'500'000},
          {"http", {{"method", "GET"}, {"host", "api.example.com:8443"}, {"path", "/v1/items?id=" + std::to_string(i)},
                    {"status", 200}}},
          {"attributes", {{"probekit.seq", i}, {"thread.id", 4321}}}};
}

// Emits kBurst records and waits until the sink delivered them: records/s end to end.
void run_bursts(benchmark::State& state, Sink& sink, const std::function<nlohmann::json(int)>& make) {
  std::vector<nlohmann::json> records;
  for (int i = 0; i < kBurst; ++i) records.push_back(make(i));
  uint64_t sent_before = sink.counters().sent;
  for (auto _ : state) {
    for (const auto& r : records) sink.emit(r);
    sink.flush();
  }
  uint64_t sent = sink.counters().sent - sent_before;
  state.SetItemsProcessed(static_cast<int64_t>(sent));
  state.counters["dropped"] = static_cast<double>(sink.counters().dropped);
  state.counters["failed"] = static_cast<double>(sink.counters().failed);
}

// A UDP socket that discards what it receives, on its own thread.
class UdpDrain {
 public:
  UdpDrain() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      char buf[9000];
      while (!stop_)
        if (recv(fd_, buf, sizeof buf, 0) > 0) ++received_;
    });
  }
  ~UdpDrain() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

// An OTLP/HTTP receiver that answers 200 and keeps nothing.
class NullCollector {
 public:
  NullCollector() {
    server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
      bytes_ += req.body.size();
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) usleep(1000);
  }
  ~NullCollector() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

void BM_OrchestratorDatagrams(benchmark::State& state) {
  UdpDrain orchestrator;
  pin_to_cpu0();
  OrchestratorOptions o;
  o.endpoint = "127.0.0.1:" + std::to_string(orchestrator.port());
  o.log_calls = false;
  auto sink = OrchestratorSink::open("orchestrator", o);
  run_bursts(state, **sink, api_call);
}
BENCHMARK(BM_OrchestratorDatagrams)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_JsonlLinesToDevNull(benchmark::State& state) {
  pin_to_cpu0();
  auto sink = JsonlSink::open("jsonl", "/dev/null");
  run_bursts(state, **sink, api_call);
}
BENCHMARK(BM_JsonlLinesToDevNull)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_JsonlLinesToFile(benchmark::State& state) {
  pin_to_cpu0();
  std::string path = "/tmp/probekit-sink-bench.jsonl";
  std::filesystem::remove(path);
  {
    auto sink = JsonlSink::open("jsonl", path);
    run_bursts(state, **sink, api_call);
  }
  std::filesystem::remove(path);
}
BENCHMARK(BM_JsonlLinesToFile)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OtlpSpansBatched(benchmark::State& state) {
  NullCollector collector;
  pin_to_cpu0();
  OtlpOptions o;
  o.exporter.endpoint = collector.url();
  o.exporter.encoding = state.range(0) ? otlp::Encoding::kJson : otlp::Encoding::kProtobuf;
  o.metrics_interval = std::chrono::milliseconds(0);
  o.queue.max_batch = 512;
  auto sink = OtlpSink::open("otlp", o, nullptr);
  state.SetLabel(state.range(0) ? "json" : "protobuf");
  run_bursts(state, **sink, span_record);
}
BENCHMARK(BM_OtlpSpansBatched)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// What emit() costs the event loop per record, without the worker's share.
void BM_EmitPathOrchestratorFormat(benchmark::State& state) {
  std::string why;
  for (auto _ : state)
    benchmark::DoNotOptimize(format_orchestrator_datagram("GET", "api.example.com", "/v1/items?id=4", 41.2, &why));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmitPathOrchestratorFormat);

void BM_EmitPathJsonlSerialize(benchmark::State& state) {
  auto record = api_call(4);
  for (auto _ : state) benchmark::DoNotOptimize(jsonl_line(record));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmitPathJsonlSerialize);

void BM_EmitPathOtlpSpanFromRecord(benchmark::State& state) {
  auto record = span_record(4);
  otlp::IdGenerator ids;
  for (auto _ : state) benchmark::DoNotOptimize(otlp::span_from_record(record, otlp::SpanClock::now(), ids));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmitPathOtlpSpanFromRecord);

void BM_OtlpEncode512Spans(benchmark::State& state) {
  otlp::IdGenerator ids;
  std::vector<otlp::Span> spans;
  for (int i = 0; i < 512; ++i) spans.push_back(*otlp::span_from_record(span_record(i), otlp::SpanClock::now(), ids));
  otlp::Resource resource;
  resource.attributes = {{"service.name", std::string("bench")}};
  auto encoding = state.range(0) ? otlp::Encoding::kJson : otlp::Encoding::kProtobuf;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = otlp::encode_traces(encoding, resource, otlp::Scope{}, spans);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * 512);
  state.counters["bytes_per_span"] = static_cast<double>(bytes) / 512;
  state.SetLabel(state.range(0) ? "json" : "protobuf");
}
BENCHMARK(BM_OtlpEncode512Spans)->Arg(0)->Arg(1);

// A /metrics scrape of 1,000 series: 10 counters and 10 histograms of 50 label sets each.
void BM_PrometheusRender1000Series(benchmark::State& state) {
  Registry registry;
  for (int f = 0; f < 10; ++f) {
    auto* c = *registry.counter("bench_calls_" + std::to_string(f) + "_total", "Calls");
    auto* h = *registry.histogram("bench_latency_" + std::to_string(f) + "_seconds", "Latency",
                                  {0.001, 0.01, 0.1, 1, 10});
    for (int s = 0; s < 50; ++s) {
      c->add({{"comm", "proc" + std::to_string(s)}}, s);
      h->observe({{"comm", "proc" + std::to_string(s)}}, 0.05);
    }
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = render_exposition(registry.collect());
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_PrometheusRender1000Series)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace probe

BENCHMARK_MAIN();
