#include "runtime/sinks/jsonl/jsonl_sink.h"

#include <cerrno>
#include <cstring>

namespace probe {

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& id, const std::string& path) {
  if (path == "-") return std::unique_ptr<JsonlSink>(new JsonlSink(id, stdout, false));
  FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) return make_error("sink '{}': cannot open {}: {}", id, path, std::strerror(errno));
  return std::unique_ptr<JsonlSink>(new JsonlSink(id, f, true));
}

JsonlSink::~JsonlSink() {
  flush();
  if (owned_) std::fclose(file_);
}

void JsonlSink::emit(const nlohmann::json& record) {
  // Invalid UTF-8 in captured bytes becomes U+FFFD instead of aborting the record.
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    counters_.failed++;
    return;
  }
  // A line must be visible as soon as it is written (operators tail it, tests read it).
  std::fflush(file_);
  counters_.sent++;
}

void JsonlSink::flush() { std::fflush(file_); }

}  // namespace probe
