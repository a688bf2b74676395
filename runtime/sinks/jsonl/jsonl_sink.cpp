#include "runtime/sinks/jsonl/jsonl_sink.h"

#include "common/log.h"

namespace probe {

std::string jsonl_line(const nlohmann::json& record) {
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

QueueOptions JsonlSink::default_queue() {
  QueueOptions q;
  q.max_items = 16384;
  q.max_bytes = 32u << 20;
  q.max_batch = 512;
  return q;
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& id, const std::string& path,
                                                   QueueOptions queue) {
  auto file = LineFile::open(path);
  if (!file) return make_error("sink '{}': {}", id, file.error().message);
  return std::unique_ptr<JsonlSink>(new JsonlSink(id, std::move(*file), queue));
}

JsonlSink::JsonlSink(const std::string& id, LineFile file, QueueOptions queue)
    : Sink(id),
      file_(std::move(file)),
      queue_(queue, {.consume = [this](std::vector<std::string>& b) { write_batch(b); },
                     .tick = [this] { reopen_if_asked(); },
                     .abandon = [this](size_t n) {
                       counters_.dropped += n;
                       log::warn("sink '{}': {} lines given up: not written before the flush deadline", this->id(), n);
                     },
                     .weigh = [](const std::string& s) { return s.size(); }}) {}

void JsonlSink::emit(const nlohmann::json& record) {
  if (!queue_.push(jsonl_line(record))) counters_.dropped++;
}

void JsonlSink::flush() { queue_.drain(std::chrono::seconds(2)); }

void JsonlSink::reopen() {
  reopen_asked_ = true;
  queue_.request_tick();
}

void JsonlSink::reopen_if_asked() {
  if (!reopen_asked_.exchange(false)) return;
  if (auto st = file_.reopen(); !st)
    log::warn("sink '{}': {}; still writing to the old file", id(), st.error().message);
  else if (file_.path() != "-")
    log::info("sink '{}': reopened {}", id(), file_.path());
}

void JsonlSink::write_batch(std::vector<std::string>& lines) {
  reopen_if_asked();
  std::string error;
  size_t written = file_.write(lines, &error);
  counters_.sent += written;
  if (written < lines.size()) {
    counters_.failed += lines.size() - written;
    if (errors_.first(error))
      log::warn("sink '{}': writing {}: {} ({} lines lost)", id(), file_.path(), error,
                lines.size() - written);
  }
}

}  // namespace probe
