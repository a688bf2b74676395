// A decoded event as a JSON record: header fields plus every capture by name. Used for
// policies without handlers and for inspecting events in tests.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/events/event_view.h"

namespace probe {

nlohmann::json event_to_json(const EventView& ev);

}  // namespace probe
