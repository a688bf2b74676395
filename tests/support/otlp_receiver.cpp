#include "tests/support/otlp_receiver.h"

#include <httplib.h>
#include <unistd.h>

namespace probe::test {

OtlpReceiver::OtlpReceiver(int port) : server_(std::make_unique<httplib::Server>()) {
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_payload_max_length(64u << 20);
  server_->set_keep_alive_timeout(1);  // stop() waits for idle keep-alive connections
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    Reply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++attempts_;
      if (!script_.empty()) {
        reply = script_.front();
        script_.pop_front();
      } else {
        reply = fallback_;
      }
    }
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    res.status = reply.status;
    if (!reply.retry_after.empty()) res.set_header("Retry-After", reply.retry_after);
    res.set_content(reply.body, req.get_header_value("Content-Type"));
    if (reply.status >= 200 && reply.status < 300) {
      std::lock_guard<std::mutex> lock(mu_);
      accepted_.push_back({req.path, req.get_header_value("Content-Type"), req.body});
    }
  };
  server_->Post("/v1/traces", handle);
  server_->Post("/v1/metrics", handle);
  port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1")
                    : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
  if (port_ <= 0) return;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  for (int i = 0; i < 2000 && !server_->is_running(); ++i) usleep(1000);
}

OtlpReceiver::~OtlpReceiver() { stop(); }

std::string OtlpReceiver::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void OtlpReceiver::script(std::vector<Reply> replies) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.assign(replies.begin(), replies.end());
}

void OtlpReceiver::set_fallback(Reply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  fallback_ = std::move(reply);
}

std::vector<OtlpReceiver::Request> OtlpReceiver::accepted(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Request> out;
  for (const auto& r : accepted_)
    if (path.empty() || r.path == path) out.push_back(r);
  return out;
}

size_t OtlpReceiver::attempts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return attempts_;
}

bool OtlpReceiver::wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void OtlpReceiver::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace probe::test
