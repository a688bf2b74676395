#include "runtime/metrics/self_metrics.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <fstream>

#include "runtime/attach/attacher.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/lua/lua_runtime.h"
#include "runtime/sinks/sink.h"

namespace probe {
namespace {

FamilySnapshot family(std::string name, std::string help, MetricKind kind) {
  FamilySnapshot f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.kind = kind;
  return f;
}

void add(FamilySnapshot& f, Labels labels, double v) {
  SeriesSnapshot s;
  s.labels = std::move(labels);
  s.value = v;
  f.series.push_back(std::move(s));
}

// A family of one unlabelled series.
FamilySnapshot single(std::string name, std::string help, MetricKind kind, double v) {
  FamilySnapshot f = family(std::move(name), std::move(help), kind);
  add(f, {}, v);
  return f;
}

}  // namespace

uint64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

Registry::Collector self_metrics_collector(SelfMetricsSources src) {
  return [src](std::vector<FamilySnapshot>& out) {
    std::vector<ProbeSample> probes = src.probes();
    auto probe_family = [&](const char* name, const char* help, auto field) {
      FamilySnapshot f = family(name, help, MetricKind::kCounter);
      for (const auto& p : probes) add(f, {{"probe", p.name}}, static_cast<double>(field(p.kernel)));
      out.push_back(std::move(f));
    };
    probe_family("probekit_probe_hits_total", "Probe program runs (kernel)",
                 [](const ProbeCounters& c) { return c.hits; });
    probe_family("probekit_probe_events_total", "Events written to the ring buffer (kernel)",
                 [](const ProbeCounters& c) { return c.emitted; });
    probe_family("probekit_probe_filtered_total", "Calls dropped by filters and matchers (kernel)",
                 [](const ProbeCounters& c) { return c.filtered; });
    probe_family("probekit_probe_ringbuf_drops_total", "Events lost because the ring buffer was full",
                 [](const ProbeCounters& c) { return c.ringbuf_drops; });
    probe_family("probekit_probe_read_errors_total", "Failed reads of probed memory",
                 [](const ProbeCounters& c) { return c.read_errors; });
    probe_family("probekit_probe_map_full_total", "Updates refused because a map was full",
                 [](const ProbeCounters& c) { return c.map_full; });
    probe_family("probekit_probe_no_entry_total", "Returns without a saved entry",
                 [](const ProbeCounters& c) { return c.no_entry; });
    probe_family("probekit_probe_truncated_total", "Captures cut at their max",
                 [](const ProbeCounters& c) { return c.truncated; });

    FamilySnapshot decoded = family("probekit_events_decoded_total", "Events decoded in user space",
                                    MetricKind::kCounter);
    for (const auto& p : probes) add(decoded, {{"probe", p.name}}, static_cast<double>(p.decoded));
    out.push_back(std::move(decoded));
    out.push_back(single("probekit_events_malformed_total", "Records that did not decode", MetricKind::kCounter,
                         static_cast<double>(src.malformed())));
    if (src.retired)
      out.push_back(single("probekit_events_retired_total",
                           "Events of probes a reload replaced, dropped after the switch", MetricKind::kCounter,
                           static_cast<double>(src.retired())));
    if (src.generations)
      out.push_back(single("probekit_policy_generations",
                           "Loaded versions of the policy (a reload keeps unchanged probes in theirs)",
                           MetricKind::kGauge, static_cast<double>(src.generations())));

    if (src.handlers) {
      HandlerCounters h = src.handlers();
      out.push_back(single("probekit_handler_calls_total", "Lua handler calls", MetricKind::kCounter,
                           static_cast<double>(h.calls)));
      FamilySnapshot errors = family("probekit_handler_errors_total", "Lua handler errors", MetricKind::kCounter);
      add(errors, {{"kind", "error"}}, static_cast<double>(h.errors - h.budget_exceeded));
      add(errors, {{"kind", "budget"}}, static_cast<double>(h.budget_exceeded));
      out.push_back(std::move(errors));
      out.push_back(single("probekit_handler_seconds_total", "Time spent in Lua handlers", MetricKind::kCounter,
                           static_cast<double>(h.nanoseconds) / 1e9));
    }

    FamilySnapshot sent = family("probekit_sink_sent_total", "Records a sink delivered", MetricKind::kCounter);
    FamilySnapshot dropped = family("probekit_sink_dropped_total", "Records a sink refused or could not queue",
                                    MetricKind::kCounter);
    FamilySnapshot failed = family("probekit_sink_failed_total", "Records whose delivery failed", MetricKind::kCounter);
    FamilySnapshot queued = family("probekit_sink_queue_depth", "Records waiting in a sink's queue", MetricKind::kGauge);
    for (const auto& [id, s] : *src.sinks) {
      Labels l = {{"sink", id}, {"type", s->type()}};
      add(sent, l, static_cast<double>(s->counters().sent.load()));
      add(dropped, l, static_cast<double>(s->counters().dropped.load()));
      add(failed, l, static_cast<double>(s->counters().failed.load()));
      add(queued, l, static_cast<double>(s->queued()));
    }
    for (auto* f : {&sent, &dropped, &failed, &queued}) out.push_back(std::move(*f));

    if (src.attach_records) {
      FamilySnapshot attach = family("probekit_attach_state", "Attach points by probe and state (1 = current)",
                                     MetricKind::kGauge);
      for (const auto& r : src.attach_records()) add(attach, {{"probe", r.probe}, {"state", attach_state_name(r.state)}, {"where", r.where}}, 1);
      out.push_back(std::move(attach));
    }

    // Kernel BPF statistics are kept only while kernel.bpf_stats_enabled=1.
    FamilySnapshot run_ns = family("probekit_bpf_run_seconds_total", "Time spent in each BPF program",
                                   MetricKind::kCounter);
    FamilySnapshot run_cnt = family("probekit_bpf_runs_total", "Runs of each BPF program", MetricKind::kCounter);
    for (const auto& p : probes)
      for (const auto& [program, fd] : p.programs) {
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
        Labels l = {{"probe", p.name}, {"program", program}};
        add(run_ns, l, static_cast<double>(info.run_time_ns) / 1e9);
        add(run_cnt, l, static_cast<double>(info.run_cnt));
      }
    out.push_back(std::move(run_ns));
    out.push_back(std::move(run_cnt));

    out.push_back(single("probekit_metric_overflow_total",
                         "Handler metric updates beyond max series (counted under \"other\")", MetricKind::kCounter,
                         static_cast<double>(src.registry->overflowed())));
    out.push_back(single("probekit_resident_memory_bytes", "Resident memory of probed", MetricKind::kGauge,
                         static_cast<double>(resident_bytes())));
  };
}

}  // namespace probe
