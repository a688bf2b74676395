#include "tests/support/otlp_decoder.h"

#include <unistd.h>

#include <fstream>

#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe::test {
namespace {

std::string decoder_dir() { return source_dir() + "/tests/otlp-decoder"; }

nlohmann::json plain(const nlohmann::json& any) {
  if (any.contains("stringValue") && any.value("value", "") == "stringValue") return any["stringValue"];
  if (any.value("value", "") == "intValue") return std::stoll(any["intValue"].get<std::string>());
  if (any.value("value", "") == "doubleValue") return any["doubleValue"];
  if (any.value("value", "") == "boolValue") return any["boolValue"];
  if (any.value("value", "") == "arrayValue") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : any["arrayValue"]["values"]) out.push_back(plain(v));
    return out;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> otlp_decoder_unavailable_reason() {
  if (!find_program("node")) return "node is not installed (scripts/install-deps.sh installs it)";
  if (access((decoder_dir() + "/node_modules/@opentelemetry/otlp-transformer").c_str(), R_OK) != 0)
    return "tests/otlp-decoder has no node_modules: run scripts/install-deps.sh (npm ci)";
  return std::nullopt;
}

std::vector<nlohmann::json> decode_otlp(const std::string& signal, const std::string& encoding,
                                        const std::vector<std::string>& bodies) {
  TempDir dir;
  std::vector<std::string> argv = {"node",   decoder_dir() + "/decode.js", signal, encoding,
                                   "--out", dir.file("decoded.jsonl")};
  for (size_t i = 0; i < bodies.size(); ++i) {
    std::string f = dir.file("body" + std::to_string(i));
    write_text(f, bodies[i]);
    argv.push_back(f);
  }
  auto [rc, out] = run(argv);
  std::vector<nlohmann::json> decoded;
  std::ifstream lines(dir.file("decoded.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    decoded.push_back(j.is_discarded() ? nlohmann::json{{"error", "not JSON: " + line.substr(0, 200)}} : j);
  }
  if (decoded.size() != bodies.size())
    decoded.assign(bodies.size(), {{"error", "decoder failed (exit " + std::to_string(rc) + "): " + out}});
  return decoded;
}

std::map<std::string, nlohmann::json> otlp_attributes(const nlohmann::json& key_values) {
  std::map<std::string, nlohmann::json> out;
  if (!key_values.is_array()) return out;
  for (const auto& kv : key_values) out[kv["key"].get<std::string>()] = plain(kv["value"]);
  return out;
}

std::vector<nlohmann::json> otlp_spans(const std::vector<nlohmann::json>& requests) {
  std::vector<nlohmann::json> out;
  for (const auto& r : requests)
    for (const auto& rs : r.value("resourceSpans", nlohmann::json::array()))
      for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array()))
        for (const auto& s : ss.value("spans", nlohmann::json::array())) out.push_back(s);
  return out;
}

std::vector<nlohmann::json> otlp_metrics(const std::vector<nlohmann::json>& requests) {
  std::vector<nlohmann::json> out;
  for (const auto& r : requests)
    for (const auto& rm : r.value("resourceMetrics", nlohmann::json::array()))
      for (const auto& sm : rm.value("scopeMetrics", nlohmann::json::array()))
        for (const auto& m : sm.value("metrics", nlohmann::json::array())) out.push_back(m);
  return out;
}

}  // namespace probe::test
