#include "runtime/sinks/log_dedupe.h"

namespace probe {

bool LogDedupe::first(const std::string& key, Clock::time_point now, uint64_t* suppressed_before) {
  if (suppressed_before) *suppressed_before = 0;
  if (started_ == Clock::time_point{} || now - started_ >= interval_) {
    if (suppressed_before) *suppressed_before = suppressed_;
    seen_.clear();
    suppressed_ = 0;
    started_ = now;
  }
  if (seen_.count(key)) return false;
  if (seen_.size() >= max_keys_) {
    ++suppressed_;
    return false;
  }
  seen_.insert(key);
  return true;
}

}  // namespace probe
