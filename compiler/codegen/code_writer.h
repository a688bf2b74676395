// Accumulates generated C with indentation.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace probe {

class CodeWriter {
 public:
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    out_.append(static_cast<size_t>(indent_) * 2, ' ');
    out_ += fmt::format(f, std::forward<Args>(args)...);
    out_ += '\n';
  }
  void blank() { out_ += '\n'; }
  void raw(const std::string& s) { out_ += s; }
  void indent() { ++indent_; }
  void dedent() { --indent_; }
  const std::string& str() const { return out_; }
  // Lines written so far (the next line is lines() + 1).
  uint32_t lines() const { return static_cast<uint32_t>(std::count(out_.begin(), out_.end(), '\n')); }

 private:
  std::string out_;
  int indent_ = 0;
};

}  // namespace probe
