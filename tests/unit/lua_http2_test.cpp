// require("probekit.http2") from a handler script: the dynamic table persists between
// decode() calls, blocks have the documented shape, errors desynchronise until reset().
#include <gtest/gtest.h>

#include "runtime/lua/lua_runtime.h"
#include "tests/support/env.h"

namespace probe {
namespace {

struct Http2Script {
  test::TempDir dir;
  Manifest manifest;
  std::vector<nlohmann::json> emitted;

  void run(const std::string& code) {
    std::string path = dir.file("h2.lua");
    test::write_text(path, code);
    auto rt =
        LuaRuntime::create(path, manifest, [this](const std::string&, const nlohmann::json& r) {
          emitted.push_back(r);
          return true;
        });
    ASSERT_TRUE(rt) << rt.error().message;
    (*rt)->call_hook("on_start");
    EXPECT_EQ((*rt)->counters().errors, 0u);
  }
};

// Frames around RFC 7541 C.3's three requests (no Huffman), built in Lua.
constexpr const char* kPrelude = R"(
  local http2 = require("probekit.http2")
  local function frame(flags, stream, payload)
    return string.pack(">I3BBI4", #payload, 1, flags, stream) .. payload
  end
  local preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
  local c31 = "\x82\x86\x84\x41\x0fwww.example.com"
  local c32 = "\x82\x86\x84\xbe\x58\x08no-cache"
  local c33 = "\x82\x87\x85\xbf\x40\x0acustom-key\x0ccustom-value"
)";

TEST(LuaHttp2, DecodesC3AcrossTwoCalls) {
  Http2Script s;
  s.run(std::string(kPrelude) + R"(
  function on_start()
    local dec = http2.decoder()
    local first = assert(dec:decode(preface .. frame(5, 1, c31)))
    local second = assert(dec:decode(frame(4, 3, c32) .. frame(5, 5, c33)))
    local b1, b2, b3 = first[1], second[1], second[2]
    emit("out", {
      counts = {#first, #second},
      b1 = {stream = b1.stream, type = b1.type, end_stream = b1.end_stream,
            truncated = b1.truncated, method = b1.headers[":method"],
            authority = b1.headers[":authority"], list_len = #b1.list},
      b2 = {stream = b2.stream, end_stream = b2.end_stream, authority = b2.headers[":authority"],
            cache_control = b2.headers["cache-control"]},
      b3 = {stream = b3.stream, scheme = b3.headers[":scheme"], path = b3.headers[":path"],
            custom = b3.headers["custom-key"], last = b3.list[5]},
      preface = {http2.is_preface(preface .. "x"), http2.is_preface(c31)},
    })
  end)");
  ASSERT_EQ(s.emitted.size(), 1u);
  const auto& r = s.emitted[0];
  EXPECT_EQ(r["counts"], nlohmann::json({1, 2}));
  EXPECT_EQ(r["b1"], nlohmann::json({{"stream", 1},
                                     {"type", "headers"},
                                     {"end_stream", true},
                                     {"truncated", false},
                                     {"method", "GET"},
                                     {"authority", "www.example.com"},
                                     {"list_len", 4}}));
  EXPECT_EQ(r["b2"], nlohmann::json({{"stream", 3},
                                     {"end_stream", false},
                                     {"authority", "www.example.com"},
                                     {"cache_control", "no-cache"}}));
  EXPECT_EQ(r["b3"], nlohmann::json({{"stream", 5},
                                     {"scheme", "https"},
                                     {"path", "/index.html"},
                                     {"custom", "custom-value"},
                                     {"last", {"custom-key", "custom-value"}}}));
  EXPECT_EQ(r["preface"], nlohmann::json({true, false}));
}

TEST(LuaHttp2, RepeatedHeadersAreJoinedInTheMap) {
  Http2Script s;
  s.run(std::string(kPrelude) + R"(
  function on_start()
    -- cookie (static index 32) twice, then a literal name twice, all without indexing.
    local block = "\x0f\x11\x03a=1\x0f\x11\x03b=2\x00\x05x-dup\x011\x00\x05x-dup\x012"
    local b = http2.decoder():decode(frame(4, 1, block))[1]
    emit("out", {cookie = b.headers.cookie, dup = b.headers["x-dup"], n = #b.list})
  end)");
  ASSERT_EQ(s.emitted.size(), 1u);
  EXPECT_EQ(s.emitted[0], nlohmann::json({{"cookie", "a=1; b=2"}, {"dup", "1, 2"}, {"n", 4}}));
}

TEST(LuaHttp2, ErrorsDesynchroniseUntilReset) {
  Http2Script s;
  s.run(std::string(kPrelude) + R"(
  function on_start()
    local dec = http2.decoder()
    local r1, e1 = dec:decode("GET / HTTP/1.1\r\n\r\n")
    local r2, e2 = dec:decode(frame(5, 1, c31))
    local broken = dec:desynchronised()
    dec:reset()
    local r3 = dec:decode(frame(5, 1, c31))
    emit("out", {r1 = r1 == nil, e1 = e1, r2 = r2 == nil, e2 = e2, broken = broken,
                 path = r3[1].headers[":path"], same = require("probekit.http2") == http2})
  end)");
  ASSERT_EQ(s.emitted.size(), 1u);
  const auto& r = s.emitted[0];
  EXPECT_EQ(r["r1"], true);
  EXPECT_NE(r["e1"].get<std::string>().find("frame length"), std::string::npos) << r["e1"];
  EXPECT_EQ(r["r2"], true);
  EXPECT_EQ(r["e2"], "desynchronised");
  EXPECT_EQ(r["broken"], true);
  EXPECT_EQ(r["path"], "/");
  EXPECT_EQ(r["same"], true);
}

}  // namespace
}  // namespace probe
