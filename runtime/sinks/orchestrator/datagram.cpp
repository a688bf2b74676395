#include "runtime/sinks/orchestrator/datagram.h"

#include <fmt/format.h>

#include <cmath>

namespace probe {
namespace {

// Whitespace, control and non-ASCII bytes are percent-encoded: the Orchestrator treats each
// byte as a Latin-1 code point and splits fields on whitespace.
std::string sanitize(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) out += fmt::format("%{:02X}", c);
    else out.push_back(static_cast<char>(c));
  }
  return out;
}

bool is_method(const std::string& m) {
  if (m.empty() || m.size() > 32) return false;
  for (char c : m)
    if (!(c >= 'A' && c <= 'Z') && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

std::optional<std::string> format_orchestrator_datagram(const std::string& method,
                                                        const std::string& host,
                                                        const std::string& path, double latency_ms,
                                                        std::string* why) {
  if (!is_method(method)) {
    *why = fmt::format("method '{}' is not an HTTP method token", method);
    return std::nullopt;
  }
  std::string h = sanitize(host);
  if (h.empty()) {
    *why = "host is empty";
    return std::nullopt;
  }
  std::string p = path.empty() ? "/" : sanitize(path);
  if (!std::isfinite(latency_ms)) {
    *why = "latency is not a number";
    return std::nullopt;
  }
  std::string lat = fmt::format("{:.3f}", latency_ms < 0 ? 0.0 : latency_ms);
  std::string head = fmt::format("0\t{}\t{}\t", method, h);
  std::string tail = fmt::format("\t{}\n", lat);
  if (head.size() + tail.size() + 1 > kMaxDatagram) {
    *why = "host is too long for one datagram";
    return std::nullopt;
  }
  size_t room = kMaxDatagram - head.size() - tail.size();
  if (p.size() > room) {
    p.resize(room);
    // Never cut a %XX escape in half.
    if (auto pct = p.rfind('%'); pct != std::string::npos && pct + 3 > p.size()) p.resize(pct);
  }
  return head + p + tail;
}

}  // namespace probe
