#include "runtime/metrics/bpf_metrics.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace probe {
namespace {

std::string label_text(const MetricManifest::Label& l, const uint8_t* key) {
  const uint8_t* p = key + l.offset;
  auto read = [&](auto v) {
    std::memcpy(&v, p, sizeof v);
    return std::to_string(v);
  };
  switch (l.type) {
    case plan::FieldType::kString: {
      const char* s = reinterpret_cast<const char*>(p);
      return std::string(s, strnlen(s, l.size));
    }
    case plan::FieldType::kI8: return read(int8_t{});
    case plan::FieldType::kU8: return read(uint8_t{});
    case plan::FieldType::kBool: return p[0] ? "true" : "false";
    case plan::FieldType::kI16: return read(int16_t{});
    case plan::FieldType::kU16: return read(uint16_t{});
    case plan::FieldType::kI32: return read(int32_t{});
    case plan::FieldType::kU32: return read(uint32_t{});
    case plan::FieldType::kI64: return read(int64_t{});
    default: return read(uint64_t{});
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> decode_labels(const MetricManifest& metric,
                                                               const uint8_t* key) {
  std::vector<std::pair<std::string, std::string>> out;
  bool overflow = key[metric.overflow_offset] != 0;
  for (const auto& l : metric.labels) out.emplace_back(l.name, overflow ? kOverflowLabel : label_text(l, key));
  return out;
}

Result<std::vector<MetricSeries>> read_metric(const BpfObject& object, const MetricManifest& metric) {
  bpf_map* map = object.map(metric.map);
  if (!map) return make_error("metric map {} is missing", metric.map);
  int fd = bpf_map__fd(map);
  int cpus = libbpf_num_possible_cpus();
  size_t stride = (metric.value_size + 7) / 8 * 8;
  std::vector<uint8_t> values(stride * static_cast<size_t>(cpus));
  std::vector<uint8_t> key(metric.key_size), next(metric.key_size);
  std::vector<MetricSeries> out;
  bool first = true;
  while (bpf_map_get_next_key(fd, first ? nullptr : key.data(), next.data()) == 0) {
    first = false;
    key = next;
    // A series removed between get_next_key and lookup is simply skipped.
    if (bpf_map_lookup_elem(fd, key.data(), values.data()) != 0) continue;
    MetricSeries s;
    s.labels = decode_labels(metric, key.data());
    s.overflow = key[metric.overflow_offset] != 0;
    size_t nb = metric.kind == plan::Metric::Kind::kHistogram ? metric.bounds.size() + 1 : 0;
    s.buckets.assign(nb, 0);
    for (int c = 0; c < cpus; ++c) {
      const uint8_t* v = values.data() + stride * static_cast<size_t>(c);
      uint64_t first_word;
      std::memcpy(&first_word, v, 8);
      if (metric.kind == plan::Metric::Kind::kSum) {
        s.sum += static_cast<int64_t>(first_word);
        continue;
      }
      s.count += first_word;
      if (metric.kind != plan::Metric::Kind::kHistogram) continue;
      int64_t sum;
      std::memcpy(&sum, v + 8, 8);
      s.sum += sum;
      for (size_t b = 0; b < nb; ++b) {
        uint64_t n;
        std::memcpy(&n, v + 16 + 8 * b, 8);
        s.buckets[b] += n;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace probe
