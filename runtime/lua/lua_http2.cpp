#include "runtime/lua/lua_http2.h"

#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>

#include <cctype>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "runtime/protocols/http2/frames.h"
#include "runtime/protocols/http2/stream_decoder.h"

namespace probe {
namespace {

constexpr const char* kDecoderMeta = "probekit.http2.decoder";

// The userdata. The last result lives here rather than on the C stack because pushing it into
// Lua can raise a memory error, which longjmps past C++ destructors.
struct LuaDecoder {
  http2::Http2StreamDecoder decoder;
  std::vector<http2::Http2Block> blocks;
  std::string error;
  bool out_of_memory = false;  // a decode stopped half-way: treat as desynchronised
};

// RFC 9113 8.2.1 requires lowercase names; a peer that breaks this still gets a usable map.
void lowercase_names(std::vector<http2::Http2Block>& blocks) {
  for (auto& b : blocks)
    for (auto& h : b.headers)
      for (char& c : h.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

LuaDecoder* check_decoder(lua_State* L) {
  return static_cast<LuaDecoder*>(luaL_checkudata(L, 1, kDecoderMeta));
}

std::span<const uint8_t> check_bytes(lua_State* L, int index) {
  size_t n = 0;
  const char* s = luaL_checklstring(L, index, &n);
  return {reinterpret_cast<const uint8_t*>(s), n};
}

void push_string(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

// headers: lowercase name → value; repeated names are joined with ", " ("; " for cookie,
// RFC 9113 8.2.3), so the table reads like an HTTP/1 header map.
void push_header_map(lua_State* L, const http2::HeaderList& headers) {
  lua_createtable(L, 0, static_cast<int>(headers.size()));
  for (const auto& h : headers) {
    push_string(L, h.name);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TNIL) {
      lua_pop(L, 1);
      push_string(L, h.value);
    } else {
      lua_pushstring(L, h.name == "cookie" ? "; " : ", ");
      push_string(L, h.value);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

// list: { {name, value}, ... } in wire order, duplicates kept.
void push_header_list(lua_State* L, const http2::HeaderList& headers) {
  lua_createtable(L, static_cast<int>(headers.size()), 0);
  lua_Integer i = 0;
  for (const auto& h : headers) {
    lua_createtable(L, 2, 0);
    push_string(L, h.name);
    lua_rawseti(L, -2, 1);
    push_string(L, h.value);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, ++i);
  }
}

void push_block(lua_State* L, const http2::Http2Block& b) {
  lua_createtable(L, 0, 8);
  auto name = http2::block_type_name(b.type);
  lua_pushlstring(L, name.data(), name.size());
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, b.stream_id);
  lua_setfield(L, -2, "stream");
  lua_pushboolean(L, b.end_stream);
  lua_setfield(L, -2, "end_stream");
  lua_pushboolean(L, b.truncated);
  lua_setfield(L, -2, "truncated");
  if (b.type == http2::BlockType::kPushPromise) {
    lua_pushinteger(L, b.promised_stream_id);
    lua_setfield(L, -2, "promised_stream");
  }
  if (b.type == http2::BlockType::kRstStream || b.type == http2::BlockType::kGoaway) {
    lua_pushinteger(L, b.error_code);
    lua_setfield(L, -2, "error_code");
  }
  push_header_map(L, b.headers);
  lua_setfield(L, -2, "headers");
  push_header_list(L, b.headers);
  lua_setfield(L, -2, "list");
}

// dec:decode(data) → array of blocks, or nil, message.
int l_decode(lua_State* L) {
  LuaDecoder* d = check_decoder(L);
  std::span<const uint8_t> data = check_bytes(L, 2);
  d->blocks.clear();
  d->error.clear();
  try {
    auto result = d->out_of_memory
                      ? Result<std::vector<http2::Http2Block>>(make_error("desynchronised"))
                      : d->decoder.decode(data);
    if (result) {
      d->blocks = std::move(*result);
      lowercase_names(d->blocks);
    } else {
      d->error = result.error().message;
    }
  } catch (const std::bad_alloc&) {
    d->out_of_memory = true;
    d->error = "out of memory";
  }
  if (!d->error.empty()) {
    lua_pushnil(L);
    push_string(L, d->error);
    return 2;
  }
  lua_createtable(L, static_cast<int>(d->blocks.size()), 0);
  lua_Integer i = 0;
  for (const auto& b : d->blocks) {
    push_block(L, b);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

int l_reset(lua_State* L) {
  LuaDecoder* d = check_decoder(L);
  d->decoder.reset();
  d->out_of_memory = false;
  return 0;
}

int l_desynchronised(lua_State* L) {
  LuaDecoder* d = check_decoder(L);
  lua_pushboolean(L, d->out_of_memory || d->decoder.desynchronised());
  return 1;
}

int l_gc(lua_State* L) {
  check_decoder(L)->~LuaDecoder();
  return 0;
}

int l_decoder(lua_State* L) {
  void* mem = lua_newuserdatauv(L, sizeof(LuaDecoder), 0);
  try {
    new (mem) LuaDecoder();
  } catch (const std::bad_alloc&) {
    lua_pushnil(L);
    lua_pushstring(L, "out of memory");
    return 2;
  }
  luaL_setmetatable(L, kDecoderMeta);
  return 1;
}

int l_is_preface(lua_State* L) {
  lua_pushboolean(L, http2::starts_with_preface(check_bytes(L, 1)));
  return 1;
}

}  // namespace

int open_lua_http2(lua_State* L) {
  if (luaL_newmetatable(L, kDecoderMeta)) {
    const luaL_Reg methods[] = {{"decode", l_decode},
                                {"reset", l_reset},
                                {"desynchronised", l_desynchronised},
                                {nullptr, nullptr}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  const luaL_Reg functions[] = {
      {"decoder", l_decoder}, {"is_preface", l_is_preface}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace probe
