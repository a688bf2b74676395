#include "runtime/sinks/prometheus/text_format.h"

#include <fmt/format.h>

#include <cmath>

#include "runtime/sinks/utf8.h"

namespace probe {
namespace {

void append_labels(std::string& out, const Labels& labels, const char* le = nullptr) {
  if (labels.empty() && !le) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out.push_back('"');
  }
  if (le) {
    if (!first) out.push_back(',');
    out += "le=\"";
    out += le;
    out.push_back('"');
  }
  out.push_back('}');
}

void append_sample(std::string& out, const std::string& name, const char* suffix,
                   const Labels& labels, const std::string& value, const char* le = nullptr) {
  out += name;
  out += suffix;
  append_labels(out, labels, le);
  out.push_back(' ');
  out += value;
  out.push_back('\n');
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  // Label values are UTF-8 in the format; a comm or captured string may not be.
  std::string in = valid_utf8(v) ? v : sanitize_utf8(v);
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string in = valid_utf8(v) ? v : sanitize_utf8(v);
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers print without a fraction or exponent while exact (counters mostly are).
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string render_exposition(const std::vector<FamilySnapshot>& families) {
  std::string out;
  out.reserve(families.size() * 256);
  const std::string* previous = nullptr;
  for (const auto& f : families) {
    if (previous && *previous == f.name) continue;
    previous = &f.name;
    out += "# HELP ";
    out += f.name;
    out.push_back(' ');
    out += escape_help(f.help.empty() ? f.name : f.help);
    out += "\n# TYPE ";
    out += f.name;
    out.push_back(' ');
    out += metric_kind_text(f.kind);
    out.push_back('\n');
    for (const auto& s : f.series) {
      if (f.kind != MetricKind::kHistogram) {
        append_sample(out, f.name, "", s.labels, format_sample_value(s.value));
        continue;
      }
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        uint64_t n = i < s.buckets.size() ? s.buckets[i] : s.count;
        append_sample(out, f.name, "_bucket", s.labels, fmt::format("{}", n),
                      format_sample_value(f.bounds[i]).c_str());
      }
      uint64_t all = s.buckets.size() > f.bounds.size() ? s.buckets.back() : s.count;
      append_sample(out, f.name, "_bucket", s.labels, fmt::format("{}", all), "+Inf");
      append_sample(out, f.name, "_sum", s.labels, format_sample_value(s.sum));
      append_sample(out, f.name, "_count", s.labels, fmt::format("{}", s.count));
    }
  }
  return out;
}

}  // namespace probe
