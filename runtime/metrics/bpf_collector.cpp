#include "runtime/metrics/bpf_collector.h"

#include <algorithm>

#include "common/log.h"

namespace probe {

FamilySnapshot bpf_metric_family(const MetricManifest& metric, const std::vector<MetricSeries>& series) {
  FamilySnapshot f;
  f.name = metric.name;
  f.help = metric.help.empty() ? "in-kernel metric of probe " + metric.probe : metric.help;
  f.kind = metric.kind == plan::Metric::Kind::kHistogram ? MetricKind::kHistogram : MetricKind::kCounter;
  for (int64_t b : metric.bounds) f.bounds.push_back(static_cast<double>(b));
  for (const auto& s : series) {
    // The pre-inserted overflow series is shown only once something overflowed into it.
    bool empty = metric.kind == plan::Metric::Kind::kSum ? s.sum == 0 : s.count == 0;
    if (s.overflow && empty) continue;
    SeriesSnapshot out;
    out.labels = s.labels;
    std::sort(out.labels.begin(), out.labels.end());
    switch (metric.kind) {
      case plan::Metric::Kind::kCounter: out.value = static_cast<double>(s.count); break;
      case plan::Metric::Kind::kSum: out.value = static_cast<double>(s.sum); break;
      case plan::Metric::Kind::kHistogram: {
        uint64_t running = 0;
        for (uint64_t b : s.buckets) out.buckets.push_back(running += b);
        out.sum = static_cast<double>(s.sum);
        out.count = s.count;
        break;
      }
    }
    f.series.push_back(std::move(out));
  }
  return f;
}

void collect_bpf_metric(const BpfObject& object, const MetricManifest& metric, std::vector<FamilySnapshot>& out) {
  auto series = read_metric(object, metric);
  if (!series) {
    log::warn("metric {}: {}", metric.name, series.error().message);
    return;
  }
  out.push_back(bpf_metric_family(metric, *series));
}

Registry::Collector bpf_metrics_collector(const BpfObject& object, const Manifest& manifest) {
  return [&object, &manifest](std::vector<FamilySnapshot>& out) {
    for (const auto& m : manifest.metrics) collect_bpf_metric(object, m, out);
  };
}

}  // namespace probe
