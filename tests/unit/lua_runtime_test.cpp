// Handlers run sandboxed: no way out to the system, a runaway loop is cut off and counted,
// errors are counted and never fatal, and emit() reaches the sinks.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/events/pipeline.h"
#include "runtime/lua/lua_runtime.h"
#include "common/strings.h"
#include "runtime/metrics/registry.h"
#include "tests/support/env.h"
#include "tests/support/process.h"

namespace probe {
namespace {

struct Fixture {
  test::TempDir dir;
  Manifest manifest;
  std::vector<std::pair<std::string, nlohmann::json>> emitted;
  std::vector<uint8_t> rec;

  Fixture() {
    manifest.probe_count = 1;
    ProbeManifest p;
    p.name = "w";
    p.handler = "on_w";
    p.fixed_size = 40;
    p.fields = {{"n", plan::FieldType::kI64, 32, 8, -1, 0}, {"data", plan::FieldType::kBytes, 0, 0, 0, 64}};
    manifest.probes.push_back(p);
    rec.assign(40, 0);
    pk_event_header h{0, 0, 7, 8, 123, 0};
    int64_t n = 5;
    std::memcpy(rec.data(), &h, sizeof h);
    std::memcpy(rec.data() + 32, &n, 8);
    std::string s = "GET /a HTTP/1.1";
    pk_var v{static_cast<uint32_t>(s.size()), static_cast<uint32_t>(s.size())};
    rec.insert(rec.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
    rec.insert(rec.end(), s.begin(), s.end());
    rec.resize((rec.size() + 7) / 8 * 8);
    uint32_t size = static_cast<uint32_t>(rec.size());
    std::memcpy(rec.data() + 4, &size, 4);
  }

  Result<std::unique_ptr<LuaRuntime>> make(const std::string& code, LuaLimits limits = {}) {
    std::string path = dir.file("h.lua");
    test::write_text(path, code);
    return LuaRuntime::create(path, manifest, [this](const std::string& s, const nlohmann::json& r) {
      emitted.emplace_back(s, r);
      return true;
    }, limits);
  }
  EventView view() { return EventView(manifest.probes[0], rec.data(), rec.size()); }
};

TEST(LuaRuntime, HandlerSeesEventFieldsAndEmits) {
  Fixture f;
  auto rt = f.make(R"(
    local http = require("probekit.http")
    local seen = 0
    function on_w(ev)
      seen = seen + 1
      local req = http.parse_request(ev.data .. "\r\nHost: h\r\n\r\n")
      emit("out", {pid = ev.pid, tid = ev.tid, ts = ev.ts, n = ev.n, method = req.method,
                   path = req.target, host = req.headers.host, seen = seen, probe = ev.probe})
    end)");
  ASSERT_TRUE(rt) << rt.error().message;
  (*rt)->dispatch(f.view());
  (*rt)->dispatch(f.view());
  ASSERT_EQ(f.emitted.size(), 2u);
  EXPECT_EQ(f.emitted[0].first, "out");
  const auto& r = f.emitted[1].second;
  EXPECT_EQ(r["pid"], 7);
  EXPECT_EQ(r["tid"], 8);
  EXPECT_EQ(r["ts"], 123);
  EXPECT_EQ(r["n"], 5);
  EXPECT_EQ(r["method"], "GET");
  EXPECT_EQ(r["path"], "/a");
  EXPECT_EQ(r["host"], "h");
  EXPECT_EQ(r["seen"], 2);  // state survives across events
  EXPECT_EQ(r["probe"], "w");
  EXPECT_EQ((*rt)->counters().calls, 2u);
}

// probekit.redact: credential-like headers and query parameters lose their values; the rest,
// and the shape of the target, stay as they were.
TEST(LuaRuntime, RedactHidesCredentialsInHeadersAndQueries) {
  Fixture f;
  auto rt = f.make(R"(
    local redact = require("probekit.redact")
    function on_w(ev)
      local h = redact.headers({ authorization = "Bearer x", cookie = "a=b", ["set-cookie"] = "s=1",
                                 ["x-api-key"] = "k", ["x-goog-api-key"] = "g", ["x-auth-token"] = "t",
                                 accept = "*/*", host = "api.test", [":path"] = "/p?token=t&x=1" })
      emit("out", { h = h,
                    t1 = redact.target("/v1/items?id=42&api_key=K&Password=p&sig&author=bob#frag"),
                    t2 = redact.target("/plain/path"),
                    t3 = redact.target("/q?access_key=a&client_secret=s&keyboard=k&key=v") })
    end)");
  ASSERT_TRUE(rt) << rt.error().message;
  (*rt)->dispatch(f.view());
  ASSERT_EQ(f.emitted.size(), 1u);
  const auto& r = f.emitted[0].second;
  for (const char* secret : {"authorization", "cookie", "set-cookie", "x-api-key", "x-goog-api-key", "x-auth-token"})
    EXPECT_EQ(r["h"][secret], "REDACTED") << secret;
  EXPECT_EQ(r["h"]["accept"], "*/*");
  EXPECT_EQ(r["h"]["host"], "api.test");
  EXPECT_EQ(r["h"][":path"], "/p?token=REDACTED&x=1");
  EXPECT_EQ(r["t1"], "/v1/items?id=42&api_key=REDACTED&Password=REDACTED&sig&author=bob#frag");
  EXPECT_EQ(r["t2"], "/plain/path");
  EXPECT_EQ(r["t3"], "/q?access_key=REDACTED&client_secret=REDACTED&keyboard=k&key=REDACTED");
}

// http.request_host: the request line and Host, whatever its case and place in the head, and
// never a "Host:" line of the body.
// A ClientHello as OpenSSL writes it (through Python's ssl module, into a memory BIO), hex.
std::string client_hello_hex(const std::string& server_name) {
  std::string py = fmt::format(
      "import ssl\n"
      "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
      "i, o = ssl.MemoryBIO(), ssl.MemoryBIO()\n"
      "s = ctx.wrap_bio(i, o, server_hostname={})\n"
      "try: s.do_handshake()\n"
      "except ssl.SSLWantReadError: pass\n"
      "print(o.read().hex())\n",
      server_name.empty() ? "None" : "'" + server_name + "'");
  auto [rc, out] = test::run({"python3", "-c", py});
  EXPECT_EQ(rc, 0) << out;
  return std::string(trim(out));
}

TEST(LuaRuntime, ClientHelloSniReadsTheServerNameARealClientSent) {
  std::string named = client_hello_hex("api.hello.test");
  std::string unnamed = client_hello_hex("");
  ASSERT_GT(named.size(), 200u);
  Fixture f;
  auto rt = f.make(fmt::format(R"(
    local tls = require("probekit.tls")
    local function bytes(hex) return (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)) end
    function on_w(ev)
      local hello = bytes("{}")
      emit("out", {{ named = tls.client_hello_sni(hello) or "none",
                    unnamed = tls.client_hello_sni(bytes("{}")) or "none",
                    cut = tls.client_hello_sni(hello:sub(1, 60)) or "none",
                    app_data = tls.client_hello_sni("\x17\x03\x03" .. hello:sub(4)) or "none",
                    not_bytes = tls.client_hello_sni(42) or "none" }})
    end)",
                               named, unnamed));
  ASSERT_TRUE(rt) << rt.error().message;
  (*rt)->dispatch(f.view());
  ASSERT_EQ(f.emitted.size(), 1u);
  const auto& r = f.emitted[0].second;
  EXPECT_EQ(r["named"], "api.hello.test");
  EXPECT_EQ(r["unnamed"], "none");
  EXPECT_EQ(r["cut"], "none");
  EXPECT_EQ(r["app_data"], "none");
  EXPECT_EQ(r["not_bytes"], "none");
}

TEST(LuaRuntime, RequestHostReadsOnlyTheHead) {
  Fixture f;
  auto rt = f.make(R"(
    local http = require("probekit.http")
    function on_w(ev)
      local m1, t1, h1 = http.request_host("GET /a?x=1 HTTP/1.1\r\nhost: api.test:8443 \r\nAccept: */*\r\n\r\n")
      local m2, t2, h2 = http.request_host("POST /b HTTP/1.1\r\nUser-Agent: u\r\nHOST: b.test\r\n\r\nHost: body")
      local m3, t3, h3 = http.request_host("PUT /c HTTP/1.1\r\nContent-Length: 10\r\n\r\nHost: body\r\n")
      local bad = http.request_host("HTTP/1.1 200 OK\r\n\r\n")
      emit("out", { m1 = m1, t1 = t1, h1 = h1, m2 = m2, t2 = t2, h2 = h2, m3 = m3, h3 = h3 or "none",
                    bad = bad or "none" })
    end)");
  ASSERT_TRUE(rt) << rt.error().message;
  (*rt)->dispatch(f.view());
  ASSERT_EQ(f.emitted.size(), 1u);
  const auto& r = f.emitted[0].second;
  EXPECT_EQ(r["m1"], "GET");
  EXPECT_EQ(r["t1"], "/a?x=1");
  EXPECT_EQ(r["h1"], "api.test:8443");
  EXPECT_EQ(r["m2"], "POST");
  EXPECT_EQ(r["h2"], "b.test");
  EXPECT_EQ(r["m3"], "PUT");
  EXPECT_EQ(r["h3"], "none");
  EXPECT_EQ(r["bad"], "none");
}

TEST(LuaRuntime, SandboxRefusesTheOutsideWorld) {
  Fixture f;
  for (const char* code : {"io.open('/etc/passwd')", "os.execute('true')", "os.exit(1)",
                           "debug.getinfo(1)", "dofile('/etc/passwd')", "loadfile('/etc/passwd')",
                           "require('os')", "require('../../etc/passwd')", "package.loadlib('x', 'y')",
                           "load(string.dump(function() end))()"}) {
    auto rt = f.make(std::string("function on_w(ev) ") + code + " end");
    ASSERT_TRUE(rt) << code << ": " << rt.error().message;
    (*rt)->dispatch(f.view());
    EXPECT_EQ((*rt)->counters().errors, 1u) << code << " was allowed";
  }
}

TEST(LuaRuntime, InstructionBudgetStopsARunawayHandler) {
  Fixture f;
  LuaLimits limits;
  limits.instructions_per_call = 100000;
  auto rt = f.make("n = 0\nfunction on_w(ev) n = n + 1; if n == 1 then while true do end end emit('o', {n = n}) end",
                   limits);
  ASSERT_TRUE(rt);
  (*rt)->dispatch(f.view());  // runs away, is cut off
  (*rt)->dispatch(f.view());  // the next call works
  EXPECT_EQ((*rt)->counters().budget_exceeded, 1u);
  EXPECT_EQ((*rt)->counters().errors, 1u);
  ASSERT_EQ(f.emitted.size(), 1u);
  EXPECT_EQ(f.emitted[0].second["n"], 2);
}

TEST(LuaRuntime, MemoryCapHolds) {
  Fixture f;
  LuaLimits limits;
  limits.memory_bytes = 4u << 20;
  auto rt = f.make("t = {}\nfunction on_w(ev) for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end end",
                   limits);
  ASSERT_TRUE(rt);
  (*rt)->dispatch(f.view());
  EXPECT_EQ((*rt)->counters().errors, 1u);
  EXPECT_LE((*rt)->memory_in_use(), limits.memory_bytes);
}

TEST(LuaRuntime, ScriptErrorsAtLoadNameTheFileAndLine) {
  Fixture f;
  auto rt = f.make("local x = 1\nfunction on_w(ev)\n  x = x +\nend\n");
  ASSERT_FALSE(rt);
  EXPECT_NE(rt.error().message.find("h.lua:4:"), std::string::npos) << rt.error().message;
}

}  // namespace
}  // namespace probe

namespace probe {
namespace {

TEST(LuaRuntimeEvents, FieldsAreReadOnlyInsideTheHandler) {
  Fixture f;
  auto rt = f.make(R"(
    kept = nil
    function on_w(ev)
      if kept then
        local ok, err = pcall(function() return kept.pid end)
        emit("out", {stale_ok = ok, err = tostring(err), n = ev.n, missing = ev.nope == nil,
                     data_len = ev.data_len, all = event_table(ev)})
      end
      kept = ev
    end)");
  ASSERT_TRUE(rt) << rt.error().message;
  (*rt)->dispatch(f.view());
  (*rt)->dispatch(f.view());
  ASSERT_EQ(f.emitted.size(), 1u);
  const auto& r = f.emitted[0].second;
  EXPECT_EQ(r["stale_ok"], false);
  EXPECT_NE(r["err"].get<std::string>().find("readable only inside its handler"), std::string::npos);
  EXPECT_EQ(r["n"], 5);
  EXPECT_EQ(r["missing"], true);
  EXPECT_EQ(r["data_len"], 15);
  EXPECT_EQ(r["all"]["data"], "GET /a HTTP/1.1");
  EXPECT_EQ(r["all"]["pid"], 7);
  EXPECT_EQ(r["all"]["probe"], "w");
}

TEST(LuaRuntimeMetrics, HandlersUpdateRegistryMetricsThatSurviveAReload) {
  Fixture f;
  Registry registry;
  LuaRuntime::Options o;
  o.registry = &registry;
  std::string script = R"(
    local calls = metrics.counter("calls_total", "calls")
    local lat = metrics.histogram("lat_ms", "latency", {1, 10, 100})
    local g = metrics.gauge("depth", "queue")
    function on_w(ev)
      calls:inc{probe = ev.probe}
      calls:add(2, {probe = "bulk"})
      lat:observe(ev.n, {})
      g:set(ev.n * 3)
    end)";
  test::write_text(f.dir.file("m.lua"), script);
  auto emit = [](const std::string&, const nlohmann::json&) { return true; };
  {
    auto rt = LuaRuntime::create(f.dir.file("m.lua"), f.manifest, emit, o);
    ASSERT_TRUE(rt) << rt.error().message;
    (*rt)->dispatch(f.view());
    (*rt)->dispatch(f.view());
  }
  // A new runtime for the same script (what SIGHUP does) finds the same metrics.
  auto rt = LuaRuntime::create(f.dir.file("m.lua"), f.manifest, emit, o);
  ASSERT_TRUE(rt);
  (*rt)->dispatch(f.view());
  std::map<std::string, FamilySnapshot> fam;
  for (auto& s : registry.collect()) fam[s.name] = s;
  ASSERT_EQ(fam["calls_total"].series.size(), 2u);
  EXPECT_EQ(fam["calls_total"].series[0].labels, (Labels{{"probe", "bulk"}}));
  EXPECT_EQ(fam["calls_total"].series[0].value, 6);
  EXPECT_EQ(fam["calls_total"].series[1].value, 3);
  EXPECT_EQ(fam["lat_ms"].series[0].count, 3u);
  EXPECT_EQ(fam["lat_ms"].series[0].buckets, (std::vector<uint64_t>{0, 3, 3, 3}));  // n = 5: le 10
  EXPECT_EQ(fam["depth"].kind, MetricKind::kGauge);
  EXPECT_EQ(fam["depth"].series[0].value, 15);
}

TEST(LuaRuntimeMetrics, MisuseIsAHandlerErrorNotACrash) {
  Fixture f;
  Registry registry;
  LuaRuntime::Options o;
  o.registry = &registry;
  test::write_text(f.dir.file("bad.lua"), R"(
    function on_w(ev)
      local c = metrics.counter("c_total", "c")
      if ev.n == 5 then c:add(-1) end
    end)");
  auto rt = LuaRuntime::create(f.dir.file("bad.lua"), f.manifest,
                               [](const std::string&, const nlohmann::json&) { return true; }, o);
  ASSERT_TRUE(rt);
  (*rt)->dispatch(f.view());
  EXPECT_EQ((*rt)->counters().errors, 1u);
}

TEST(LuaRuntimeTimers, EveryRunsOnTheInjectedClock) {
  Fixture f;
  uint64_t now = 1'000'000'000;
  LuaRuntime::Options o;
  o.clock = [&] { return now; };
  test::write_text(f.dir.file("t.lua"), R"(
    ticks = 0
    every("10s", function() ticks = ticks + 1; emit("out", {ticks = ticks}) end)
    every(0.5, function() emit("half", {}) end)
  )");
  auto rt = LuaRuntime::create(f.dir.file("t.lua"), f.manifest,
                               [&](const std::string& s, const nlohmann::json& r) {
                                 f.emitted.emplace_back(s, r);
                                 return true;
                               },
                               o);
  ASSERT_TRUE(rt) << rt.error().message;
  EXPECT_EQ((*rt)->timer_count(), 2u);
  EXPECT_EQ((*rt)->run_timers(), now + 500'000'000);  // nothing due yet
  now += 500'000'000;
  (*rt)->run_timers();
  now += 9'500'000'000;  // t = 10 s: both due; the half-second timer runs once, not 19 times
  uint64_t next = (*rt)->run_timers();
  EXPECT_EQ(next, now + 500'000'000);
  size_t ticks = 0, halves = 0;
  for (const auto& [s, r] : f.emitted) (s == "out" ? ticks : halves)++;
  EXPECT_EQ(ticks, 1u);
  EXPECT_EQ(halves, 2u);
  EXPECT_EQ(parse_interval_ns("250ms"), 250'000'000u);
  EXPECT_EQ(parse_interval_ns("2m"), 120'000'000'000u);
  EXPECT_EQ(parse_interval_ns("fast"), 0u);
}

TEST(Pipeline, DecodesCountsAndDispatchesInjectedRecords) {
  Fixture f;
  PipelineCounters counters(1);
  std::vector<nlohmann::json> plain;
  Pipeline p(f.manifest, counters, [&](const nlohmann::json& r) { plain.push_back(r); });
  p.on_record(f.rec.data(), f.rec.size());
  p.on_record(f.rec.data(), 8);  // truncated
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0]["data"], "GET /a HTTP/1.1");
  EXPECT_EQ(counters.records.load(), 2u);
  EXPECT_EQ(counters.malformed.load(), 1u);
  EXPECT_EQ(counters.decoded_per_probe[0].load(), 1u);
  auto rt = f.make("function on_w(ev) emit('out', {n = ev.n}) end");
  ASSERT_TRUE(rt);
  p.set_handlers(rt->get());
  for (int i = 0; i < 3; ++i) p.on_record(f.rec.data(), f.rec.size());
  EXPECT_EQ(f.emitted.size(), 3u);
  EXPECT_EQ(plain.size(), 1u);
  EXPECT_EQ((*rt)->counters().calls, 3u);
}

}  // namespace
}  // namespace probe
