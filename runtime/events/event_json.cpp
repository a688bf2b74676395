#include "runtime/events/event_json.h"

namespace probe {

nlohmann::json event_to_json(const EventView& ev) {
  nlohmann::json r = {{"probe", ev.probe().name}, {"pid", ev.pid()}, {"tid", ev.tid()},
                      {"ts", ev.ts_ns()}, {"cgroup", ev.cgroup_id()}};
  for (const auto& f : ev.probe().fields) {
    if (plan::is_variable(f.type) || f.type == plan::FieldType::kString) {
      auto b = ev.bytes(f);
      if (!b) continue;
      r[f.name] = std::string(b->data);
      if (b->original > b->data.size()) r[f.name + "_len"] = b->original;
    } else if (auto v = ev.integer(f)) {
      if (f.type == plan::FieldType::kBool) r[f.name] = *v != 0;
      else if (f.type == plan::FieldType::kU64 || f.type == plan::FieldType::kPtr) r[f.name] = static_cast<uint64_t>(*v);
      else r[f.name] = *v;
    }
  }
  return r;
}

}  // namespace probe
