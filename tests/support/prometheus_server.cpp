#include "tests/support/prometheus_server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <thread>

namespace probe::test {

std::pair<int, std::string> http_get(const std::string& host, int port, const std::string& path) {
  httplib::Client client(host, port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  auto res = client.Get(path);
  if (!res) return {0, httplib::to_string(res.error())};
  return {res->status, res->body};
}

PrometheusServer::PrometheusServer(const std::vector<std::string>& targets, std::chrono::seconds interval) {
  auto binary = find_program("prometheus");
  if (!binary) {
    error_ = "prometheus is not installed (scripts/install-deps.sh installs it)";
    return;
  }
  std::string list;
  for (const auto& t : targets) list += (list.empty() ? "'" : ", '") + t + "'";
  write_text(dir_.file("prometheus.yml"),
             fmt::format("global:\n  scrape_interval: {0}s\n  evaluation_interval: {0}s\n"
                         "scrape_configs:\n  - job_name: probed\n    static_configs:\n"
                         "      - targets: [{1}]\n",
                         interval.count(), list));
  port_ = free_tcp_port();
  server_ = std::make_unique<Process>(std::vector<std::string>{
      *binary, "--config.file=" + dir_.file("prometheus.yml"),
      "--storage.tsdb.path=" + dir_.file("data"),
      fmt::format("--web.listen-address=127.0.0.1:{}", port_), "--log.level=warn"});
  for (int i = 0; i < 300; ++i) {
    if (http_get("127.0.0.1", port_, "/-/ready").first == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error_ = "prometheus did not become ready: " + server_->stderr_text();
}

nlohmann::json PrometheusServer::query(const std::string& promql) {
  auto [status, body] = http_get("127.0.0.1", port_, "/api/v1/query?query=" + httplib::detail::encode_query_param(promql));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (status != 200 || j.is_discarded() || j.value("status", "") != "success")
    return {{"error", fmt::format("HTTP {}: {}", status, body)}};
  return j["data"]["result"];
}

nlohmann::json PrometheusServer::wait_for_series(const std::string& promql, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    last = query(promql);
    if (last.is_array() && !last.empty()) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return nlohmann::json::array();
}

}  // namespace probe::test
