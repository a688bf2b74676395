// The Metrist Orchestrator's in-process (v0) datagram: "0\tMETHOD\tHOST\tPATH\tLATENCY_MS\n".
// The Orchestrator splits on whitespace and needs four non-empty fields and a latency with a
// leading digit, so fields are sanitized here or the record is refused.
#pragma once

#include <optional>
#include <string>

#include "runtime/sinks/endpoint.h"  // split_endpoint, for the endpoint setting

namespace probe {

constexpr size_t kMaxDatagram = 8191;

// The datagram, or nullopt with `why` set when the call cannot be expressed.
std::optional<std::string> format_orchestrator_datagram(const std::string& method,
                                                        const std::string& host,
                                                        const std::string& path, double latency_ms,
                                                        std::string* why);

}  // namespace probe
