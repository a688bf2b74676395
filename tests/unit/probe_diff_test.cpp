// A reload keeps a probe attached only when nothing that decides what it does changed: the
// fingerprint the compiler gives each probe, and the diff probed makes from fingerprints.
#include <gtest/gtest.h>

#include "runtime/daemon/probe_diff.h"
#include "tests/support/env.h"
#include "tests/support/generate.h"

namespace probe {
namespace {

Manifest manifest_of(const std::string& policy_toml) {
  test::TempDir dir;
  std::string path = dir.file("p.toml");
  test::write_text(path, policy_toml);
  auto g = test::generate_without_host_checks(path);
  return g ? g->manifest : Manifest{};
}

const std::string kHeader = "[policy]\nname = \"diff\"\n[target.lib]\nlibrary = \"libssl.so.3\"\n";
const std::string kWrite = "[probe.write]\ntarget = \"lib\"\nuprobe = \"SSL_write\"\ncapture = [{ name = \"n\", value = \"arg2\" }]\n";
const std::string kOpen = "[probe.open]\nkprobe = \"do_sys_openat2\"\ncapture = [{ name = \"dfd\", value = \"arg0\" }]\n";
const std::string kExec = "[probe.exec]\nraw_tracepoint = \"sched_process_exec\"\n";

const ProbeManifest& named(const Manifest& m, const std::string& name) {
  const ProbeManifest* p = m.find_probe(name);
  EXPECT_NE(p, nullptr) << name;
  static ProbeManifest none;
  return p ? *p : none;
}

std::vector<ProbeRef> running(const Manifest& m, size_t generation = 1) {
  std::vector<ProbeRef> out;
  for (const auto& p : m.probes) out.push_back({generation, &p});
  return out;
}

TEST(ProbeFingerprint, DoesNotDependOnTheProbeIdOrWhereItIsWritten) {
  Manifest a = manifest_of(kHeader + kOpen + kExec);
  Manifest b = manifest_of(kHeader + "\n\n" + kExec + "\n" + kOpen);  // other order, other lines
  ASSERT_EQ(a.probes.size(), 2u);
  EXPECT_NE(named(a, "open").id, named(b, "open").id);
  EXPECT_FALSE(named(a, "open").fingerprint.empty());
  EXPECT_EQ(named(a, "open").fingerprint, named(b, "open").fingerprint);
  EXPECT_EQ(named(a, "exec").fingerprint, named(b, "exec").fingerprint);
  EXPECT_NE(named(a, "open").fingerprint, named(a, "exec").fingerprint);
}

TEST(ProbeFingerprint, ChangesWithWhatTheProbeDoes) {
  std::string base = named(manifest_of(kHeader + kOpen), "open").fingerprint;
  // A filter, a capture, the event, a metric: each changes the program or what reads it.
  EXPECT_NE(base, named(manifest_of(kHeader + kOpen + "filter = \"pid == 1\"\n"), "open").fingerprint);
  EXPECT_NE(base, named(manifest_of(kHeader + "[probe.open]\nkprobe = \"do_sys_openat2\"\n"
                                              "capture = [{ name = \"dfd\", value = \"arg1\" }]\n"),
                        "open")
                      .fingerprint);
  EXPECT_NE(base, named(manifest_of(kHeader + kOpen + "optional = true\n"), "open").fingerprint);
  EXPECT_NE(base, named(manifest_of(kHeader + kOpen + "[metric.opens]\nkind = \"counter\"\nprobe = \"open\"\n"),
                        "open")
                      .fingerprint);
}

TEST(ProbeFingerprint, ChangesWithTheTarget) {
  std::string a = named(manifest_of(kHeader + kWrite), "write").fingerprint;
  std::string b = named(manifest_of("[policy]\nname = \"diff\"\n[target.lib]\nlibrary = \"libssl.so.1.1\"\n" + kWrite),
                        "write")
                      .fingerprint;
  EXPECT_NE(a, b);
}

TEST(ProbeDiff, KeepsUnchangedProbesUnderTheirRunningIds) {
  Manifest v1 = manifest_of(kHeader + kOpen + kExec);
  Manifest v2 = manifest_of(kHeader + "[probe.exit]\nraw_tracepoint = \"sched_process_exit\"\n" + kExec +
                            "[probe.open]\nkprobe = \"do_sys_openat2\"\n");
  ProbeDiff d = diff_probes(running(v1), v2);
  ASSERT_EQ(d.keep.size(), 3u);
  const ProbeManifest& exec = named(v2, "exec");
  ASSERT_TRUE(d.keep[exec.id].has_value());
  EXPECT_EQ(d.keep[exec.id]->probe, &named(v1, "exec"));
  EXPECT_EQ(d.keep[exec.id]->generation, 1u);
  EXPECT_FALSE(d.keep[named(v2, "open").id]);
  EXPECT_FALSE(d.keep[named(v2, "exit").id]);
  EXPECT_EQ(d.unchanged, std::vector<std::string>{"exec"});
  EXPECT_EQ(d.changed, std::vector<std::string>{"open"});
  EXPECT_EQ(d.added, std::vector<std::string>{"exit"});
  EXPECT_TRUE(d.removed.empty());
  ASSERT_EQ(d.detach.size(), 1u);
  EXPECT_EQ(d.detach[0].probe, &named(v1, "open"));
  EXPECT_EQ(d.summary(), "1 unchanged, 1 changed (open), 1 added (exit), 0 removed");
}

TEST(ProbeDiff, DetachesRemovedProbesAndKeepsWhatRunsInOlderGenerations) {
  Manifest v1 = manifest_of(kHeader + kOpen + kExec);
  Manifest v2 = manifest_of(kHeader + kExec);
  // "exec" runs in generation 1, "open" was reattached by generation 2.
  std::vector<ProbeRef> now = {{2, &named(v1, "open")}, {1, &named(v1, "exec")}};
  ProbeDiff d = diff_probes(now, v2);
  ASSERT_TRUE(d.keep[0].has_value());
  EXPECT_EQ(d.keep[0]->generation, 1u);
  ASSERT_EQ(d.detach.size(), 1u);
  EXPECT_EQ(d.detach[0].generation, 2u);
  EXPECT_EQ(d.removed, std::vector<std::string>{"open"});
}

TEST(ProbeDiff, AProbeWithoutAFingerprintIsNeverKept) {
  Manifest v1 = manifest_of(kHeader + kExec);
  Manifest v2 = v1;
  v2.probes[0].fingerprint.clear();
  EXPECT_FALSE(diff_probes(running(v1), v2).keep[0]);
  EXPECT_TRUE(diff_probes(running(v1), v1).keep[0]);
}

TEST(ProbeDiff, PlannedProbesOfOneTargetAreReplacedTogether) {
  // The placement optimizer may cover one probe's calls with another's sites, so a change to
  // one planned probe of a target replaces all of them; a probe on another target stays.
  const std::string read = "[probe.read]\ntarget = \"lib\"\nuretprobe = \"SSL_read\"\ncapture = [{ name = \"rc\", value = \"ret\" }]\n";
  Manifest v1 = manifest_of(kHeader + kWrite + read + kExec);
  Manifest v2 = manifest_of(kHeader + kWrite + read + "filter = \"ret > 0\"\n" + kExec);
  ASSERT_NE(named(v1, "write").placement, plan::Placement::kOff);
  ProbeDiff d = diff_probes(running(v1), v2);
  EXPECT_FALSE(d.keep[named(v2, "write").id]) << "same fingerprint, but planned with a changed probe";
  EXPECT_FALSE(d.keep[named(v2, "read").id]);
  EXPECT_TRUE(d.keep[named(v2, "exec").id]);
  EXPECT_EQ(d.detach.size(), 2u);
  // Removing a planned probe replans the rest of its target too.
  Manifest v3 = manifest_of(kHeader + kWrite + kExec);
  EXPECT_FALSE(diff_probes(running(v1), v3).keep[named(v3, "write").id]);
}

}  // namespace
}  // namespace probe
