#include "runtime/events/pipeline.h"

#include "common/log.h"
#include "runtime/events/event_json.h"

namespace probe {

Pipeline::Pipeline(const Manifest& manifest, PipelineCounters& counters, DefaultOutput default_output)
    : decoder_(manifest), counters_(counters), default_output_(std::move(default_output)) {}

void Pipeline::on_record(const void* data, size_t size) {
  counters_.records.fetch_add(1, std::memory_order_relaxed);
  auto ev = decoder_.decode(data, size);
  if (!ev) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    if (!warned_malformed_) log::warn("dropped a malformed event record ({} bytes); counting further ones", size);
    warned_malformed_ = true;
    return;
  }
  counters_.decoded_per_probe[ev->probe().id].fetch_add(1, std::memory_order_relaxed);
  if (lua_) {
    uint32_t id = ev->probe().id;
    if (!handler_ids_.empty()) id = id < handler_ids_.size() ? handler_ids_[id] : kRetired;
    if (id == kRetired) {
      counters_.retired.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    lua_->dispatch(*ev, id);
    return;
  }
  if (default_output_) default_output_(event_to_json(*ev));
}

}  // namespace probe
