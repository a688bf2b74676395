#include "compiler/diag/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"

namespace probe {

void Diagnostics::error(const SourceRange& range, std::string message, std::string hint) {
  diags_.push_back({Severity::kError, range, std::move(message), std::move(hint)});
  ++errors_;
}

void Diagnostics::warning(const SourceRange& range, std::string message, std::string hint) {
  diags_.push_back({Severity::kWarning, range, std::move(message), std::move(hint)});
}

void Diagnostics::append(const Diagnostics& other) {
  for (const auto& d : other.diags_) {
    diags_.push_back(d);
    if (d.severity == Severity::kError) ++errors_;
  }
}

namespace {

// Tabs are expanded so the caret line stays aligned with the echoed source.
std::string expand_tabs(std::string_view line, uint32_t upto_col, uint32_t* visual_col) {
  std::string out;
  uint32_t col = 1;
  *visual_col = 0;
  for (char c : line) {
    if (col == upto_col) *visual_col = static_cast<uint32_t>(out.size()) + 1;
    if (c == '\t') out.append(4, ' ');
    else out.push_back(c);
    ++col;
  }
  if (*visual_col == 0) *visual_col = static_cast<uint32_t>(out.size()) + (upto_col - col) + 1;
  return out;
}

}  // namespace

std::string format_diagnostic(const Diagnostic& d, bool color) {
  const char* sev = d.severity == Severity::kError ? "error" : "warning";
  const char* on = "";
  const char* off = "";
  if (color) {
    on = d.severity == Severity::kError ? "\033[1;31m" : "\033[1;35m";
    off = "\033[0m";
  }
  std::string out;
  if (!d.range.valid()) {
    out = fmt::format("{}{}:{} {}\n", on, sev, off, d.message);
  } else {
    out = fmt::format("{}:{}:{}: {}{}:{} {}\n", d.range.file->path(), d.range.line, d.range.col,
                      on, sev, off, d.message);
    std::string_view src = d.range.file->line(d.range.line);
    uint32_t vstart = 0, vend = 0;
    std::string shown = expand_tabs(src, d.range.col, &vstart);
    uint32_t end_col = d.range.end_line == d.range.line && d.range.end_col > d.range.col
                           ? d.range.end_col
                           : static_cast<uint32_t>(src.size()) + 1;
    if (d.range.end_line > d.range.line) end_col = static_cast<uint32_t>(src.size()) + 1;
    expand_tabs(src, end_col, &vend);
    uint32_t width = vend > vstart ? vend - vstart : 1;
    out += shown + "\n";
    out += std::string(vstart - 1, ' ') + "^" + std::string(width - 1, '~') + "\n";
  }
  if (!d.hint.empty()) out += "hint: " + d.hint + "\n";
  return out;
}

std::string Diagnostics::format(bool color) const {
  std::vector<const Diagnostic*> order;
  for (const auto& d : diags_) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(), [](const Diagnostic* a, const Diagnostic* b) {
    std::string fa = a->range.file ? a->range.file->path() : "";
    std::string fb = b->range.file ? b->range.file->path() : "";
    if (fa != fb) return fa < fb;
    if (a->range.line != b->range.line) return a->range.line < b->range.line;
    return a->range.col < b->range.col;
  });
  std::string out;
  for (const auto* d : order) out += format_diagnostic(*d, color);
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  auto close = closest_matches(word, candidates, 1);
  if (close.empty()) return {};
  return fmt::format("did you mean '{}'?", close.front());
}

}  // namespace probe
