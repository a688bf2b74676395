#include "tests/support/bpf_session.h"

#include <gtest/gtest.h>

#include "runtime/events/event_json.h"
#include "tests/support/process.h"

namespace probe::test {

BpfSession::BpfSession(const std::string& policy_text, const std::string& extension) {
  if (auto why = bpf_unavailable_reason()) {
    error_ = *why;
    return;
  }
  write_text(dir_.file("policy" + extension), policy_text);
  auto [rc, out] = run({probec_path(), "compile", dir_.file("policy" + extension), "-o", dir_.file("p.pko"),
                        "--cache-dir", dir_.file("cache")});
  if (rc != 0) {
    error_ = "probec compile failed:\n" + out;
    return;
  }
  auto a = read_artifact(dir_.file("p.pko"));
  if (!a) {
    error_ = a.error().message;
    return;
  }
  artifact_ = std::move(*a);
  install_libbpf_logger();
  auto obj = BpfObject::load(artifact_, "");
  if (!obj) {
    error_ = obj.error().message;
    return;
  }
  object_ = std::move(*obj);
  decoder_ = std::make_unique<EventDecoder>(artifact_.manifest);
  auto ring = RingReader::open(object_->events_fd(), [this](const void* d, size_t n) {
    if (auto ev = decoder_->decode(d, n)) events_.push_back(event_to_json(*ev));
  });
  if (!ring) {
    error_ = ring.error().message;
    return;
  }
  ring_ = std::move(*ring);
  attacher_ = std::make_unique<Attacher>(*object_, artifact_.manifest);
  if (auto st = attacher_->attach_all(); !st) error_ = st.error().message;
}

const std::vector<nlohmann::json>& BpfSession::events() {
  if (ring_) ring_->consume();
  return events_;
}

std::vector<nlohmann::json> BpfSession::events_of(const std::string& probe) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events())
    if (e["probe"] == probe) out.push_back(e);
  return out;
}

std::vector<MetricSeries> BpfSession::metric(const std::string& name) {
  for (const auto& m : artifact_.manifest.metrics) {
    if (m.name != name) continue;
    auto series = read_metric(*object_, m);
    if (series) return *series;
    ADD_FAILURE() << series.error().message;
  }
  return {};
}

ProbeCounters BpfSession::counters(const std::string& probe) {
  auto all = object_->read_counters();
  for (const auto& p : artifact_.manifest.probes)
    if (p.name == probe) return all[p.id];
  return {};
}

std::pair<std::string, std::string> build_c_program(const TempDir& dir, const std::string& name,
                                                    const std::string& source,
                                                    const std::vector<std::string>& flags) {
  std::string src = dir.file(name + ".c");
  std::string bin = dir.file(name);
  write_text(src, source);
  std::vector<std::string> argv = {"cc", "-g", "-O1", "-o", bin, src};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto [rc, out] = run(argv);
  if (rc != 0) return {"", "cc failed: " + out};
  return {bin, ""};
}

}  // namespace probe::test
