// An OTLP/HTTP receiver on loopback (cpp-httplib): it keeps every export request it accepts
// and can be told to answer slowly or with errors, so tests see what probed's exporter does
// against a collector that is down, throttling, refusing or slow. What it keeps is decoded by
// otlp_decoder.h, with the official OpenTelemetry definitions.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace probe::test {

class OtlpReceiver {
 public:
  struct Request {
    std::string path;          // /v1/traces or /v1/metrics
    std::string content_type;
    std::string body;
  };
  struct Reply {
    int status = 200;
    std::string retry_after;   // Retry-After header, if not empty
    std::string body;
    std::chrono::milliseconds delay{0};  // answer this late (a slow collector)
  };

  // Listens on 127.0.0.1:`port` (0: any free port).
  explicit OtlpReceiver(int port = 0);
  ~OtlpReceiver();
  int port() const { return port_; }
  std::string url() const;
  bool listening() const { return port_ > 0; }

  // Replies for the next requests, in order; afterwards `fallback` (200 OK unless set).
  void script(std::vector<Reply> replies);
  void set_fallback(Reply reply);
  // Accepted (2xx) requests, optionally only those to `path`.
  std::vector<Request> accepted(const std::string& path = "") const;
  size_t attempts() const;  // every request that arrived, answered or not
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;
  // Stops listening: the endpoint is down from now on.
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::deque<Reply> script_;
  Reply fallback_;
  std::vector<Request> accepted_;
  size_t attempts_ = 0;
};

}  // namespace probe::test
