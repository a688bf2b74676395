// Test helper: compiles a policy with probec, loads and attaches it in this process, and
// gives the test its events, counters and metrics — real programs on real targets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/artifact/artifact.h"
#include "runtime/attach/attacher.h"
#include "runtime/events/event_view.h"
#include "runtime/events/ring_reader.h"
#include "runtime/loader/bpf_object.h"
#include "runtime/metrics/bpf_metrics.h"
#include "tests/support/env.h"

namespace probe::test {

class BpfSession {
 public:
  // Empty error() means the policy runs; otherwise it says why not. `extension` selects the
  // front end (".toml" or ".lua").
  explicit BpfSession(const std::string& policy_text, const std::string& extension = ".toml");
  const std::string& error() const { return error_; }

  // Every event received so far (the ring buffer is drained first).
  const std::vector<nlohmann::json>& events();
  std::vector<nlohmann::json> events_of(const std::string& probe);
  std::vector<MetricSeries> metric(const std::string& name);
  ProbeCounters counters(const std::string& probe);
  const Manifest& manifest() const { return artifact_.manifest; }
  // Where each probe attached (for placed probes: the placement and its sites).
  std::vector<AttachRecord> attach_records() const {
    return attacher_ ? attacher_->records() : std::vector<AttachRecord>{};
  }

 private:
  TempDir dir_;
  std::string error_;
  Artifact artifact_;
  std::unique_ptr<BpfObject> object_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<EventDecoder> decoder_;
  std::unique_ptr<RingReader> ring_;
  std::vector<nlohmann::json> events_;
};

// Builds a C program into `dir` with cc; returns its path or an error text.
std::pair<std::string, std::string> build_c_program(const TempDir& dir, const std::string& name,
                                                    const std::string& source,
                                                    const std::vector<std::string>& flags = {});

}  // namespace probe::test
