// JSON lines: one object per line, to stdout ("-") or appended to a file.
#pragma once

#include <cstdio>

#include "runtime/sinks/sink.h"

namespace probe {

class JsonlSink : public Sink {
 public:
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& id, const std::string& path);
  ~JsonlSink() override;
  const char* type() const override { return "jsonl"; }
  void emit(const nlohmann::json& record) override;
  void flush() override;

 private:
  JsonlSink(const std::string& id, FILE* f, bool owned) : Sink(id), file_(f), owned_(owned) {}
  FILE* file_;
  bool owned_;
};

}  // namespace probe
