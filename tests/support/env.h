// Test helpers for the machine: paths to our binaries, temporary directories, free ports,
// and whether BPF and the real tools a test needs are here (a test that cannot run skips
// with the reason, it never passes silently).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace probe::test {

std::string source_dir();
std::string probed_path();
std::string probec_path();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();

// Why BPF tests cannot run here, or nullopt if they can (root, kernel >= 5.8, BTF).
std::optional<std::string> bpf_unavailable_reason();
// Absolute path of a program in PATH, or nullopt.
std::optional<std::string> find_program(const std::string& name);

// A UDP socket bound to 127.0.0.1 on an ephemeral port.
class UdpListener {
 public:
  UdpListener();
  ~UdpListener();
  int port() const { return port_; }
  // Datagrams received within `timeout_ms` (stops early once `want` arrived).
  std::vector<std::string> receive(size_t want, int timeout_ms);

 private:
  int fd_ = -1;
  int port_ = 0;
};

void write_text(const std::string& path, const std::string& text);

}  // namespace probe::test
