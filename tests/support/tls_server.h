// A real nginx serving HTTPS on loopback with a throw-away self-signed certificate.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe::test {

class NginxTls {
 public:
  // Bytes of /files/big.
  static constexpr size_t kBigFileBytes = 1 << 20;
  // Starts nginx; check error() before use (nullopt means it is serving).
  NginxTls();
  ~NginxTls();
  const std::optional<std::string>& error() const { return error_; }
  int port() const { return port_; }
  std::string url(const std::string& path) const;
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> nginx_;
  std::optional<std::string> error_;
};

}  // namespace probe::test
