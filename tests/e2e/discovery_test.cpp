// probed finds what the policy names in processes that appear after it started: a binary
// created and run later (and how soon its first event arrives), a library loaded with
// dlopen, a binary replaced by a new file, and a process in its own mount namespace that
// maps a different copy of a library.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <set>

#include <nlohmann/json.hpp>

#include "tests/support/bpf_session.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

constexpr char kLibrary[] = R"(
__attribute__((noinline)) int pk_lib_fn(int x) { __asm__ volatile("" ::: "memory"); return x * 2; }
)";

// Loads a library with dlopen after a delay, then calls pk_lib_fn(i) every 10 ms.
constexpr char kLoader[] = R"(#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  usleep(atoi(argv[2]) * 1000);
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  int (*f)(int) = (int (*)(int))dlsym(h, "pk_lib_fn");
  for (int i = 0; i < 40; i++) { f(i); usleep(10000); }
  return 0;
}
)";

// Kernel links of probed's process watcher programs (pk_watch_*: exec, mmap entry and exit,
// exit).
size_t watcher_links() {
  auto progs = nlohmann::json::parse(test::run({"bpftool", "-j", "prog", "show"}).second);
  std::set<uint64_t> watch;
  for (const auto& p : progs)
    if (p.contains("name") && p["name"].get<std::string>().rfind("pk_watch_", 0) == 0) watch.insert(p["id"].get<uint64_t>());
  size_t n = 0;
  for (const auto& l : nlohmann::json::parse(test::run({"bpftool", "-j", "link", "show"}).second))
    if (l.contains("prog_id") && watch.count(l["prog_id"].get<uint64_t>())) ++n;
  return n;
}

// Probe "call" on pk_lib_fn of a library no process has mapped yet.
constexpr char kLibraryCallPolicy[] = R"([policy]
name = "dlopen"
[target.lib]
library = "libpkdl.so"
[probe.call]
target = "lib"
uprobe = "pk_lib_fn"
capture = [{ name = "x", value = "arg0", type = "i32" }]
)";

// Calls pk_bin_fn(i) every millisecond from its first instruction: the first i seen tells
// how many milliseconds after exec the probe was live.
constexpr char kLooper[] = R"(#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int pk_bin_fn(int i, int version) { __asm__ volatile("" ::: "memory"); return i + version; }
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i++) { pk_bin_fn(i, VERSION); usleep(1000); }
  return 0;
}
)";

class Discovery : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::bpf_unavailable_reason()) GTEST_SKIP() << *why;
    if (!test::find_program("cc")) GTEST_SKIP() << "cc is not installed";
  }

  std::unique_ptr<test::Process> start_probed(const std::string& policy) {
    test::write_text(dir_.file("policy.toml"), policy);
    auto p = std::make_unique<test::Process>(std::vector<std::string>{
        test::probed_path(), "run", "--policy", dir_.file("policy.toml"), "--cache-dir", dir_.file("cache")});
    auto ready = p->wait_stderr([](const std::string& l) { return l.find("ready:") != std::string::npos; }, 60s);
    EXPECT_TRUE(ready) << p->stderr_text();
    return p;
  }

  std::vector<nlohmann::json> events(test::Process& p, const std::string& probe, size_t want,
                                     std::chrono::milliseconds timeout = 5s) {
    auto is = [&](const std::string& l) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      return !j.is_discarded() && j.value("probe", "") == probe;
    };
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<nlohmann::json> out;
    while (std::chrono::steady_clock::now() < deadline) {
      out.clear();
      for (const auto& l : p.stdout_lines())
        if (is(l)) out.push_back(nlohmann::json::parse(l));
      if (out.size() >= want) break;
      std::this_thread::sleep_for(20ms);
    }
    return out;
  }

  // Builds libpkdl.so now and runs `loader`, which dlopens it and calls pk_lib_fn(0..39):
  // probe "call" must see the calls.
  void expect_library_loaded_later_is_probed(test::Process& probed, const std::string& loader) {
    std::string lib = dir_.file("libpkdl.so");
    test::write_text(dir_.file("libpkdl.c"), kLibrary);
    ASSERT_EQ(test::run({"cc", "-shared", "-fPIC", "-O1", "-o", lib, dir_.file("libpkdl.c")}).first, 0);
    auto [rc, out] = test::run({loader, lib, "100"});
    ASSERT_EQ(rc, 0) << out;
    auto ev = events(probed, "call", 30);
    ASSERT_GE(ev.size(), 30u) << probed.stderr_text();
    EXPECT_EQ(ev.back()["x"], 39);
  }

  test::TempDir dir_;
};

TEST_F(Discovery, LibraryLoadedWithDlopenLaterIsProbed) {
  auto [loader, err] = test::build_c_program(dir_, "pkloader", kLoader, {"-ldl"});
  ASSERT_TRUE(err.empty()) << err;
  // probed starts before the library exists anywhere: the probe is pending.
  auto probed = start_probed(kLibraryCallPolicy);
  EXPECT_NE(probed->stderr_text().find("is not on the host; probes attach when a process maps it"),
            std::string::npos);
  expect_library_loaded_later_is_probed(*probed, loader);
}

// A probe a reload kept attached stays with the version of the policy that attached it; that
// version's discovery still attaches it to files processes map later.
TEST_F(Discovery, ProbeKeptByAReloadIsAttachedToALibraryLoadedAfterIt) {
  auto [loader, err] = test::build_c_program(dir_, "pkloader", kLoader, {"-ldl"});
  ASSERT_TRUE(err.empty()) << err;
  const std::string v1 = kLibraryCallPolicy;
  auto probed = start_probed(v1);
  test::write_text(dir_.file("policy.toml"), v1 + "[probe.execs]\nraw_tracepoint = \"sched_process_exec\"\n");
  ASSERT_TRUE(probed->signal_and_wait_stderr(SIGHUP, "1 unchanged, 0 changed, 1 added (execs)", 30s))
      << probed->stderr_text();
  // One process watcher runs (the new version's), and passes what it sees on to the old one.
  EXPECT_EQ(watcher_links(), 4u);
  expect_library_loaded_later_is_probed(*probed, loader);
  EXPECT_FALSE(events(*probed, "execs", 1).empty()) << "the probe the reload added runs too";
}

TEST_F(Discovery, NewBinaryIsProbedWithinMillisecondsOfExec) {
  std::string bin_path = dir_.file("pklooper");
  auto probed = start_probed(fmt::format(R"([policy]
name = "new-binary"
[target.bin]
binary = "{}"
[probe.tick]
target = "bin"
uprobe = "pk_bin_fn"
capture = [{{ name = "i", value = "arg0", type = "i32" }}, {{ name = "version", value = "arg1", type = "i32" }}]
)",
                                         bin_path));
  // The binary is created after probed started, so only the exec watcher can find it.
  auto [bin, err] = test::build_c_program(dir_, "pklooper", kLooper, {"-DVERSION=1"});
  ASSERT_TRUE(err.empty()) << err;
  ASSERT_EQ(test::run({bin, "300"}).first, 0);
  auto ev = events(*probed, "tick", 1);
  ASSERT_FALSE(ev.empty()) << probed->stderr_text();
  int first = ev.front()["i"];
  RecordProperty("exec_to_first_event_ms", first);
  std::printf("exec -> first event: ~%d ms (first iteration seen)\n", first);
  EXPECT_LT(first, 100) << "the target is 100 ms from exec to the first event";

  // Replace the binary with a new file (a new inode, as package upgrades do): probed
  // attaches to it too.
  auto [bin2, err2] = test::build_c_program(dir_, "pklooper.new", kLooper, {"-DVERSION=2"});
  ASSERT_TRUE(err2.empty()) << err2;
  ASSERT_EQ(rename(bin2.c_str(), bin_path.c_str()), 0);
  ASSERT_EQ(test::run({bin_path, "300"}).first, 0);
  auto after = events(*probed, "tick", 200);
  bool saw_v2 = false;
  for (const auto& e : after) saw_v2 |= e["version"] == 2;
  EXPECT_TRUE(saw_v2) << probed->stderr_text();
}

TEST_F(Discovery, ProcessInItsOwnMountNamespaceWithAnotherCopyOfTheLibrary) {
  auto unshare = test::find_program("unshare");
  if (!unshare) GTEST_SKIP() << "unshare (util-linux) is not installed";
  auto [loader, err] = test::build_c_program(dir_, "pkloader", kLoader, {"-ldl"});
  ASSERT_TRUE(err.empty()) << err;
  // The host copy exists when probed starts, so it is attached at start.
  std::string host_lib = dir_.file("libpkns.so");
  test::write_text(dir_.file("libpkns.c"), kLibrary);
  ASSERT_EQ(test::run({"cc", "-shared", "-fPIC", "-O1", "-o", host_lib, dir_.file("libpkns.c")}).first, 0);
  auto probed = start_probed(fmt::format(R"([policy]
name = "namespaces"
[target.lib]
library = "{}"
[probe.call]
target = "lib"
uprobe = "pk_lib_fn"
capture = [{{ name = "x", value = "arg0", type = "i32" }}]
)",
                                         host_lib));
  // In a private mount namespace the same path is a different file (another inode), as in a
  // container with its own copy of the library.
  std::string copy = dir_.file("libpkns-copy.so");
  ASSERT_EQ(test::run({"cp", host_lib, copy}).first, 0);
  std::string script =
      fmt::format("mount --make-rprivate / && mount --bind {} {} && exec {} {} 100", copy, host_lib, loader, host_lib);
  auto [rc, out] = test::run({*unshare, "-m", "sh", "-c", script});
  ASSERT_EQ(rc, 0) << out;
  auto ev = events(*probed, "call", 30);
  ASSERT_GE(ev.size(), 30u) << probed->stderr_text();
  EXPECT_NE(probed->stderr_text().find("(pid "), std::string::npos)
      << "the copy is attached through the process: " << probed->stderr_text();
}

}  // namespace
}  // namespace probe
