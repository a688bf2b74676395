// Source files and ranges: every diagnostic points at a file, line and column range.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace probe {

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  // 1-based line number; empty if out of range. Excludes the newline.
  std::string_view line(uint32_t number) const;
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }

 private:
  std::string path_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

using SourceFilePtr = std::shared_ptr<const SourceFile>;

// 1-based, end column exclusive. A range with no file has no location (internal origin).
struct SourceRange {
  SourceFilePtr file;
  uint32_t line = 0;
  uint32_t col = 0;
  uint32_t end_line = 0;
  uint32_t end_col = 0;

  bool valid() const { return file && line > 0; }
  // A sub-range inside a single-line range, e.g. one token of a filter string.
  SourceRange slice(uint32_t offset, uint32_t length) const;
};

}  // namespace probe
