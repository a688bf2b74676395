#include "runtime/sinks/jsonl/line_file.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace probe {
namespace {

constexpr size_t kMaxIov = 512;  // below IOV_MAX (1024)

Result<int> open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  return fd;
}

}  // namespace

Result<LineFile> LineFile::open(const std::string& path) {
  if (path == "-") return LineFile(path, STDOUT_FILENO);
  PROBE_ASSIGN_OR_RETURN(int fd, open_append(path));
  return LineFile(path, fd);
}

LineFile::LineFile(LineFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

LineFile& LineFile::operator=(LineFile&& other) noexcept {
  if (this != &other) {
    if (fd_ > STDERR_FILENO) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

LineFile::~LineFile() {
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

size_t LineFile::write(const std::vector<std::string>& lines, std::string* error) {
  size_t done = 0;     // lines written completely
  size_t offset = 0;   // bytes of lines[done] already written
  while (done < lines.size()) {
    iovec iov[kMaxIov];
    size_t n = 0;
    for (size_t i = done; i < lines.size() && n < kMaxIov; ++i, ++n) {
      size_t skip = i == done ? offset : 0;
      iov[n].iov_base = const_cast<char*>(lines[i].data() + skip);
      iov[n].iov_len = lines[i].size() - skip;
    }
    ssize_t w = ::writev(fd_, iov, static_cast<int>(n));
    if (w < 0) {
      if (errno == EINTR) continue;
      *error = std::strerror(errno);
      return done;
    }
    // Advance over what the kernel took, which may end inside a line.
    size_t left = static_cast<size_t>(w);
    while (left > 0 && done < lines.size()) {
      size_t rest = lines[done].size() - offset;
      if (left >= rest) {
        left -= rest;
        offset = 0;
        ++done;
      } else {
        offset += left;
        left = 0;
      }
    }
  }
  return done;
}

Status LineFile::reopen() {
  if (path_ == "-") return {};
  PROBE_ASSIGN_OR_RETURN(int fd, open_append(path_));
  if (fd_ > STDERR_FILENO) ::close(fd_);
  fd_ = fd;
  return {};
}

}  // namespace probe
