#include "runtime/sinks/sink_settings.h"

#include <cerrno>
#include <cstdlib>

namespace probe {

std::string SinkSettings::id() const {
  const std::string* id = find("id");
  return id && !id->empty() ? *id : config_.type;
}

const std::string* SinkSettings::find(const std::string& key) const {
  auto it = config_.settings.find(key);
  return it == config_.settings.end() ? nullptr : &it->second;
}

std::string SinkSettings::text(const std::string& key, const std::string& fallback) const {
  const std::string* v = find(key);
  return v ? *v : fallback;
}

Result<size_t> SinkSettings::count(const std::string& key, size_t fallback, size_t min,
                                   size_t max) const {
  const std::string* v = find(key);
  if (!v || v->empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v->c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || (*v)[0] == '-' || n < min || n > max)
    return make_error("sink '{}': '{}' must be a whole number from {} to {} (got '{}')", id(), key,
                      min, max, *v);
  return static_cast<size_t>(n);
}

Result<std::chrono::milliseconds> parse_duration(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || end == text.c_str() || v < 0)
    return make_error("'{}' is not a duration", text);
  std::string unit = end;
  double ms;
  if (unit == "ms") ms = v;
  else if (unit == "s" || unit.empty()) ms = v * 1000;
  else if (unit == "m") ms = v * 60'000;
  else if (unit == "h") ms = v * 3'600'000;
  else return make_error("'{}' is not a duration", text);
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

Result<std::chrono::milliseconds> SinkSettings::duration(const std::string& key,
                                                         std::chrono::milliseconds fallback) const {
  const std::string* v = find(key);
  if (!v || v->empty()) return fallback;
  auto d = parse_duration(*v);
  if (!d)
    return make_error("sink '{}': '{}' must be a duration such as \"500ms\", \"10s\" or \"2m\" (got '{}')",
                      id(), key, *v);
  return *d;
}

Result<bool> SinkSettings::flag(const std::string& key, bool fallback) const {
  const std::string* v = find(key);
  if (!v || v->empty()) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes") return true;
  if (*v == "false" || *v == "0" || *v == "no") return false;
  return make_error("sink '{}': '{}' must be true or false (got '{}')", id(), key, *v);
}

}  // namespace probe
