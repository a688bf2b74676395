// Exports the policy's in-kernel metrics: a registry collector that reads each metric map at
// export time and turns it into a family (cumulative buckets, overflow labels "other").
#pragma once

#include "compiler/artifact/manifest.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/metrics/bpf_metrics.h"
#include "runtime/metrics/registry.h"

namespace probe {

FamilySnapshot bpf_metric_family(const MetricManifest& metric, const std::vector<MetricSeries>& series);
Registry::Collector bpf_metrics_collector(const BpfObject& object, const Manifest& manifest);
// Reads one metric map of `object` into `out` (a read failure is logged and skipped).
void collect_bpf_metric(const BpfObject& object, const MetricManifest& metric, std::vector<FamilySnapshot>& out);

}  // namespace probe
