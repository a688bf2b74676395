#include "runtime/sinks/otlp/exporter.h"

#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "runtime/sinks/otlp/proto_writer.h"

namespace probe::otlp {

const char* signal_text(Signal s) { return s == Signal::kTraces ? "traces" : "metrics"; }

Exporter::Exporter(std::string sink_id, ExporterOptions options,
                   std::function<bool(std::chrono::milliseconds)> sleep,
                   std::function<Clock::time_point()> deadline)
    : sink_id_(std::move(sink_id)),
      options_(std::move(options)),
      sleep_(std::move(sleep)),
      deadline_(std::move(deadline)),
      http_(options_.headers),
      backoff_(options_.retry) {}

std::string Exporter::url(Signal signal) const {
  std::string base = options_.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + (signal == Signal::kTraces ? "/v1/traces" : "/v1/metrics");
}

ExportResult Exporter::send(Signal signal, const std::string& body) {
  ExportResult out;
  auto started = Clock::now();
  std::string target = url(signal);
  for (int attempt = 0;; ++attempt) {
    auto now = Clock::now();
    auto timeout = options_.timeout;
    if (auto d = deadline_(); d != Clock::time_point::max()) {
      if (now >= d) {
        out.error = "shutting down";
        return out;
      }
      timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(d - now));
    }
    HttpResult r = http_.post(target, content_type(options_.encoding), body, timeout);
    Verdict v = judge(r);
    if (v == Verdict::kDelivered) {
      out.delivered = true;
      out.rejected = partial_success(r.body, options_.encoding, signal, &out.error);
      return out;
    }
    out.error = r.status ? fmt::format("HTTP {} from {}", r.status, target)
                         : fmt::format("{}: {}", target, r.transport_error);
    if (v == Verdict::kRejected) {
      if (!r.body.empty()) out.error += ": " + r.body.substr(0, 200);
      return out;
    }
    auto wait = backoff_.wait(attempt + 1, r);
    // Said at once (not only when the request finally fails, a minute later), once a minute.
    if (retry_log_.first(out.error))
      log::warn("sink '{}': {}; retrying {} in {} ms", sink_id_, out.error, signal_text(signal), wait.count());
    if (Clock::now() + wait - started > options_.retry.max_elapsed) {
      out.error += fmt::format(" (gave up after {} s)", options_.retry.max_elapsed.count() / 1000);
      return out;
    }
    if (!sleep_(wait)) {
      out.error += " (shutting down)";
      return out;
    }
    ++out.retries;
  }
}

int64_t partial_success(const std::string& body, Encoding encoding, Signal signal, std::string* message) {
  if (body.empty()) return 0;
  if (encoding == Encoding::kJson) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("partialSuccess")) return 0;
    const auto& p = j["partialSuccess"];
    const char* key = signal == Signal::kTraces ? "rejectedSpans" : "rejectedDataPoints";
    int64_t n = 0;
    if (p.contains(key)) {
      const auto& v = p[key];
      if (v.is_number_integer()) n = v.get<int64_t>();
      else if (v.is_string()) n = std::strtoll(v.get<std::string>().c_str(), nullptr, 10);
    }
    if (p.contains("errorMessage") && p["errorMessage"].is_string()) *message = p["errorMessage"];
    return n;
  }
  // Export*ServiceResponse: 1 partial_success (1 rejected count, 2 error_message).
  ProtoReader top(body);
  uint32_t field, wire;
  uint64_t value;
  std::string_view bytes;
  while (top.next(&field, &wire, &value, &bytes)) {
    if (field != 1 || wire != 2) continue;
    ProtoReader inner(bytes);
    int64_t n = 0;
    std::string_view b2;
    while (inner.next(&field, &wire, &value, &b2)) {
      if (field == 1 && wire == 0) n = static_cast<int64_t>(value);
      if (field == 2 && wire == 2) *message = std::string(b2);
    }
    return n;
  }
  return 0;
}

}  // namespace probe::otlp
