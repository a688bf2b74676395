// Reads in-kernel metrics (per-CPU hash maps keyed by labels) through their manifest layout:
// one series per key, values summed over CPUs, labels decoded to text.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "compiler/artifact/manifest.h"
#include "runtime/loader/bpf_object.h"

namespace probe {

struct MetricSeries {
  std::vector<std::pair<std::string, std::string>> labels;  // in declaration order
  bool overflow = false;  // the series that counts updates beyond max_series
  uint64_t count = 0;     // counter value, or histogram observation count
  int64_t sum = 0;        // sum value, or histogram sum
  std::vector<uint64_t> buckets;  // histogram: per "le" bound (not cumulative), +Inf last
};

// The label text of the overflow series.
inline constexpr const char* kOverflowLabel = "other";

Result<std::vector<MetricSeries>> read_metric(const BpfObject& object, const MetricManifest& metric);

// Decodes one key into label values (exposed for tests).
std::vector<std::pair<std::string, std::string>> decode_labels(const MetricManifest& metric,
                                                               const uint8_t* key);

}  // namespace probe
