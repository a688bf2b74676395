#include "runtime/sinks/prometheus/prometheus_sink.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "runtime/metrics/registry.h"
#include "runtime/sinks/endpoint.h"
#include "runtime/sinks/prometheus/text_format.h"

namespace probe {
namespace {

constexpr size_t kServerThreads = 4;  // Prometheus keeps one connection open; room for a few more

// httplib binds with SO_REUSEPORT, which would let a second probed share the port silently;
// plain SO_REUSEADDR makes a port in use an error while still allowing quick restarts.
void reuse_address_only(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Why binding failed, found by trying the same bind ourselves (httplib reports only false).
std::string bind_error(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) return gai_strerror(rc);
  std::string why = "unknown error";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    reuse_address_only(fd);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) why = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  return why;
}

}  // namespace

PrometheusSink::PrometheusSink(const std::string& id, Registry* registry)
    : Sink(id), registry_(registry), server_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<PrometheusSink>> PrometheusSink::open(const std::string& id,
                                                             const std::string& listen,
                                                             Registry* registry) {
  if (!registry) return make_error("sink '{}': no metric registry to serve", id);
  std::string host, port;
  if (!split_endpoint(listen, &host, &port))
    return make_error("sink '{}': listen '{}' is not host:port (IPv6 as [addr]:port)", id, listen);
  auto sink = std::unique_ptr<PrometheusSink>(new PrometheusSink(id, registry));
  httplib::Server& server = *sink->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server.set_socket_options(reuse_address_only);
  // An idle keep-alive connection holds a worker until this passes, and stop() waits for it.
  server.set_keep_alive_timeout(1);
  server.set_read_timeout(std::chrono::seconds(10));
  server.set_write_timeout(std::chrono::seconds(10));
  PrometheusSink* self = sink.get();
  server.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    std::string body;
    self->serve_metrics(&body);
    res.set_content(std::move(body), kPrometheusContentType);
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("probekit: metrics are at /metrics\n", "text/plain; charset=utf-8");
  });
  // Port 0 takes any free port (tests); port() tells which.
  int bound = std::stoi(port) == 0 ? server.bind_to_any_port(host)
                                   : (server.bind_to_port(host, std::stoi(port)) ? std::stoi(port) : -1);
  if (bound <= 0)
    return make_error("sink '{}': cannot listen on {}: {}", id, listen, bind_error(host, port));
  sink->port_ = bound;
  sink->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() only works once the accept loop runs; wait for it so destruction never hangs.
  for (int i = 0; i < 2000 && !server.is_running(); ++i) usleep(1000);
  log::info("sink '{}': serving metrics on http://{}:{}/metrics", id,
            host.find(':') == std::string::npos ? host : "[" + host + "]", bound);
  return sink;
}

PrometheusSink::~PrometheusSink() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void PrometheusSink::serve_metrics(std::string* body) {
  *body = render_exposition(registry_->collect());
}

void PrometheusSink::emit(const nlohmann::json&) {
  counters_.dropped++;
  if (!warned_emit_.exchange(true))
    log::warn("sink '{}' serves the metric registry; records emitted to it are dropped", id());
}

}  // namespace probe
