#include "compiler/diag/source.h"

namespace probe {

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n' && i + 1 < text_.size()) line_starts_.push_back(i + 1);
}

std::string_view SourceFile::line(uint32_t number) const {
  if (number == 0 || number > line_starts_.size()) return {};
  size_t start = line_starts_[number - 1];
  size_t end = text_.find('\n', start);
  if (end == std::string::npos) end = text_.size();
  std::string_view l(text_.data() + start, end - start);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

SourceRange SourceRange::slice(uint32_t offset, uint32_t length) const {
  SourceRange r = *this;
  r.col = col + offset;
  r.end_line = line;
  r.end_col = r.col + (length ? length : 1);
  return r;
}

}  // namespace probe
