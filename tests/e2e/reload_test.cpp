// SIGHUP: sinks reopen; handlers reload only when their script changed (a logrotate SIGHUP
// must not reset what handlers hold); a script that no longer loads leaves the running one in
// place; metrics made by handlers survive a reload.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/probed_run.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

std::string handler(int version, const std::string& extra = "") {
  return fmt::format(R"(
local n = 0
local marks = metrics.counter("reload_marks_total", "markers seen by any handler version")
function on_marker(ev)
  n = n + 1
  marks:inc()
  emit("out", {{ v = {}, n = n, total = marks:get() }})
end
{}
)",
                     version, extra);
}

std::vector<nlohmann::json> lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    if (auto j = nlohmann::json::parse(l, nullptr, false); !j.is_discarded()) out.push_back(j);
  return out;
}

nlohmann::json next_line(const std::string& path, size_t index) {
  for (int i = 0; i < 200; ++i) {
    auto all = lines(path);
    if (all.size() > index) return all[index];
    std::this_thread::sleep_for(20ms);
  }
  return nullptr;
}

TEST(Reload, SighupReloadsChangedHandlersKeepsUnchangedStateAndSurvivesBrokenScripts) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir out;
  std::string path = out.file("out.jsonl");
  test::ProbedRun probed(fmt::format("[policy]\nname = \"reload\"\n{}\n[handlers]\nscript = \"handler.lua\"\n"
                                     "[sinks.out]\ntype = \"jsonl\"\npath = \"{}\"\n",
                                     test::marker_probe_toml(), path),
                         handler(1));
  ASSERT_EQ(probed.error(), "");
  std::string script = probed.dir() + "/handler.lua";
  auto hup_and_wait = [&](const std::string& line) {
    return probed.process().signal_and_wait_stderr(SIGHUP, line, 10s).has_value();
  };

  test::fire_markers(1);
  auto a = next_line(path, 0);
  ASSERT_FALSE(a.is_null());
  EXPECT_EQ(a["v"], 1);
  EXPECT_EQ(a["n"], 1);

  // Unchanged script: state kept.
  ASSERT_TRUE(hup_and_wait("unchanged"));
  test::fire_markers(1);
  auto b = next_line(path, 1);
  EXPECT_EQ(b["v"], 1);
  EXPECT_EQ(b["n"], 2);

  // Changed script: new handlers (fresh Lua state), same metric.
  test::write_text(script, handler(2));
  ASSERT_TRUE(hup_and_wait("SIGHUP: reloaded"));
  test::fire_markers(1);
  auto c = next_line(path, 2);
  EXPECT_EQ(c["v"], 2);
  EXPECT_EQ(c["n"], 1);
  EXPECT_EQ(c["total"], 3) << "the counter made by the handlers survives the reload";

  // A broken script is reported; the running handlers go on.
  test::write_text(script, "function on_marker(ev) this is not lua end");
  ASSERT_TRUE(hup_and_wait("keeping the running handlers"));
  test::fire_markers(1);
  auto d = next_line(path, 3);
  EXPECT_EQ(d["v"], 2);
  EXPECT_EQ(d["n"], 2);
  EXPECT_EQ(probed.stop(), 0);
}

}  // namespace
}  // namespace probe
