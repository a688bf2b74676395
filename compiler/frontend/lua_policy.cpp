#include "compiler/frontend/lua_policy.h"

#include <fmt/format.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace probe {
namespace {

constexpr size_t kMemoryLimit = 64u << 20;
constexpr long kInstructionLimit = 50'000'000;
constexpr int kHookEvery = 10000;

struct Budget {
  size_t memory = 0;
  long instructions = 0;
};

void* limited_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* b = static_cast<Budget*>(ud);
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    b->memory -= old;
    std::free(ptr);
    return nullptr;
  }
  if (nsize > old && b->memory + (nsize - old) > kMemoryLimit) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p) b->memory = b->memory - old + nsize;
  return p;
}

void budget_hook(lua_State* L, lua_Debug*) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  auto* b = static_cast<Budget*>(ud);
  b->instructions += kHookEvery;
  if (b->instructions > kInstructionLimit)
    luaL_error(L, "the policy script ran for more than %d instructions", static_cast<int>(kInstructionLimit));
}

// Tokens of the Lua source with positions, enough to locate keys and string literals.
struct LuaToken {
  enum Kind { kIdent, kString, kPunct } kind;
  std::string text;  // identifier, unquoted string, or punctuation
  uint32_t line, col, length;
};

std::vector<LuaToken> lex(const std::string& s) {
  std::vector<LuaToken> out;
  uint32_t line = 1, col = 1;
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  auto long_bracket = [&](size_t at) -> int {  // level of [==[ at `at`, or -1
    if (s[at] != '[') return -1;
    size_t j = at + 1;
    int level = 0;
    while (j < s.size() && s[j] == '=') ++level, ++j;
    return j < s.size() && s[j] == '[' ? level : -1;
  };
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      advance(1);
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      advance(2);
      int level = i < s.size() ? long_bracket(i) : -1;
      if (level >= 0) {
        std::string close = "]" + std::string(level, '=') + "]";
        size_t end = s.find(close, i);
        advance((end == std::string::npos ? s.size() : end + close.size()) - i);
      } else {
        while (i < s.size() && s[i] != '\n') advance(1);
      }
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = i;
      uint32_t l = line, cl = col;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) advance(1);
      out.push_back({LuaToken::kIdent, s.substr(b, i - b), l, cl, static_cast<uint32_t>(i - b)});
    } else if (c == '"' || c == '\'') {
      uint32_t l = line, cl = col;
      size_t b = i;
      std::string text;
      advance(1);
      while (i < s.size() && s[i] != c && s[i] != '\n') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          char e = s[i + 1];
          text.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          advance(2);
          continue;
        }
        text.push_back(s[i]);
        advance(1);
      }
      advance(1);
      out.push_back({LuaToken::kString, text, l, cl, static_cast<uint32_t>(i - b)});
    } else if (int level = long_bracket(i); level >= 0) {
      uint32_t l = line, cl = col;
      size_t b = i;
      std::string close = "]" + std::string(level, '=') + "]";
      size_t end = s.find(close, i);
      size_t stop = end == std::string::npos ? s.size() : end + close.size();
      std::string text = s.substr(i + level + 2, (end == std::string::npos ? s.size() : end) - (i + level + 2));
      advance(stop - i);
      out.push_back({LuaToken::kString, text, l, cl, static_cast<uint32_t>(stop - b)});
    } else {
      out.push_back({LuaToken::kPunct, std::string(1, c), line, col, 1});
      advance(1);
    }
  }
  return out;
}

class Converter {
 public:
  Converter(lua_State* L, const SourceFilePtr& file, Diagnostics& diags)
      : L_(L), file_(file), diags_(diags), toks_(lex(file->text())) {}

  // Converts the value on top of the stack; `from` is the token index to search from.
  std::optional<Node> convert(size_t from, int depth) {
    Node n;
    n.range = range_at(from);
    int t = lua_type(L_, -1);
    switch (t) {
      case LUA_TSTRING:
        n.kind = Node::Kind::kString;
        n.str = lua_tostring(L_, -1);
        return n;
      case LUA_TBOOLEAN:
        n.kind = Node::Kind::kBool;
        n.boolean = lua_toboolean(L_, -1) != 0;
        return n;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, -1)) {
          n.kind = Node::Kind::kInteger;
          n.integer = lua_tointeger(L_, -1);
        } else {
          n.kind = Node::Kind::kFloat;
          n.number = lua_tonumber(L_, -1);
        }
        return n;
      case LUA_TTABLE: return convert_table(from, depth);
      default:
        diags_.error(n.range, fmt::format("a policy value cannot be a Lua {}", lua_typename(L_, t)),
                     "policy tables hold strings, numbers, booleans and tables");
        return std::nullopt;
    }
  }

 private:
  SourceRange range_at(size_t tok) const {
    SourceRange r;
    r.file = file_;
    if (tok < toks_.size()) {
      r.line = r.end_line = toks_[tok].line;
      r.col = toks_[tok].col;
      r.end_col = toks_[tok].col + toks_[tok].length;
    } else {
      r.line = r.end_line = 1;
      r.col = 1;
      r.end_col = 2;
    }
    return r;
  }

  // Token index of `key = ...` (or ["key"] = ...) at or after `from`, else anywhere.
  std::optional<size_t> find_key(const std::string& key, size_t from) const {
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = pass == 0 ? from : 0; i + 1 < toks_.size(); ++i) {
        const auto& t = toks_[i];
        bool ident = t.kind == LuaToken::kIdent && t.text == key && toks_[i + 1].text == "=" &&
                     !(i + 2 < toks_.size() && toks_[i + 2].text == "=");
        bool bracket = t.kind == LuaToken::kString && t.text == key && i > 0 && toks_[i - 1].text == "[" &&
                       i + 2 < toks_.size() && toks_[i + 1].text == "]" && toks_[i + 2].text == "=";
        if (ident || bracket) return i;
      }
    }
    return std::nullopt;
  }

  // Token of the value written after a key: a string literal with the same text, or the
  // token right after '=' (a computed value points at its expression).
  size_t value_token(size_t key_tok, const std::string* str_value) const {
    size_t eq = key_tok + 1;
    while (eq < toks_.size() && toks_[eq].text != "=") ++eq;
    size_t v = eq + 1;
    if (str_value)
      for (size_t i = v; i < toks_.size() && i < v + 6; ++i)
        if (toks_[i].kind == LuaToken::kString && toks_[i].text == *str_value) return i;
    return v < toks_.size() ? v : key_tok;
  }

  size_t next_brace(size_t from) const {
    for (size_t i = from; i < toks_.size(); ++i)
      if (toks_[i].text == "{") return i;
    return from;
  }

  std::optional<Node> convert_table(size_t from, int depth) {
    Node n;
    n.range = range_at(from);
    if (depth > 32) {
      diags_.error(n.range, "policy tables nest too deeply");
      return std::nullopt;
    }
    lua_Integer len = static_cast<lua_Integer>(lua_rawlen(L_, -1));
    size_t keys = 0;
    bool string_keys = true;
    lua_pushnil(L_);
    while (lua_next(L_, -2)) {
      ++keys;
      if (lua_type(L_, -2) != LUA_TSTRING) string_keys = false;
      lua_pop(L_, 1);
    }
    if (keys > 0 && static_cast<size_t>(len) == keys) {
      n.kind = Node::Kind::kArray;
      size_t cursor = next_brace(from) + 1;
      for (lua_Integer i = 1; i <= len; ++i) {
        lua_rawgeti(L_, -1, i);
        size_t at = cursor;
        if (lua_type(L_, -1) == LUA_TTABLE) at = next_brace(cursor);
        else if (lua_type(L_, -1) == LUA_TSTRING) {
          std::string s = lua_tostring(L_, -1);
          for (size_t k = cursor; k < toks_.size() && k < cursor + 8; ++k)
            if (toks_[k].kind == LuaToken::kString && toks_[k].text == s) {
              at = k;
              break;
            }
        }
        auto child = convert(at, depth + 1);
        lua_pop(L_, 1);
        if (!child) return std::nullopt;
        n.array.push_back(std::move(*child));
        cursor = at + 1;
      }
      return n;
    }
    n.kind = Node::Kind::kTable;
    if (!string_keys) {
      diags_.error(n.range, "a policy table mixes a list with named keys",
                   "use either { \"a\", \"b\" } or { key = value }, not both");
      return std::nullopt;
    }
    struct Entry {
      std::string key;
      size_t tok;
    };
    std::vector<Entry> entries;
    lua_pushnil(L_);
    while (lua_next(L_, -2)) {
      std::string key = lua_tostring(L_, -2);
      entries.push_back({key, find_key(key, from).value_or(from)});
      lua_pop(L_, 1);
    }
    // Lua iterates in hash order; diagnostics and field order follow the source.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.tok != b.tok ? a.tok < b.tok : a.key < b.key;
    });
    for (const auto& e : entries) {
      lua_getfield(L_, -1, e.key.c_str());
      std::string sval = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "";
      size_t vtok = value_token(e.tok, lua_type(L_, -1) == LUA_TSTRING ? &sval : nullptr);
      auto child = convert(lua_type(L_, -1) == LUA_TTABLE ? e.tok : vtok, depth + 1);
      lua_pop(L_, 1);
      if (!child) return std::nullopt;
      child->key_range = range_at(e.tok);
      n.table.push_back({e.key, std::move(*child)});
    }
    return n;
  }

  lua_State* L_;
  SourceFilePtr file_;
  Diagnostics& diags_;
  std::vector<LuaToken> toks_;
};

// Errors raised inside C functions (ipairs(nil), string.rep(...)) carry no position; name the
// innermost line of the policy script that was running.
int add_position(lua_State* L) {
  std::string msg = lua_isstring(L, 1) ? lua_tostring(L, 1) : "error";
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0 || ar.source[0] != '@') continue;
    std::string where = std::string(ar.source + 1) + ":";
    if (msg.rfind(where, 0) != 0) msg = where + std::to_string(ar.currentline) + ": " + msg;
    break;
  }
  lua_pushstring(L, msg.c_str());
  return 1;
}

// "path:12: message" from Lua → a diagnostic at line 12.
void report_lua_error(const SourceFilePtr& file, const std::string& msg, Diagnostics& diags) {
  SourceRange r;
  std::string text = msg;
  std::string prefix = file->path() + ":";
  if (msg.rfind(prefix, 0) == 0) {
    size_t colon = msg.find(':', prefix.size());
    if (colon != std::string::npos) {
      r.file = file;
      r.line = r.end_line = static_cast<uint32_t>(std::atoi(msg.substr(prefix.size(), colon - prefix.size()).c_str()));
      std::string_view src = file->line(r.line);
      size_t indent = src.find_first_not_of(" \t");
      r.col = static_cast<uint32_t>(indent == std::string_view::npos ? 0 : indent) + 1;
      r.end_col = static_cast<uint32_t>(src.size()) + 1;
      text = std::string(msg.substr(colon + 1));
      while (!text.empty() && text[0] == ' ') text.erase(0, 1);
    }
  }
  if (!r.valid()) {
    r.file = file;
    r.line = r.end_line = 1;
    r.col = 1;
    r.end_col = 2;
  }
  diags.error(r, text);
}

}  // namespace

std::optional<Node> parse_lua_policy(const SourceFilePtr& file, Diagnostics& diags) {
  Budget budget;
  lua_State* L = lua_newstate(limited_alloc, &budget);
  if (!L) {
    diags.error({}, "cannot create a Lua state for the policy");
    return std::nullopt;
  }
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);
  for (const char* banned : {"dofile", "loadfile", "load", "require", "collectgarbage"}) {
    lua_pushnil(L);
    lua_setglobal(L, banned);
  }
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, kHookEvery);
  std::optional<Node> result;
  std::string chunk = "@" + file->path();
  const std::string& src = file->text();
  lua_pushcfunction(L, add_position);
  if (luaL_loadbufferx(L, src.data(), src.size(), chunk.c_str(), "t") != LUA_OK ||
      lua_pcall(L, 0, 1, 1) != LUA_OK) {
    report_lua_error(file, lua_isstring(L, -1) ? lua_tostring(L, -1) : "error", diags);
  } else if (!lua_istable(L, -1)) {
    SourceRange r;
    r.file = file;
    r.line = r.end_line = std::max<uint32_t>(1, file->line_count());
    r.col = 1;
    r.end_col = static_cast<uint32_t>(file->line(r.line).size()) + 1;
    diags.error(r, fmt::format("a Lua policy must return a table, not a {}", luaL_typename(L, -1)),
                "end the file with: return { policy = { name = \"...\" }, probe = { ... } }");
  } else {
    Converter conv(L, file, diags);
    result = conv.convert(0, 0);
    if (result) {
      result->range.line = result->range.end_line = 1;
      result->range.col = 1;
    }
  }
  lua_close(L);
  return result;
}

}  // namespace probe
