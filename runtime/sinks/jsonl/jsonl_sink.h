// JSON lines: one object per line, to stdout ("-") or appended to a file. emit() serializes
// the record on the event loop (a compact string is what the queue holds) and a worker thread
// writes batches, so a slow disk or a stalled stdout pipe drops lines instead of blocking.
// SIGHUP (reopen()) makes the worker reopen the path, for log rotation.
#pragma once

#include <atomic>

#include "runtime/sinks/async_queue.h"
#include "runtime/sinks/jsonl/line_file.h"
#include "runtime/sinks/log_dedupe.h"
#include "runtime/sinks/sink.h"

namespace probe {

class JsonlSink : public Sink {
 public:
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& id, const std::string& path,
                                                 QueueOptions queue = default_queue());
  static QueueOptions default_queue();
  const char* type() const override { return "jsonl"; }
  void emit(const nlohmann::json& record) override;
  void flush() override;
  void reopen() override;
  size_t queued() const override { return queue_.depth(); }
  void hold() override { queue_.hold(); }
  void release() override { queue_.release(); }

 private:
  JsonlSink(const std::string& id, LineFile file, QueueOptions queue);
  void write_batch(std::vector<std::string>& lines);
  void reopen_if_asked();

  LineFile file_;  // used by the worker only
  std::atomic<bool> reopen_asked_{false};
  LogDedupe errors_{std::chrono::minutes(1), 16};
  AsyncQueue<std::string> queue_;  // last: its worker uses the members above
};

// The line for a record: compact JSON; strings that are not valid UTF-8 have each maximal
// ill-formed byte sequence replaced by U+FFFD (docs/sinks.md), so every line parses.
std::string jsonl_line(const nlohmann::json& record);

}  // namespace probe
