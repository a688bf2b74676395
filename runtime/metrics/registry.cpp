#include "runtime/metrics/registry.h"

#include <algorithm>

namespace probe {

const char* metric_kind_text(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCounter: return "counter";
    case MetricKind::kGauge: return "gauge";
    case MetricKind::kHistogram: return "histogram";
  }
  return "untyped";
}

// Checked on every labelled update, so by hand rather than with std::regex (microseconds a call).
namespace {
bool name_char(char c, bool first, bool colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}
bool valid_name(const std::string& name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}
}  // namespace

bool valid_metric_name(const std::string& name) { return valid_name(name, true); }

bool valid_label_name(const std::string& name) { return valid_name(name, false) && name.rfind("__", 0) != 0; }

MetricFamily::MetricFamily(std::string name, std::string help, MetricKind kind,
                           std::vector<double> bounds, size_t max_series, std::mutex& mu)
    : name_(std::move(name)), help_(std::move(help)), kind_(kind), bounds_(std::move(bounds)),
      max_series_(max_series), mu_(mu) {}

MetricFamily::Series& MetricFamily::series_for(Labels labels) {
  std::sort(labels.begin(), labels.end());
  auto it = series_.find(labels);
  if (it != series_.end()) return it->second;
  if (series_.size() >= max_series_) {
    ++overflowed_;
    for (auto& [k, v] : labels) v = "other";
    it = series_.find(labels);
    if (it != series_.end()) return it->second;
  }
  Series s;
  if (kind_ == MetricKind::kHistogram) s.buckets.assign(bounds_.size() + 1, 0);
  return series_.emplace(std::move(labels), std::move(s)).first->second;
}

void MetricFamily::add(Labels labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  series_for(std::move(labels)).value += v;
}

double MetricFamily::value(Labels labels) const {
  std::sort(labels.begin(), labels.end());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) return 0;
  return kind_ == MetricKind::kHistogram ? static_cast<double>(it->second.count) : it->second.value;
}

void MetricFamily::set(Labels labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  series_for(std::move(labels)).value = v;
}

void MetricFamily::observe(Labels labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_for(std::move(labels));
  size_t b = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  s.buckets[b]++;
  s.sum += v;
  s.count++;
}

uint64_t MetricFamily::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_;
}

FamilySnapshot MetricFamily::snapshot() const {
  FamilySnapshot f{name_, help_, kind_, bounds_, {}};
  for (const auto& [labels, s] : series_) {
    SeriesSnapshot out;
    out.labels = labels;
    out.value = s.value;
    out.sum = s.sum;
    out.count = s.count;
    uint64_t running = 0;
    for (uint64_t b : s.buckets) out.buckets.push_back(running += b);
    f.series.push_back(std::move(out));
  }
  return f;
}

Result<MetricFamily*> Registry::get_or_create(const std::string& name, const std::string& help,
                                              MetricKind kind, std::vector<double> bounds,
                                              size_t max_series) {
  if (!valid_metric_name(name)) return make_error("'{}' is not a valid metric name", name);
  if (kind == MetricKind::kHistogram &&
      (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
       std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()))
    return make_error("histogram '{}' needs increasing bucket bounds", name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    MetricFamily* f = it->second.get();
    if (f->kind() != kind)
      return make_error("metric '{}' is already a {}", name, metric_kind_text(f->kind()));
    return f;
  }
  auto f = std::make_unique<MetricFamily>(name, help, kind, std::move(bounds), max_series, mu_);
  MetricFamily* raw = f.get();
  families_.emplace(name, std::move(f));
  return raw;
}

Result<MetricFamily*> Registry::counter(const std::string& name, const std::string& help, size_t max_series) {
  return get_or_create(name, help, MetricKind::kCounter, {}, max_series);
}

Result<MetricFamily*> Registry::gauge(const std::string& name, const std::string& help, size_t max_series) {
  return get_or_create(name, help, MetricKind::kGauge, {}, max_series);
}

Result<MetricFamily*> Registry::histogram(const std::string& name, const std::string& help,
                                          std::vector<double> bounds, size_t max_series) {
  return get_or_create(name, help, MetricKind::kHistogram, std::move(bounds), max_series);
}

void Registry::add_collector(Collector collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::collect() const {
  std::vector<FamilySnapshot> out;
  std::vector<Collector> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, f] : families_) out.push_back(f->snapshot());
    collectors = collectors_;
  }
  // Collectors read BPF maps and counters; they run without the registry lock.
  for (const auto& c : collectors) c(out);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

uint64_t Registry::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [name, f] : families_) n += f->overflowed_;
  return n;
}

}  // namespace probe
