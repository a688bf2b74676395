// When an OTLP/HTTP export is retried (the specification's rules): 429, 502, 503 and 504 and
// failures to connect or to get an answer are transient; any other status is final. The wait
// is the server's Retry-After when it sends one, else exponential backoff with jitter.
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>

namespace probe::otlp {

struct HttpResult {
  long status = 0;          // 0: no HTTP answer (connection refused, timeout, ...)
  std::string transport_error;
  std::string body;         // the start of the response body
  std::optional<std::chrono::milliseconds> retry_after;
};

enum class Verdict { kDelivered, kRetry, kRejected };
Verdict judge(const HttpResult& r);

struct RetrySettings {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max_interval{30'000};
  std::chrono::milliseconds max_elapsed{60'000};  // give up on a request after this long
};

class Backoff {
 public:
  explicit Backoff(RetrySettings s) : s_(s), rng_(std::random_device{}()) {}
  // The wait before retry number `attempt` (1 for the first retry).
  std::chrono::milliseconds wait(int attempt, const HttpResult& r);

 private:
  RetrySettings s_;
  std::mt19937 rng_;
};

// "120" (seconds) or an HTTP-date; nullopt if neither. `now` is the Unix time in seconds.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value, time_t now);

}  // namespace probe::otlp
