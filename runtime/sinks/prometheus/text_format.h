// Prometheus text exposition format 0.0.4: "# HELP" and "# TYPE" per family, one line per
// series, histograms as _bucket{le=...} (cumulative, +Inf last), _sum and _count.
#pragma once

#include <string>
#include <vector>

#include "runtime/metrics/registry.h"

namespace probe {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Families must be sorted by name (Registry::collect() does); a name seen twice keeps only its
// first family, since a repeated TYPE line makes the whole scrape invalid.
std::string render_exposition(const std::vector<FamilySnapshot>& families);

// Escaping rules of the format, exposed for tests.
std::string escape_label_value(const std::string& v);  // \\, \", \n
std::string escape_help(const std::string& v);         // \\, \n
std::string format_sample_value(double v);             // Go float syntax: NaN, +Inf, -Inf

}  // namespace probe
