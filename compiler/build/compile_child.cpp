// Runs compile_bpf_c in a forked child and brings the result back over a pipe.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "compiler/build/clang_compiler.h"

namespace probe {
namespace {

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool write_blob(int fd, const std::string& s) {
  uint64_t n = s.size();
  return write_all(fd, &n, sizeof n) && write_all(fd, s.data(), s.size());
}

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool take_blob(const std::string& data, size_t* pos, std::string* out) {
  uint64_t n = 0;
  if (*pos + sizeof n > data.size()) return false;
  std::memcpy(&n, data.data() + *pos, sizeof n);
  *pos += sizeof n;
  if (*pos + n > data.size()) return false;
  *out = data.substr(*pos, n);
  *pos += n;
  return true;
}

}  // namespace

Result<CompileOutput> compile_in_child(const std::string& source, ChildCompileStats* stats) {
  auto start = std::chrono::steady_clock::now();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return make_error("pipe: {}", std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return make_error("fork: {}", std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    CompileOutput out = compile_bpf_c(source);
    uint8_t ok = out.ok ? 1 : 0;
    bool sent = write_all(fds[1], &ok, 1) && write_blob(fds[1], out.object) &&
                write_blob(fds[1], out.diagnostics);
    _exit(sent ? 0 : 3);
  }
  close(fds[1]);
  std::string data = read_all(fds[0]);
  close(fds[0]);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {}
  if (stats) {
    stats->wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    stats->peak_rss_kb = ru.ru_maxrss;
  }
  if (WIFSIGNALED(status))
    return make_error("the BPF compiler crashed (signal {}: {})", WTERMSIG(status),
                      strsignal(WTERMSIG(status)));
  CompileOutput out;
  size_t pos = 1;
  if (data.empty() || !take_blob(data, &pos, &out.object) || !take_blob(data, &pos, &out.diagnostics))
    return make_error("the BPF compiler exited with status {} without a result",
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  out.ok = data[0] == 1;
  return out;
}

}  // namespace probe
