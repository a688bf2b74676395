// SIGHUP with a changed policy: probes whose fingerprint is unchanged stay attached (the same
// kernel link, no event lost while the rest reload), changed and added probes attach anew,
// removed ones detach, and a version of the policy none of whose probes is left goes away.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/env.h"
#include "tests/support/probed_run.h"
#include "tests/support/prometheus_server.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

// Our programs the kernel has loaded (id → name) and its links (link id → program id).
std::map<uint32_t, std::string> probekit_programs() {
  std::map<uint32_t, std::string> out;
  for (const auto& p : nlohmann::json::parse(test::run({"bpftool", "-j", "prog", "show"}).second))
    if (p.contains("name") && p["name"].get<std::string>().rfind("pk_p", 0) == 0) out[p["id"]] = p["name"];
  return out;
}

std::map<uint32_t, uint32_t> links_of(const std::map<uint32_t, std::string>& programs) {
  std::map<uint32_t, uint32_t> out;
  for (const auto& l : nlohmann::json::parse(test::run({"bpftool", "-j", "link", "show"}).second))
    if (l.contains("prog_id") && programs.count(l["prog_id"])) out[l["id"]] = l["prog_id"];
  return out;
}

uint32_t program_named(const std::map<uint32_t, std::string>& programs, const std::string& name) {
  for (const auto& [id, n] : programs)
    if (n == name) return id;
  return 0;
}

size_t count_lines(const std::string& path, const std::string& probe, int version = 0) {
  size_t n = 0;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_discarded() || j["p"] != probe) continue;
    if (version == 0 || j["v"] == version) ++n;
  }
  return n;
}

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 250; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::string probe(const std::string& name, const std::string& syscall, const std::string& extra = "") {
  return fmt::format("[probe.{}]\ntracepoint = \"syscalls:sys_enter_{}\"\nfilter = \"pid == {}\"\n{}", name, syscall,
                     getpid(), extra);
}

std::string handlers(int version) {
  std::string out;
  for (const char* p : {"marker", "ticks", "gone", "added"})
    out += fmt::format("function on_{}(ev) emit(\"out\", {{ p = \"{}\", v = {} }}) end\n", p, p, version);
  return out;
}

void fire_ticks() { syscall(SYS_getpgid, 0); }
void fire_gone() { syscall(SYS_getsid, 0); }
void fire_added() { syscall(SYS_getuid); }

TEST(ReloadPolicy, SighupKeepsUnchangedProbesAttachedAndReplacesOnlyWhatChanged) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  if (!test::find_program("bpftool")) GTEST_SKIP() << "bpftool is not installed";
  test::TempDir out;
  std::string path = out.file("out.jsonl");
  int metrics_port = test::free_tcp_port();
  std::string head = fmt::format("[policy]\nname = \"reload-diff\"\n[handlers]\nscript = \"handler.lua\"\n"
                                 "[sinks.out]\ntype = \"jsonl\"\npath = \"{}\"\n"
                                 "[sinks.prom]\ntype = \"prometheus\"\nlisten = \"127.0.0.1:{}\"\n",
                                 path, metrics_port);
  auto metric = [&](const std::string& series) -> std::string {
    auto [status, body] = test::http_get("127.0.0.1", metrics_port, "/metrics");
    auto at = body.find("\n" + series + " ");
    if (status != 200 || at == std::string::npos) return "<missing: " + body.substr(0, 200) + ">";
    at += series.size() + 2;
    return body.substr(at, body.find('\n', at) - at);
  };
  // v1: marker (id 0), ticks (1), gone (2).
  test::ProbedRun probed(head + probe("marker", "getppid") + probe("ticks", "getpgid") + probe("gone", "getsid"),
                         handlers(1));
  ASSERT_EQ(probed.error(), "");
  std::string policy = probed.dir() + "/policy.toml";
  auto hup_and_wait = [&](const std::string& line) {
    return probed.process().signal_and_wait_stderr(SIGHUP, line, 30s).has_value();
  };

  auto v1_programs = probekit_programs();
  uint32_t marker_prog = program_named(v1_programs, "pk_p0_entry");
  uint32_t ticks_prog = program_named(v1_programs, "pk_p1_entry");
  uint32_t gone_prog = program_named(v1_programs, "pk_p2_entry");
  ASSERT_TRUE(marker_prog && ticks_prog && gone_prog) << probed.process().stderr_text();
  auto v1_links = links_of(v1_programs);
  uint32_t marker_link = 0;
  for (const auto& [link, prog] : v1_links)
    if (prog == marker_prog) marker_link = link;
  ASSERT_NE(marker_link, 0u);

  // v2: a new probe first (every id shifts), marker as it was, ticks capturing more,
  // gone removed; new handlers. Markers fire all through the reload.
  test::write_text(policy, head + probe("added", "getuid") + probe("marker", "getppid") +
                               probe("ticks", "getpgid", "capture = [{ name = \"t\", value = \"tid\" }]\n"));
  test::write_text(probed.dir() + "/handler.lua", handlers(2));
  std::atomic<bool> firing{true};
  std::atomic<int> fired{0};
  std::thread markers([&] {
    while (firing) {
      test::fire_markers(1);
      ++fired;
      std::this_thread::sleep_for(1ms);
    }
  });
  bool reloaded = hup_and_wait("SIGHUP: policy reloaded");
  std::this_thread::sleep_for(100ms);
  firing = false;
  markers.join();
  ASSERT_TRUE(reloaded) << probed.process().stderr_text();
  EXPECT_NE(probed.process().stderr_text().find("1 unchanged, 1 changed (ticks), 1 added (added), 1 removed (gone)"),
            std::string::npos)
      << probed.process().stderr_text();

  // Not one marker lost or doubled across the reload, and the new handlers get them from the
  // link that was never detached.
  EXPECT_TRUE(eventually([&] { return count_lines(path, "marker") == static_cast<size_t>(fired.load()); }))
      << count_lines(path, "marker") << " marker events for " << fired << " calls";
  auto links = links_of(probekit_programs());
  EXPECT_EQ(links.count(marker_link), 1u) << "the unchanged probe keeps its kernel link";
  EXPECT_EQ(links[marker_link], marker_prog);
  for (const auto& [link, prog] : links) {
    EXPECT_NE(prog, ticks_prog) << "the changed probe's old program is detached";
    EXPECT_NE(prog, gone_prog) << "the removed probe is detached";
  }
  // Two versions run: v1 keeps marker, v2 has the rest; per-probe counters follow the probe.
  EXPECT_EQ(metric("probekit_policy_generations"), "2");
  EXPECT_EQ(metric("probekit_probe_hits_total{probe=\"marker\"}"), std::to_string(fired.load()));
  size_t markers_v2 = count_lines(path, "marker", 2);
  test::fire_markers(3);
  fire_ticks();
  fire_gone();
  fire_added();
  EXPECT_TRUE(eventually([&] { return count_lines(path, "marker", 2) == markers_v2 + 3; }));
  EXPECT_TRUE(eventually([&] { return count_lines(path, "ticks", 2) == 1 && count_lines(path, "added", 2) == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(count_lines(path, "gone"), 0u);
  EXPECT_EQ(count_lines(path, "ticks", 2), 1u) << "one event: the old ticks probe no longer fires";

  // v3 changes marker too: nothing of v1 is left running, so v1 goes with its programs.
  test::write_text(policy, head + probe("added", "getuid") + probe("marker", "getppid", "capture = [{ name = \"t\", value = \"tid\" }]\n"));
  ASSERT_TRUE(hup_and_wait("generation 1 retired")) << probed.process().stderr_text();
  EXPECT_TRUE(eventually([&] { return probekit_programs().count(marker_prog) == 0; }))
      << "v1's programs are freed";
  EXPECT_NE(probed.process().stderr_text().find("1 unchanged, 1 changed (marker), 0 added, 1 removed (ticks)"),
            std::string::npos)
      << probed.process().stderr_text();
  test::fire_markers(1);
  EXPECT_TRUE(eventually([&] { return count_lines(path, "marker", 2) == markers_v2 + 4; }));
  EXPECT_EQ(metric("probekit_policy_generations"), "2");  // v2 (added) and v3 (marker)

  // A policy that does not compile leaves the running one in place.
  test::write_text(policy, head + "[probe.broken]\ntracepoint = 42\n");
  ASSERT_TRUE(hup_and_wait("keeping the running policy")) << probed.process().stderr_text();
  test::fire_markers(1);
  EXPECT_TRUE(eventually([&] { return count_lines(path, "marker", 2) == markers_v2 + 5; }));

  EXPECT_EQ(probed.stop(), 0);
  EXPECT_TRUE(eventually([&] { return probekit_programs().empty(); })) << "nothing of ours after SIGTERM";
}

// Changed sinks apply on SIGHUP: the JSON-lines file moves, and a Prometheus sink listening on
// the same port serves again after the swap.
TEST(ReloadPolicy, SighupAppliesChangedSinks) {
  if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
  test::TempDir out;
  int port = test::free_tcp_port();
  auto policy_text = [&](const std::string& file) {
    return fmt::format("[policy]\nname = \"reload-sinks\"\n{}[handlers]\nscript = \"handler.lua\"\n"
                       "[sinks.out]\ntype = \"jsonl\"\npath = \"{}\"\n"
                       "[sinks.prom]\ntype = \"prometheus\"\nlisten = \"127.0.0.1:{}\"\n",
                       test::marker_probe_toml(), out.file(file), port);
  };
  const std::string lua = "local n = metrics.counter(\"reload_sink_marks_total\", \"marks\")\n"
                          "function on_marker(ev) n:inc() emit(\"out\", { p = \"marker\" }) end\n";
  test::ProbedRun probed(policy_text("a.jsonl"), lua);
  ASSERT_EQ(probed.error(), "");
  test::fire_markers(2);
  EXPECT_TRUE(eventually([&] { return count_lines(out.file("a.jsonl"), "marker") == 2; }));

  test::write_text(probed.dir() + "/policy.toml", policy_text("b.jsonl"));
  ASSERT_TRUE(probed.process().signal_and_wait_stderr(SIGHUP, "SIGHUP: sinks replaced", 30s))
      << probed.process().stderr_text();
  test::fire_markers(3);
  EXPECT_TRUE(eventually([&] { return count_lines(out.file("b.jsonl"), "marker") == 3; }));
  EXPECT_EQ(count_lines(out.file("a.jsonl"), "marker"), 2u);
  auto [status, body] = test::http_get("127.0.0.1", port, "/metrics");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("reload_sink_marks_total 5"), std::string::npos) << body;
  EXPECT_EQ(probed.stop(), 0);
}

}  // namespace
}  // namespace probe
