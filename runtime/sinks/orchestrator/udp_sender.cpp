#include "runtime/sinks/orchestrator/udp_sender.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace probe {

UdpSender::UdpSender(std::string sink_id, std::string host, std::string port)
    : sink_id_(std::move(sink_id)), host_(std::move(host)), port_(std::move(port)) {}

UdpSender::~UdpSender() {
  if (fd_ >= 0) close(fd_);
}

void UdpSender::reresolve() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  next_resolve_ = {};
}

bool UdpSender::ensure_socket() {
  if (fd_ >= 0) return true;
  auto now = Clock::now();
  if (now < next_resolve_) return false;
  next_resolve_ = now + kResolveRetry;
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res); rc != 0) {
    if (!warned_) log::warn("sink '{}': cannot resolve {}: {}; retrying every {} s", sink_id_, host_,
                            gai_strerror(rc), kResolveRetry.count());
    warned_ = true;
    return false;
  }
  for (addrinfo* ai = res; ai && fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) fd_ = fd;
    else close(fd);
  }
  freeaddrinfo(res);
  if (fd_ >= 0 && warned_) log::info("sink '{}': {} resolved; sending", sink_id_, host_);
  if (fd_ >= 0) warned_ = false;
  return fd_ >= 0;
}

size_t UdpSender::send(const std::vector<std::string>& datagrams) {
  if (!ensure_socket()) return 0;
  constexpr size_t kChunk = 64;
  mmsghdr msgs[kChunk];
  iovec iovs[kChunk];
  size_t sent = 0;
  size_t i = 0;
  while (i < datagrams.size()) {
    size_t n = std::min(kChunk, datagrams.size() - i);
    for (size_t k = 0; k < n; ++k) {
      iovs[k] = {const_cast<char*>(datagrams[i + k].data()), datagrams[i + k].size()};
      msgs[k] = {};
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd_, msgs, static_cast<unsigned>(n), MSG_NOSIGNAL);
    if (r > 0) {
      sent += static_cast<size_t>(r);
      i += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      // ECONNREFUSED is the ICMP error of an earlier datagram (nobody listens); the kernel
      // drops this one in reporting it. Counted as failed: while the Orchestrator is down,
      // about every other send fails, which is how an operator sees it. The next may go through.
      ++i;
    }
  }
  return sent;
}

}  // namespace probe
