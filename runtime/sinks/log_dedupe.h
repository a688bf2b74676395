// Logs a message once per distinct key per interval, remembering at most `max_keys` keys, so
// a flood of distinct values can neither spam the log nor grow memory. Not thread-safe: each
// sink uses it from its own worker thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

namespace probe {

class LogDedupe {
 public:
  using Clock = std::chrono::steady_clock;
  LogDedupe(std::chrono::milliseconds interval, size_t max_keys)
      : interval_(interval), max_keys_(max_keys) {}

  // True when `key` should be logged now. When an interval ends, *suppressed_before (if given)
  // receives how many messages the previous interval left unlogged because the set was full.
  bool first(const std::string& key, Clock::time_point now = Clock::now(),
             uint64_t* suppressed_before = nullptr);

 private:
  std::chrono::milliseconds interval_;
  size_t max_keys_;
  Clock::time_point started_{};
  std::unordered_set<std::string> seen_;
  uint64_t suppressed_ = 0;
};

}  // namespace probe
