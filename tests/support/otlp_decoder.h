// Decodes OTLP export requests with the official OpenTelemetry JavaScript definitions
// (tests/otlp-decoder, installed by scripts/install-deps.sh): what probed sends is checked by
// code that is not ours. Ids come back as hex, 64-bit integers as strings, enums by name.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace probe::test {

// Why the decoder cannot run here (node or the npm packages are missing), or nullopt.
std::optional<std::string> otlp_decoder_unavailable_reason();

// One decoded request per body; an element {"error": "..."} for a body that did not decode.
// `signal` is "traces" or "metrics", `encoding` "protobuf" or "json".
std::vector<nlohmann::json> decode_otlp(const std::string& signal, const std::string& encoding,
                                        const std::vector<std::string>& bodies);

// [{key, value: {stringValue|intValue|...}}] → key → the value as plain JSON (intValue as a
// number, arrays as arrays).
std::map<std::string, nlohmann::json> otlp_attributes(const nlohmann::json& key_values);

// Every span (or metric) in decoded trace (metrics) requests, in order.
std::vector<nlohmann::json> otlp_spans(const std::vector<nlohmann::json>& requests);
std::vector<nlohmann::json> otlp_metrics(const std::vector<nlohmann::json>& requests);

}  // namespace probe::test
