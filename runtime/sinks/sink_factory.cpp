#include "runtime/sinks/jsonl/jsonl_sink.h"
#include "runtime/sinks/orchestrator/orchestrator_sink.h"
#include "runtime/sinks/sink.h"

namespace probe {

Result<std::unique_ptr<Sink>> make_sink(const SinkManifest& config, const SinkContext& context) {
  auto setting = [&](const std::string& key) {
    auto it = config.settings.find(key);
    return it == config.settings.end() ? std::string() : it->second;
  };
  std::string id = setting("id").empty() ? config.type : setting("id");
  if (config.type == "jsonl") {
    PROBE_ASSIGN_OR_RETURN(auto s, JsonlSink::open(id, setting("path")));
    return std::unique_ptr<Sink>(std::move(s));
  }
  if (config.type == "orchestrator") {
    PROBE_ASSIGN_OR_RETURN(auto s, OrchestratorSink::open(id, setting("endpoint")));
    return std::unique_ptr<Sink>(std::move(s));
  }
  return make_error("sink '{}': type '{}' is not available in this build", id, config.type);
}

}  // namespace probe
