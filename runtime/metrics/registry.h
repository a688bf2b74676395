// One registry for every metric probed exports: handler-made counters, gauges and
// histograms, plus families that collectors add at export time (metrics aggregated in BPF
// maps, probed's self-metrics). Thread-safe: handlers update on the event loop while
// exporters (the /metrics server, OTLP) read from their own threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace probe {

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name

enum class MetricKind { kCounter, kGauge, kHistogram };
const char* metric_kind_text(MetricKind kind);

struct SeriesSnapshot {
  Labels labels;
  double value = 0;               // counter or gauge
  std::vector<uint64_t> buckets;  // histogram: cumulative count per bound, +Inf last
  double sum = 0;                 // histogram
  uint64_t count = 0;             // histogram
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricKind kind = MetricKind::kCounter;
  std::vector<double> bounds;  // histogram "le" bounds, +Inf implied
  std::vector<SeriesSnapshot> series;
};

// A metric made by handlers. Label sets beyond max_series go to one series whose labels are
// all "other", and are counted (overflowed()).
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricKind kind, std::vector<double> bounds,
               size_t max_series, std::mutex& mu);
  const std::string& name() const { return name_; }
  MetricKind kind() const { return kind_; }

  void add(Labels labels, double v);      // counters (v >= 0) and gauges
  void set(Labels labels, double v);      // gauges
  void observe(Labels labels, double v);  // histograms
  // A series' value (histograms: its count); 0 for a series never written.
  double value(Labels labels) const;
  uint64_t overflowed() const;
  FamilySnapshot snapshot() const;  // caller holds the registry lock

 private:
  struct Series {
    double value = 0;
    std::vector<uint64_t> buckets;  // per bound, not cumulative, +Inf last
    double sum = 0;
    uint64_t count = 0;
  };
  Series& series_for(Labels labels);

  std::string name_, help_;
  MetricKind kind_;
  std::vector<double> bounds_;
  size_t max_series_;
  std::mutex& mu_;
  std::map<Labels, Series> series_;
  uint64_t overflowed_ = 0;
  friend class Registry;
};

class Registry {
 public:
  static constexpr size_t kDefaultMaxSeries = 1000;
  using Collector = std::function<void(std::vector<FamilySnapshot>&)>;

  // Get or create; asking for an existing name with another kind (or other buckets) fails.
  Result<MetricFamily*> counter(const std::string& name, const std::string& help,
                                size_t max_series = kDefaultMaxSeries);
  Result<MetricFamily*> gauge(const std::string& name, const std::string& help,
                              size_t max_series = kDefaultMaxSeries);
  Result<MetricFamily*> histogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds, size_t max_series = kDefaultMaxSeries);

  void add_collector(Collector collector);
  // Every family, handler-made and collected, sorted by name.
  std::vector<FamilySnapshot> collect() const;
  // Series that could not be labelled, summed over handler-made families.
  uint64_t overflowed() const;

 private:
  Result<MetricFamily*> get_or_create(const std::string& name, const std::string& help,
                                      MetricKind kind, std::vector<double> bounds, size_t max_series);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_;
  std::vector<Collector> collectors_;
};

bool valid_metric_name(const std::string& name);
bool valid_label_name(const std::string& name);

}  // namespace probe
