// The front end reads the shipped API-discovery policy into the plan the code generator uses.
#include <gtest/gtest.h>

#include "compiler/sema/sema.h"
#include "tests/support/env.h"

namespace probe {
namespace {

// Sema without looking at this machine (libraries, symbols, kernel): the text alone.
SemaOptions offline_options() {
  SemaOptions opts;
  opts.check_host = false;
  return opts;
}

plan::Plan load(const std::string& rel) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_file(test::source_dir() + "/" + rel, opts, diags);
  EXPECT_TRUE(plan) << diags.format();
  EXPECT_EQ(diags.all().size(), 0u) << diags.format();
  return plan ? *plan : plan::Plan{};
}

const plan::Probe& probe_named(const plan::Plan& p, const std::string& name) {
  for (const auto& pr : p.probes)
    if (pr.name == name) return pr;
  ADD_FAILURE() << "no probe " << name;
  static plan::Probe none;
  return none;
}

TEST(PolicyFrontend, ReadsApiDiscoveryPolicy) {
  plan::Plan p = load("policies/api-discovery.toml");
  EXPECT_EQ(p.name, "api-discovery");
  // Targets come from the tls/* packs; each is optional in this policy.
  std::vector<std::string> targets;
  for (const auto& t : p.targets) {
    targets.push_back(t.name);
    EXPECT_TRUE(t.optional) << t.name;
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"openssl", "static_openssl", "gnutls", "nspr", "nss_ssl"}));
  EXPECT_EQ(p.targets[0].spec, "libssl.so.3");
  EXPECT_EQ(p.targets[0].range.file->path(), "<stdlib>/packs/tls/openssl.toml");

  // Writes are entry probes (one hit a call; the stream recognises a retried write),
  // filtered by the stream.
  const auto& w = probe_named(p, "ssl_write");
  EXPECT_EQ(w.kind, plan::ProbeKind::kUprobe);
  EXPECT_EQ(w.symbol, "SSL_write");
  EXPECT_EQ(w.matcher, "http");
  EXPECT_EQ(w.match_capture, "data");
  EXPECT_EQ(w.handler, "on_tls_write");
  ASSERT_TRUE(w.stream.has_value());
  EXPECT_EQ(w.stream->role, plan::Stream::Role::kSend);
  ASSERT_TRUE(w.stream->conn.has_value());
  EXPECT_EQ(w.stream->conn->source, plan::ValueRef::Source::kArg);
  EXPECT_EQ(w.stream->conn->index, 0);
  EXPECT_FALSE(w.paired());
  ASSERT_TRUE(w.signature.has_value());
  EXPECT_EQ(w.signature->params[2].type, plan::FieldType::kI32);
  ASSERT_EQ(w.filters.size(), 1u);
  EXPECT_EQ(w.filters[0].op, plan::FilterOp::kGt);
  EXPECT_EQ(w.filters[0].lhs.source, plan::ValueRef::Source::kArg);
  EXPECT_EQ(w.filters[0].lhs.index, 2);

  const auto& r = probe_named(p, "ssl_read");
  EXPECT_EQ(r.kind, plan::ProbeKind::kUretprobe);
  EXPECT_EQ(r.returns, plan::FieldType::kI32);
  // The method tables SSL_read dispatches through (the dispatched-return placement).
  EXPECT_NE(std::find(r.dispatch_tables.begin(), r.dispatch_tables.end(), "TLS_client_method"), r.dispatch_tables.end());
  EXPECT_EQ(r.stream->role, plan::Stream::Role::kRecv);
  const plan::Capture* data = nullptr;
  const plan::Capture* latency = nullptr;
  for (const auto& c : r.captures) {
    if (c.name == "data") data = &c;
    if (c.name == "latency_ns") latency = &c;
  }
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->type, plan::FieldType::kBytes);
  EXPECT_EQ(data->max, 4096u);  // the pack's {{max}}, set by the policy
  EXPECT_EQ(data->len->source, plan::ValueRef::Source::kRet);
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->value.builtin, plan::Builtin::kStreamLatency);

  const auto& rx = probe_named(p, "ssl_read_ex");
  for (const auto& c : rx.captures)
    if (c.name == "data") {
      EXPECT_EQ(c.len->source, plan::ValueRef::Source::kDerefArg);
      EXPECT_EQ(c.len->index, 3);
    }

  // tls/sockets comes once although three packs include it.
  int binds = 0;
  for (const auto& pr : p.probes)
    if (pr.stream && pr.stream->role == plan::Stream::Role::kBind) ++binds;
  EXPECT_EQ(binds, 4);
  EXPECT_EQ(probe_named(p, "ssl_free").stream->role, plan::Stream::Role::kClose);
  EXPECT_EQ(probe_named(p, "gnutls_handshake").stream->role, plan::Stream::Role::kEnter);

  EXPECT_NE(p.handlers.script.find("policies/api-discovery.lua"), std::string::npos);
  std::vector<std::string> sinks;
  for (const auto& s : p.sinks) sinks.push_back(s.type);
  EXPECT_EQ(sinks, (std::vector<std::string>{"jsonl", "orchestrator", "prometheus"}));
  EXPECT_EQ(p.sinks[1].settings.at("endpoint"), "${METRIST_ORCHESTRATOR_ENDPOINT:-127.0.0.1:51712}");
}

TEST(PolicyFrontend, PackParametersTakeTheirTypeAndDefaults) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_text(
      "p.toml", "[policy]\nname = \"x\"\ninclude = [{ pack = \"tls/openssl\", params = { max = 512, optional = true } }]\n",
      opts, diags);
  ASSERT_TRUE(plan) << diags.format();
  EXPECT_TRUE(plan->targets[0].optional);  // "{{optional}}" took the parameter's boolean type
  for (const auto& pr : plan->probes)
    for (const auto& c : pr.captures) {
      if (c.name == "data") EXPECT_EQ(c.max, 512u);
      if (c.name == "sni") EXPECT_EQ(c.max, 256u);  // not a parameter
    }
  auto defaults = analyze_policy_text("q.toml", "[policy]\nname = \"y\"\ninclude = [\"tls/openssl\"]\n", opts, diags);
  ASSERT_TRUE(defaults) << diags.format();
  EXPECT_FALSE(defaults->targets[0].optional);
}

TEST(PolicyFrontend, PackPrefixRenamesItsDefinitionsAndTheReferencesBetweenThem) {
  test::TempDir dir;
  test::write_text(dir.file("counted.toml"), R"([pack]
name = "counted"
params = { library = "libssl.so.3" }
include = ["tls/sockets"]
[target.lib]
library = "{{library}}"
[probe.write]
target = "lib"
uprobe = "SSL_write"
[metric.writes]
kind = "counter"
probe = "write"
)");
  test::write_text(dir.file("p.toml"), R"([policy]
name = "twice"
include = [
  "./counted.toml",
  { pack = "./counted.toml", prefix = "node_", params = { library = "/usr/bin/node" } },
]
)");
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_file(dir.file("p.toml"), opts, diags);
  ASSERT_TRUE(plan) << diags.format();
  std::vector<std::string> targets;
  for (const auto& t : plan->targets) targets.push_back(t.name + "=" + t.spec);
  EXPECT_EQ(targets, (std::vector<std::string>{"lib=libssl.so.3", "node_lib=/usr/bin/node"}));
  EXPECT_EQ(probe_named(*plan, "write").target, "lib");
  EXPECT_EQ(probe_named(*plan, "node_write").target, "node_lib");
  ASSERT_EQ(plan->metrics.size(), 2u);
  EXPECT_EQ(plan->metrics[1].name, "node_writes");
  EXPECT_EQ(plan->metrics[1].probe, "node_write");
  // tls/sockets, which both include with the same parameters, comes once and unprefixed.
  size_t binds = 0;
  for (const auto& p : plan->probes) binds += p.name.rfind("tls_bind_", 0) == 0;
  EXPECT_EQ(binds, 4u);
}

TEST(PolicyFrontend, LuaPolicyBuildsTheSameStructure) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_text("p.lua", R"(
    local probes = {}
    for i, fn in ipairs({ "tcp_sendmsg", "tcp_recvmsg" }) do
      probes[fn] = { kretprobe = fn, capture = { { name = "rc", value = "ret", type = "i32" } },
                     filter = "rc > " .. i }
    end
    return { policy = { name = "lua" }, probe = probes }
  )", opts, diags);
  ASSERT_TRUE(plan) << diags.format();
  EXPECT_EQ(plan->name, "lua");
  ASSERT_EQ(plan->probes.size(), 2u);
  // Lua iterates in hash order; probes follow the source instead (both at the same line here,
  // so by name).
  EXPECT_EQ(plan->probes[0].name, "tcp_recvmsg");
  EXPECT_EQ(plan->probes[1].kind, plan::ProbeKind::kKretprobe);
  EXPECT_EQ(plan->probes[1].captures[0].type, plan::FieldType::kI32);
  EXPECT_EQ(plan->probes[1].filters[0].int_value, 1);
}

TEST(PolicyFrontend, ReportsEveryErrorWithLocationAndHint) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_text("p.toml", R"([policy]
name = "x"
[target.lib]
library = "libssl.so.3"
[probe.w]
target = "lib"
uprobe = "SSL_write"
capture = [{ name = "buf", value = "arg1", type = "bytse" }]
match = "htttp1"
[probe.r]
target = "lib"
uprobe = "SSL_read"
capture = [{ name = "n", value = "ret" }]
)",
                                  opts, diags);
  EXPECT_FALSE(plan);
  EXPECT_EQ(diags.format(),
            "p.toml:8:51: error: unknown type 'bytse'\n"
            "capture = [{ name = \"buf\", value = \"arg1\", type = \"bytse\" }]\n"
            "                                                  ^~~~~~~\n"
            "hint: did you mean 'bytes'?\n"
            "p.toml:9:9: error: unknown protocol 'htttp1'\n"
            "match = \"htttp1\"\n"
            "        ^~~~~~~~\n"
            "hint: did you mean 'http1'?\n"
            "p.toml:13:34: error: 'ret' is only known when the function returns, but probe 'r' "
            "is a uprobe\n"
            "capture = [{ name = \"n\", value = \"ret\" }]\n"
            "                                 ^~~~~\n"
            "hint: make it a uretprobe (arguments are saved at entry and paired automatically)\n");
}

TEST(PolicyFrontend, UnknownKeysAreTyposWithSuggestions) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  analyze_policy_text("p.toml", "[policy]\nname = \"x\"\ndescriptoin = \"y\"\n[probe.a]\nkprobe = \"f\"\n",
                      opts, diags);
  ASSERT_EQ(diags.error_count(), 1u) << diags.format();
  EXPECT_EQ(diags.all()[0].message, "unknown key 'descriptoin' in [policy]");
  EXPECT_EQ(diags.all()[0].hint, "did you mean 'description'?");
  EXPECT_EQ(diags.all()[0].range.line, 3u);
  EXPECT_EQ(diags.all()[0].range.col, 1u);
}

// The benchmark's policies are not run by the suite, so a change to the policy language must
// not leave them unreadable.
TEST(PolicyFrontend, ReadsTheBenchmarkPolicies) {
  for (const char* name : {"ssl-count-auto.toml", "ssl-count-off.toml", "ssl-floor.toml"}) {
    SCOPED_TRACE(name);
    plan::Plan p = load(std::string("bench/e2e/policies/") + name);
    EXPECT_FALSE(p.probes.empty());
  }
}

// The trap-floor mode of bench/e2e/https_overhead.py claims to count at exactly the sites the
// API-discovery policy takes on every request: the same library, functions, probe kinds and
// placement inputs as the OpenSSL pack's write and read probes.
TEST(PolicyFrontend, TrapFloorPolicyProbesThePacksPerRequestSites) {
  plan::Plan floor = load("bench/e2e/policies/ssl-floor.toml");
  plan::Plan api = load("policies/api-discovery.toml");
  ASSERT_EQ(floor.targets.size(), 1u);
  EXPECT_EQ(floor.targets[0].spec, api.targets[0].spec);
  const std::pair<const char*, const char*> same[] = {{"write_entry", "ssl_write"},
                                                      {"read_return", "ssl_read"}};
  for (const auto& [floor_name, pack_name] : same) {
    SCOPED_TRACE(floor_name);
    const auto& f = probe_named(floor, floor_name);
    const auto& a = probe_named(api, pack_name);
    EXPECT_EQ(f.kind, a.kind);
    EXPECT_EQ(f.symbol, a.symbol);
    EXPECT_EQ(f.placement, a.placement);
    EXPECT_EQ(f.dispatch_tables, a.dispatch_tables);
    EXPECT_FALSE(f.emit_event);
  }
}

TEST(PolicyFrontend, DispatchTablesBelongToReturnProbesOnly) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  auto plan = analyze_policy_text("p.toml", R"([policy]
name = "x"
[target.lib]
library = "libssl.so.3"
[probe.w]
target = "lib"
uprobe = "SSL_write"
dispatch_tables = ["TLS_method"]
[probe.r]
target = "lib"
uretprobe = "SSL_read"
dispatch_tables = ["TLS_method", "TLS_client_method"]
capture = [{ name = "n", value = "ret" }]
)",
                                  opts, diags);
  EXPECT_FALSE(plan);
  ASSERT_EQ(diags.error_count(), 1u) << diags.format();
  EXPECT_EQ(diags.all()[0].message, "probe 'w': dispatch_tables applies to uretprobe only");
  EXPECT_EQ(diags.all()[0].range.line, 8u);
  EXPECT_NE(diags.all()[0].hint.find("entry probe"), std::string::npos);
}

TEST(PolicyFrontend, SyntaxErrorPointsAtTheProblem) {
  Diagnostics diags;
  SemaOptions opts = offline_options();
  analyze_policy_text("p.toml", "[policy]\nname = \"x\nuprobe = 1\n", opts, diags);
  ASSERT_TRUE(diags.has_errors());
  EXPECT_EQ(diags.all()[0].range.line, 2u);
}

}  // namespace
}  // namespace probe
