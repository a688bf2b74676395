// Typed access to a sink's settings (strings in the manifest, ${ENV} already expanded), with
// errors that name the sink and the setting.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "common/result.h"
#include "compiler/artifact/manifest.h"

namespace probe {

class SinkSettings {
 public:
  explicit SinkSettings(const SinkManifest& config) : config_(config) {}
  // The sink's name in the policy ([sinks.NAME]); its type when the manifest has no id.
  std::string id() const;
  std::string text(const std::string& key, const std::string& fallback = "") const;
  Result<size_t> count(const std::string& key, size_t fallback, size_t min, size_t max) const;
  // "250ms", "10s", "2m", "1h" or a plain number of seconds.
  Result<std::chrono::milliseconds> duration(const std::string& key,
                                             std::chrono::milliseconds fallback) const;
  Result<bool> flag(const std::string& key, bool fallback) const;

 private:
  const std::string* find(const std::string& key) const;
  const SinkManifest& config_;
};

// "250ms" → 250 ms; nullopt-like error for anything else. Exposed for tests.
Result<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace probe
