#include "compiler/codegen/metric_layout.h"

#include <fmt/format.h>

#include <algorithm>

namespace probe {

MetricLayout layout_metric(uint32_t id, const plan::Metric& m) {
  MetricLayout out;
  out.id = id;
  out.metric = &m;
  out.map = fmt::format("pk_m{}", id);
  std::vector<const plan::Metric::Label*> order;
  for (const auto& l : m.labels) order.push_back(&l);
  // Largest alignment first, so the key has no interior padding.
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    auto align = [](const plan::Metric::Label* l) {
      return l->type == plan::FieldType::kString ? 1u : l->size;
    };
    return align(a) > align(b);
  });
  uint32_t off = 0;
  for (const auto* l : order) {
    uint32_t align = l->type == plan::FieldType::kString ? 1 : l->size;
    off = (off + align - 1) / align * align;
    out.labels.push_back({l->name, l->value, l->type, off, l->size});
    off += l->size;
  }
  out.overflow_offset = off;
  out.key_size = (off + 1 + 7) / 8 * 8;
  // Labels in declaration order for reading back.
  std::vector<LabelLayout> declared;
  for (const auto& l : m.labels)
    for (const auto& ll : out.labels)
      if (ll.name == l.name) declared.push_back(ll);
  out.labels = std::move(declared);

  if (m.kind == plan::Metric::Kind::kHistogram) {
    const auto& b = m.buckets;
    switch (b.kind) {
      case plan::Metric::Buckets::Kind::kLog2:
        out.bounds.push_back(0);
        for (int k = 0; k < 64; ++k) out.bounds.push_back(k == 63 ? INT64_MAX : (int64_t{1} << k));
        break;
      case plan::Metric::Buckets::Kind::kLinear:
        for (int64_t v = b.min; v <= b.max; v += b.step) out.bounds.push_back(v);
        break;
      case plan::Metric::Buckets::Kind::kExplicit: out.bounds = b.bounds; break;
    }
    out.buckets = static_cast<uint32_t>(out.bounds.size()) + 1;
    out.value_size = 16 + 8 * out.buckets;  // count, sum, buckets
  } else {
    out.value_size = 8;  // count or sum
  }
  return out;
}

}  // namespace probe
