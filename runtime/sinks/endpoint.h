// "host:port" and "[v6addr]:port" as sinks take them (Orchestrator endpoint, /metrics listen).
#pragma once

#include <string>

namespace probe {

// Splits "host:port" or "[v6]:port"; false when the text is neither (a bare IPv6 address
// needs brackets, the port must be a number).
bool split_endpoint(const std::string& endpoint, std::string* host, std::string* port);

}  // namespace probe
