// Event layout: where each capture lives in a probe's ring-buffer record.
#pragma once

#include "compiler/artifact/manifest.h"
#include "compiler/plan/plan.h"

namespace probe {

constexpr uint32_t kEventHeaderSize = 32;  // sizeof(struct pk_event_header)

struct ProbeLayout {
  std::vector<FieldLayout> fields;  // in capture order
  uint32_t fixed_size = 0;          // header + fixed fields, 8-aligned
  uint32_t max_size = 0;            // largest record this probe can build
};

ProbeLayout layout_probe(const plan::Probe& probe);
// Smallest power of two that holds every probe's largest record (at least 256).
uint32_t event_max_for(const std::vector<ProbeLayout>& layouts);

}  // namespace probe
