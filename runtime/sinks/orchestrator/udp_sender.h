// A connected UDP socket to a host:port that may not resolve yet: resolution happens on the
// sink's worker thread, is retried every few seconds while it fails, and again on request
// (SIGHUP), so DNS never blocks the event loop and a late Orchestrator is picked up.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace probe {

class UdpSender {
 public:
  using Clock = std::chrono::steady_clock;
  UdpSender(std::string sink_id, std::string host, std::string port);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  // Sends each datagram; returns how many the kernel accepted (the rest failed).
  size_t send(const std::vector<std::string>& datagrams);
  // Drop the socket so the next send resolves the name again.
  void reresolve();
  bool connected() const { return fd_ >= 0; }

  static constexpr std::chrono::seconds kResolveRetry{5};

 private:
  bool ensure_socket();
  std::string sink_id_, host_, port_;
  int fd_ = -1;
  Clock::time_point next_resolve_{};
  bool warned_ = false;
};

}  // namespace probe
