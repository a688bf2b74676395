// Sends each API call to the Metrist Orchestrator as one UDP datagram (fire-and-forget, as
// the Orchestrator's protocol intends). Records need method, host, path and latency_ms.
#pragma once

#include "runtime/sinks/sink.h"

namespace probe {

class OrchestratorSink : public Sink {
 public:
  static Result<std::unique_ptr<OrchestratorSink>> open(const std::string& id,
                                                        const std::string& endpoint);
  ~OrchestratorSink() override;
  const char* type() const override { return "orchestrator"; }
  void emit(const nlohmann::json& record) override;

 private:
  OrchestratorSink(const std::string& id, std::string endpoint)
      : Sink(id), endpoint_(std::move(endpoint)) {}
  bool connect_socket();
  std::string endpoint_;
  int fd_ = -1;
  long long last_resolve_ms_ = -1;
};

}  // namespace probe
