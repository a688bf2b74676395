// Where JSON lines go: stdout ("-") or a file opened for appending, which can be reopened by
// path after log rotation. Writes are plain write(2)s of whole batches, so every line reaches
// the kernel as soon as its batch is written (operators tail the file).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace probe {

class LineFile {
 public:
  static Result<LineFile> open(const std::string& path);
  LineFile(LineFile&& other) noexcept;
  LineFile& operator=(LineFile&& other) noexcept;
  ~LineFile();

  // Writes each line (newline included) in order; returns how many were written completely.
  // On an error, `error` says why and the lines after the failed one are not written.
  size_t write(const std::vector<std::string>& lines, std::string* error);
  // Opens the path again (the old file was renamed away); stdout has nothing to reopen.
  Status reopen();
  const std::string& path() const { return path_; }

 private:
  LineFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace probe
