// Serves the metric registry on http://LISTEN/metrics in the Prometheus text format, from its
// own thread: every family the registry holds, including map-backed and self-metrics, which
// the registry's collectors read at scrape time. Records emitted to it are dropped and counted
// (it has nothing to send).
#pragma once

#include <memory>
#include <thread>

#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/sink.h"

namespace httplib {
class Server;
}

namespace probe {

class PrometheusSink : public Sink {
 public:
  // Fails when the address cannot be bound (port in use, no such address), naming it.
  static Result<std::unique_ptr<PrometheusSink>> open(const std::string& id,
                                                      const std::string& listen, Registry* registry);
  ~PrometheusSink() override;
  const char* type() const override { return "prometheus"; }
  void emit(const nlohmann::json& record) override;
  int port() const { return port_; }

 private:
  PrometheusSink(const std::string& id, Registry* registry);
  void serve_metrics(std::string* body);

  Registry* registry_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> warned_emit_{false};
};

}  // namespace probe
