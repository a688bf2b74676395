// A real Prometheus server (Debian's package) scraping targets on loopback, with a throw-away
// configuration and TSDB in a temporary directory, and its HTTP query API. Also a plain HTTP
// GET for scraping /metrics directly.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe::test {

class PrometheusServer {
 public:
  // Scrapes each "host:port" target's /metrics every `interval`.
  explicit PrometheusServer(const std::vector<std::string>& targets,
                            std::chrono::seconds interval = std::chrono::seconds(1));
  const std::optional<std::string>& error() const { return error_; }
  int port() const { return port_; }
  // /api/v1/query: the "result" array, or an {"error": ...} object.
  nlohmann::json query(const std::string& promql);
  // Polls `promql` until the result is non-empty; returns it (empty array on timeout).
  nlohmann::json wait_for_series(const std::string& promql, std::chrono::milliseconds timeout);
  std::string log() const { return server_ ? server_->stderr_text() : std::string(); }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> server_;
  std::optional<std::string> error_;
};

// GET http://host:port/path; the status (0 if no answer) and body.
std::pair<int, std::string> http_get(const std::string& host, int port, const std::string& path);

}  // namespace probe::test
