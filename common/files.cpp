#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace probe {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return make_error("cannot read '{}': {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("'{}' is not a regular file", path);
  if (static_cast<size_t>(st.st_size) > max_bytes)
    return make_error("'{}' is larger than {} KiB", path, max_bytes >> 10);
  return read_file(path);
}

Status make_dirs(const std::string& path) {
  if (path.empty()) return {};
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return make_error("cannot create directory '{}': {}", cur, std::strerror(errno));
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data) {
  std::random_device rd;
  std::string tmp = fmt::format("{}.tmp.{}.{:x}", path, getpid(), rd());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot write '{}': {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return make_error("cannot write '{}': {}", tmp, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return make_error("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(err));
  }
  return {};
}

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string resolve_relative(const std::string& base_file, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return dirname_of(base_file) + "/" + path;
}

}  // namespace probe
