// Every event reaches the handler: a traced program makes N calls, the Lua handler counts
// them, and at stop the count plus the kernel's drop counter equals N.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "tests/support/bpf_session.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

constexpr char kCaller[] = R"(#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
)";

TEST(HandlerCount, HandlerSeesEveryEventOrTheLossIsCounted) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir dir;
  auto [caller, err] = test::build_c_program(dir, "pkcaller", kCaller);
  ASSERT_TRUE(err.empty()) << err;
  test::write_text(dir.file("h.lua"), R"(
    local seen = 0
    function on_call(ev) seen = seen + 1 end
    function on_stop() emit("jsonl", {seen = seen}) end
  )");
  test::write_text(dir.file("p.toml"), R"([policy]
name = "count"
[probe.call]
tracepoint = "syscalls:sys_enter_getppid"
filter = 'comm == "pkcaller"'
[handlers]
script = "h.lua"
[sinks.jsonl]
path = "-"
)");
  test::Process probed({test::probed_path(), "run", "--policy", dir.file("p.toml"), "--cache-dir", dir.file("c")});
  ASSERT_TRUE(probed.wait_stderr([](const std::string& l) { return l.find("ready:") != std::string::npos; }, 60s))
      << probed.stderr_text();
  constexpr int kCalls = 200000;
  ASSERT_EQ(test::run({caller, std::to_string(kCalls)}).first, 0);
  std::this_thread::sleep_for(300ms);
  probed.signal(SIGTERM);
  ASSERT_TRUE(probed.wait(30s));
  uint64_t seen = 0;
  for (const auto& l : probed.stdout_lines()) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (!j.is_discarded() && j.contains("seen")) seen = j["seen"];
  }
  // The final stats line reports the kernel's counters for the probe.
  std::string log = probed.stderr_text();
  auto at = log.find("probe call: hits ");
  ASSERT_NE(at, std::string::npos) << log;
  uint64_t emitted = 0, drops = 0;
  std::sscanf(log.c_str() + log.find("emitted ", at), "emitted %lu", &emitted);
  std::sscanf(log.c_str() + log.find("ring-buffer drops ", at), "ring-buffer drops %lu", &drops);
  EXPECT_EQ(emitted + drops, static_cast<uint64_t>(kCalls)) << log;
  EXPECT_EQ(seen, emitted) << log;
}

}  // namespace
}  // namespace probe
