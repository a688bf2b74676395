// What happens to each ring-buffer record in user space: validate and decode it through the
// manifest, count it, and hand it to the policy's Lua handler (or, without handlers, to the
// JSON-lines sinks). The event loop and tests both drive it: records can come from the BPF
// ring buffer or from a test, and Lua timers run on whatever clock the runtime was given.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/artifact/manifest.h"
#include "runtime/events/event_view.h"
#include "runtime/lua/lua_runtime.h"
#include "runtime/metrics/self_metrics.h"

namespace probe {

class Pipeline {
 public:
  using DefaultOutput = std::function<void(const nlohmann::json& record)>;

  Pipeline(const Manifest& manifest, PipelineCounters& counters, DefaultOutput default_output);

  // No handler for a probe in the handlers' version of the policy.
  static constexpr uint32_t kRetired = 0xffffffffu;

  // Handlers may be swapped (SIGHUP reload); nullptr sends events to the default output.
  // `handler_ids`: this pipeline's probe id → the id the handlers know the probe by, when they
  // were made for a later version of the policy that kept some of this version's probes
  // (kRetired: dropped, counted). Empty: the same ids.
  void set_handlers(LuaRuntime* lua, std::vector<uint32_t> handler_ids = {}) {
    lua_ = lua;
    handler_ids_ = std::move(handler_ids);
  }
  void on_record(const void* data, size_t size);
  // Runs due Lua timers; returns when the next is due (0: none).
  uint64_t run_timers() { return lua_ ? lua_->run_timers() : 0; }

 private:
  EventDecoder decoder_;
  PipelineCounters& counters_;
  DefaultOutput default_output_;
  LuaRuntime* lua_ = nullptr;
  std::vector<uint32_t> handler_ids_;
  bool warned_malformed_ = false;
};

}  // namespace probe
