// Sends each API call to the Metrist Orchestrator as one UDP v0 datagram (fire-and-forget, as
// the Orchestrator's protocol intends). Records need method, host, path and latency_ms. The
// datagram is formatted on the event loop (invalid calls are dropped and counted there) and
// sent by a worker thread, which also resolves the endpoint and logs each distinct call once
// per minute, as the Orchestrator logs calls it does not know.
#pragma once

#include "runtime/sinks/async_queue.h"
#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/orchestrator/udp_sender.h"
#include "runtime/sinks/sink.h"

namespace probe {

struct OrchestratorOptions {
  std::string endpoint;  // host:port or [v6]:port
  bool log_calls = true;
  QueueOptions queue = default_queue();
  static QueueOptions default_queue();
};

class OrchestratorSink : public Sink {
 public:
  static Result<std::unique_ptr<OrchestratorSink>> open(const std::string& id,
                                                        const OrchestratorOptions& options);
  const char* type() const override { return "orchestrator"; }
  void emit(const nlohmann::json& record) override;
  void flush() override;
  void reopen() override;
  size_t queued() const override { return queue_.depth(); }
  void hold() override { queue_.hold(); }
  void release() override { queue_.release(); }

 private:
  OrchestratorSink(const std::string& id, const OrchestratorOptions& options, std::string host,
                   std::string port);
  void send_batch(std::vector<std::string>& datagrams);
  void log_call(const std::string& datagram);

  OrchestratorOptions options_;
  UdpSender sender_;  // worker thread only
  std::atomic<bool> reresolve_asked_{false};
  LogDedupe calls_{std::chrono::minutes(1), 256};  // a log line per call costs as much as the call
  LogDedupe drops_{std::chrono::minutes(1), 64};  // event loop only
  AsyncQueue<std::string> queue_;                  // last: its worker uses the members above
};

}  // namespace probe
