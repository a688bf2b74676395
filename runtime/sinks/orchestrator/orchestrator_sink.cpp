#include "runtime/sinks/orchestrator/orchestrator_sink.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/log.h"
#include "runtime/sinks/orchestrator/datagram.h"

namespace probe {
namespace {

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr long long kResolveRetryMs = 5000;

std::string field(const nlohmann::json& r, const char* key) {
  auto it = r.find(key);
  if (it == r.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

Result<std::unique_ptr<OrchestratorSink>> OrchestratorSink::open(const std::string& id,
                                                                 const std::string& endpoint) {
  std::string host, port;
  if (!split_endpoint(endpoint, &host, &port))
    return make_error("sink '{}': endpoint '{}' is not host:port (IPv6 as [addr]:port)", id, endpoint);
  auto sink = std::unique_ptr<OrchestratorSink>(new OrchestratorSink(id, endpoint));
  // An endpoint that cannot be resolved yet is retried later; it never stops the daemon.
  if (!sink->connect_socket())
    log::warn("sink '{}': cannot reach {} yet; will retry", id, endpoint);
  return sink;
}

OrchestratorSink::~OrchestratorSink() {
  if (fd_ >= 0) close(fd_);
}

bool OrchestratorSink::connect_socket() {
  last_resolve_ms_ = now_ms();
  std::string host, port;
  split_endpoint(endpoint_, &host, &port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    log::debug("sink '{}': resolving {}: {}", id(), endpoint_, gai_strerror(rc));
    return false;
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return fd_ >= 0;
}

void OrchestratorSink::emit(const nlohmann::json& record) {
  double latency = -1;
  if (auto it = record.find("latency_ms"); it != record.end() && it->is_number())
    latency = it->get<double>();
  std::string why;
  auto dgram = format_orchestrator_datagram(field(record, "method"), field(record, "host"),
                                            field(record, "path"), latency, &why);
  if (!dgram) {
    counters_.dropped++;
    log::debug("sink '{}': dropped a call: {}", id(), why);
    return;
  }
  if (fd_ < 0 && (now_ms() - last_resolve_ms_ < kResolveRetryMs || !connect_socket())) {
    counters_.failed++;
    return;
  }
  if (send(fd_, dgram->data(), dgram->size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    // ECONNREFUSED reports an earlier datagram's ICMP error; the next send may succeed.
    counters_.failed++;
    return;
  }
  counters_.sent++;
}

}  // namespace probe
