#include "runtime/sinks/otlp/retry_policy.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>

namespace probe::otlp {

Verdict judge(const HttpResult& r) {
  if (r.status >= 200 && r.status < 300) return Verdict::kDelivered;
  if (r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504)
    return Verdict::kRetry;
  return Verdict::kRejected;
}

std::chrono::milliseconds Backoff::wait(int attempt, const HttpResult& r) {
  // The server's word wins, within reason: a day-long Retry-After still ends in max_elapsed.
  if (r.retry_after) return std::min(*r.retry_after, s_.max_elapsed);
  double base = static_cast<double>(s_.initial.count());
  for (int i = 1; i < attempt && base < static_cast<double>(s_.max_interval.count()); ++i) base *= 2;
  base = std::min(base, static_cast<double>(s_.max_interval.count()));
  // Full jitter between half and all of the interval keeps many probed from retrying in step.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(base * jitter(rng_)));
}

std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value, time_t now) {
  std::string v = value;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r' || v.back() == '\n')) v.pop_back();
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string::npos && v.size() < 10)
    return std::chrono::milliseconds(std::stoll(v) * 1000);
  tm t{};
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &t);
  if (!end || *end != '\0') return std::nullopt;
  time_t at = timegm(&t);
  return std::chrono::milliseconds(std::max<long long>(0, static_cast<long long>(at - now)) * 1000);
}

}  // namespace probe::otlp
