// require("probekit.http2"): HTTP/2 header decoding for handlers that see TLS plaintext.
//   local http2 = require("probekit.http2")
//   local dec = http2.decoder()              -- one per connection and direction
//   local blocks, err = dec:decode(ev.data)  -- nil, err on malformed data; then dec:reset()
//   for _, b in ipairs(blocks) do  b.stream, b.type, b.end_stream, b.headers[":path"]  end
//   http2.is_preface(s)                      -- s starts with the client connection preface
// See docs/lua-api.md for the full shape of a block.
#pragma once

struct lua_State;

namespace probe {

// Pushes the module table (the loader the runtime's require() calls for "probekit.http2").
int open_lua_http2(lua_State* L);

}  // namespace probe
