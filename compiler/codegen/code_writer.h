// Accumulates generated C with indentation.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>

namespace probe {

class CodeWriter {
 public:
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    out_.append(static_cast<size_t>(indent_) * 2, ' ');
    size_t from = out_.size();
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
    out_ += '\n';
    lines_ += 1 + static_cast<uint32_t>(std::count(out_.begin() + static_cast<long>(from), out_.end() - 1, '\n'));
  }
  void blank() {
    out_ += '\n';
    ++lines_;
  }
  void raw(const std::string& s) {
    out_ += s;
    lines_ += static_cast<uint32_t>(std::count(s.begin(), s.end(), '\n'));
  }
  void indent() { ++indent_; }
  void dedent() { --indent_; }
  const std::string& str() const { return out_; }
  // Lines written so far (the next line is lines() + 1).
  uint32_t lines() const { return lines_; }

 private:
  std::string out_;
  uint32_t lines_ = 0;  // newlines in out_, kept as it grows (spans ask after every probe)
  int indent_ = 0;
};

}  // namespace probe
