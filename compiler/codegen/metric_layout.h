// Key and value layout of an in-kernel metric map: the compiler sizes and pads the key so the
// policy only names labels.
#pragma once

#include <string>
#include <vector>

#include "compiler/plan/plan.h"

namespace probe {

struct LabelLayout {
  std::string name;
  plan::ValueRef value;
  plan::FieldType type = plan::FieldType::kU64;
  uint32_t offset = 0;
  uint32_t size = 0;
};

struct MetricLayout {
  uint32_t id = 0;
  const plan::Metric* metric = nullptr;
  std::string map;  // "pk_m<id>"
  std::vector<LabelLayout> labels;
  uint32_t overflow_offset = 0;  // u8 set to 1 in the single overflow series
  uint32_t key_size = 0;
  std::vector<int64_t> bounds;   // histogram "le" bounds, +Inf excluded
  uint32_t buckets = 0;          // bounds.size() + 1 for histograms, else 0
  uint32_t value_size = 0;       // bytes per CPU
};

MetricLayout layout_metric(uint32_t id, const plan::Metric& m);

}  // namespace probe
