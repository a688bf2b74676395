#include "tests/support/tls_server.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

namespace probe::test {

NginxTls::NginxTls() {
  auto nginx = find_program("nginx");
  auto openssl = find_program("openssl");
  if (!nginx || !openssl) {
    error_ = "nginx or openssl is not installed (scripts/install-deps.sh installs them)";
    return;
  }
  auto [rc, out] = run({*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        dir_.file("key.pem"), "-out", dir_.file("cert.pem"), "-days", "1",
                        "-subj", "/CN=localhost"});
  if (rc != 0) {
    error_ = "openssl req failed: " + out;
    return;
  }
  // nginx workers run as www-data and must read the document root.
  chmod(dir_.path().c_str(), 0755);
  // /files/big: 1 MiB whose 4 KiB blocks each start like an HTTP response, so a body that
  // looks like a head is in every TLS record the client reads.
  mkdir(dir_.file("www").c_str(), 0755);
  std::string big;
  while (big.size() < kBigFileBytes) {
    std::string block = fmt::format("HTTP/1.1 500 Body Not Head\r\nblock: {}\r\n\r\n", big.size() / 4096);
    block.resize(4096, static_cast<char>('a' + (big.size() / 4096) % 26));
    big += block;
  }
  big.resize(kBigFileBytes);
  write_text(dir_.file("www/big"), big);
  port_ = free_tcp_port();
  std::string conf = fmt::format(R"(
worker_processes 1;
pid {0}/nginx.pid;
error_log {0}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {0}/tmp;
  proxy_temp_path {0}/tmp;
  fastcgi_temp_path {0}/tmp;
  uwsgi_temp_path {0}/tmp;
  scgi_temp_path {0}/tmp;
  server {{
    listen 127.0.0.1:{1} ssl http2;
    ssl_certificate {0}/cert.pem;
    ssl_certificate_key {0}/key.pem;
    keepalive_requests 100000;
    location / {{ return 200 "hello from nginx\n"; }}
    location /files/ {{ alias {0}/www/; }}
  }}
}}
)",
                                 dir_.path(), port_);
  write_text(dir_.file("nginx.conf"), conf);
  nginx_ = std::make_unique<Process>(std::vector<std::string>{*nginx, "-c", dir_.file("nginx.conf"),
                                                              "-p", dir_.path(), "-g", "daemon off;"});
  // Ready when it accepts connections.
  std::string last;
  for (int i = 0; i < 100; ++i) {
    auto [crc, cout] = run({"curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url("/")});
    if (crc == 0 && cout.find("200") != std::string::npos) return;
    last = cout;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto log = run({"cat", dir_.file("error.log")}).second;
  error_ = "nginx did not start: " + nginx_->stderr_text() + log + " (last curl: " + last + ")";
}

NginxTls::~NginxTls() {
  if (nginx_) {
    nginx_->signal(SIGQUIT);
    if (!nginx_->wait(std::chrono::seconds(5))) nginx_->signal(SIGKILL);
  }
}

std::string NginxTls::url(const std::string& path) const {
  return fmt::format("https://127.0.0.1:{}{}", port_, path);
}

}  // namespace probe::test
