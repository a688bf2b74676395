// Collects user-facing diagnostics and prints them clang-style:
//   policy.toml:12:13: error: unknown protocol 'htttp'
//   match = "htttp"
//           ^~~~~~~
//   hint: did you mean 'http1'?
#pragma once

#include <string>
#include <vector>

#include "compiler/diag/source.h"

namespace probe {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  SourceRange range;
  std::string message;
  std::string hint;
};

class Diagnostics {
 public:
  void error(const SourceRange& range, std::string message, std::string hint = {});
  void warning(const SourceRange& range, std::string message, std::string hint = {});

  bool has_errors() const { return errors_ > 0; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const { return diags_.size() - errors_; }
  const std::vector<Diagnostic>& all() const { return diags_; }
  void append(const Diagnostics& other);

  // All diagnostics in file/line order, each with its source line and caret range.
  std::string format(bool color = false) const;

 private:
  std::vector<Diagnostic> diags_;
  size_t errors_ = 0;
};

std::string format_diagnostic(const Diagnostic& d, bool color = false);
// "did you mean 'x'?" for the closest candidates, or empty.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace probe
