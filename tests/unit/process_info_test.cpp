// What probed knows about a process outlives it: read at exec, answered after exit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/events/process_info.h"
#include "tests/support/env.h"

namespace probe {
namespace {

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A fake /proc/<pid> with an exe link and a cgroup file.
void fake_process(const test::TempDir& proc, int pid, const std::string& exe, const std::string& cgroup) {
  std::string dir = proc.file(std::to_string(pid));
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/exe");
  std::filesystem::create_symlink(exe, dir + "/exe");
  test::write_text(dir + "/cgroup", "0::" + cgroup + "\n");
}

TEST(ProcessInfo, KnowsAProcessAfterItIsGone) {
  test::TempDir proc;
  ProcessInfoCache cache(proc.path());
  fake_process(proc, 42, "/usr/bin/curl", "/system.slice/docker-" + kId + ".scope");
  cache.remember(42);
  std::filesystem::remove_all(proc.file("42"));  // the client exited before its event was handled
  cache.exited(42);
  ProcessInfo p = cache.lookup(42);
  EXPECT_EQ(p.exe, "/usr/bin/curl");
  EXPECT_EQ(p.cgroup, "/system.slice/docker-" + kId + ".scope");
  EXPECT_EQ(p.container, kId);
  EXPECT_EQ(cache.lookup(43).exe, "");  // never seen and not there: nothing, no error
}

TEST(ProcessInfo, ReadsALiveProcessItNeverSaw) {
  test::TempDir proc;
  ProcessInfoCache cache(proc.path());
  fake_process(proc, 7, "/usr/bin/python3.11", "/user.slice/session-1.scope");
  ProcessInfo p = cache.lookup(7);
  EXPECT_EQ(p.exe, "/usr/bin/python3.11");
  EXPECT_EQ(p.container, "");
  // The real /proc: this test process.
  EXPECT_FALSE(ProcessInfoCache().lookup(getpid()).exe.empty());
}

TEST(ProcessInfo, ContainerIdsFromTheUsualCgroupLayouts) {
  EXPECT_EQ(container_id_from_cgroup("/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + kId + ".scope"), kId);
  EXPECT_EQ(container_id_from_cgroup("/docker/" + kId), kId);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/crio-" + kId + ".scope"), kId);
  EXPECT_EQ(container_id_from_cgroup("/system.slice/ssh.service"), "");
  EXPECT_EQ(container_id_from_cgroup("/x/" + kId + "0"), "");  // 65 digits: not an id
}

}  // namespace
}  // namespace probe
