// JSON lines from a running probed: several sinks at once (a file and stdout), bytes that are
// not UTF-8 written as U+FFFD, and log rotation by rename + SIGHUP.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/probed_run.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l, nullptr, false));
  return out;
}

bool wait_lines(const std::string& path, size_t n) {
  for (int i = 0; i < 200; ++i) {
    if (read_jsonl(path).size() >= n) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(SinkJsonlE2e, WritesFileAndStdoutAndFollowsRotation) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  std::string path = dir.file("events.jsonl");
  std::string policy = fmt::format(R"(
[policy]
name = "jsonl-e2e"
{}
[handlers]
script = "handler.lua"
[sinks.events]
type = "jsonl"
path = "{}"
[sinks.jsonl]
path = "-"
)",
                                   test::marker_probe_toml(), path);
  const char* handler = R"(
local n = 0
function on_marker(ev)
  n = n + 1
  emit("events", { seq = n, data = "ok\xff\xfe\"\n" })
  emit("jsonl", { seq = n })
end
)";
  test::ProbedRun probed(policy, handler);
  ASSERT_EQ(probed.error(), "");

  test::fire_markers(3);
  ASSERT_TRUE(wait_lines(path, 3));
  ASSERT_TRUE(probed.process().wait_stdout([](const std::string& l) { return l == "{\"seq\":3}"; }, 10s));
  auto lines = read_jsonl(path);
  ASSERT_FALSE(lines[0].is_discarded());
  EXPECT_EQ(lines[0]["data"], "ok\xef\xbf\xbd\xef\xbf\xbd\"\n");  // each bad byte is one U+FFFD

  std::filesystem::rename(path, path + ".1");  // logrotate
  ASSERT_TRUE(probed.process().signal_and_wait_stderr(SIGHUP, "reopened " + path, 10s));
  test::fire_markers(2);
  ASSERT_TRUE(wait_lines(path, 2));

  auto code = probed.stop();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  auto old_lines = read_jsonl(path + ".1");
  auto new_lines = read_jsonl(path);
  ASSERT_EQ(old_lines.size(), 3u);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(old_lines[2]["seq"], 3);
  EXPECT_EQ(new_lines[0]["seq"], 4);  // the handler kept its state: only the file changed
  auto totals = probed.final_totals("events");
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->sent, 5u);
  EXPECT_EQ(probed.final_totals("jsonl")->sent, 5u);
}

// --sink ID.KEY=VALUE on the command line overrides the policy's sink settings and can add a
// sink the policy does not name.
TEST(SinkJsonlE2e, CommandLineOverridesAndAddsSinks) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  std::string moved = dir.file("moved.jsonl"), added = dir.file("added.jsonl");
  std::string policy = fmt::format(R"(
[policy]
name = "jsonl-override"
{}
[handlers]
script = "handler.lua"
[sinks.events]
type = "jsonl"
path = "{}"
)",
                                   test::marker_probe_toml(), dir.file("never.jsonl"));
  const char* handler = R"(
function on_marker(ev)
  emit("events", { to = "events" })
  emit("extra", { to = "extra" })
end
)";
  test::ProbedRun probed(policy, handler, {},
                         {"--sink", "events.path=" + moved, "--sink", "extra.type=jsonl", "--sink",
                          "extra.path=" + added});
  ASSERT_EQ(probed.error(), "");
  test::fire_markers(2);
  ASSERT_TRUE(wait_lines(moved, 2));
  ASSERT_TRUE(wait_lines(added, 2));
  EXPECT_EQ(read_jsonl(moved)[0]["to"], "events");
  EXPECT_EQ(read_jsonl(added)[0]["to"], "extra");
  EXPECT_FALSE(std::filesystem::exists(dir.file("never.jsonl")));
  ASSERT_EQ(probed.stop(), std::optional<int>(0));
}

TEST(SinkJsonlE2e, MalformedSinkOverrideIsAClearError) {
  auto [rc, out] = test::run({test::probed_path(), "run", "--policy", "x.toml", "--sink", "no-key"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("--sink wants ID.KEY=VALUE"), std::string::npos) << out;
}

}  // namespace
}  // namespace probe
