#include "compiler/sema/signature.h"

#include <fmt/format.h>

#include <cctype>
#include <map>

#include "common/strings.h"

namespace probe {
namespace {

using plan::FieldType;

struct Token {
  std::string text;
  size_t pos;
};

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      out.push_back({s.substr(b, i - b), b});
    } else if (s.compare(i, 3, "...") == 0) {
      out.push_back({"...", i});
      i += 3;
    } else {
      out.push_back({std::string(1, c), i});
      ++i;
    }
  }
  return out;
}

// Integer types by their C spelling (qualifiers removed, words joined by spaces).
const std::map<std::string, FieldType>& scalar_types() {
  static const std::map<std::string, FieldType> types = {
      {"char", FieldType::kI8}, {"signed char", FieldType::kI8}, {"int8_t", FieldType::kI8},
      {"unsigned char", FieldType::kU8}, {"uint8_t", FieldType::kU8}, {"u8", FieldType::kU8},
      {"__u8", FieldType::kU8},
      {"short", FieldType::kI16}, {"short int", FieldType::kI16}, {"signed short", FieldType::kI16},
      {"int16_t", FieldType::kI16}, {"unsigned short", FieldType::kU16},
      {"unsigned short int", FieldType::kU16}, {"uint16_t", FieldType::kU16},
      {"int", FieldType::kI32}, {"signed", FieldType::kI32}, {"signed int", FieldType::kI32},
      {"int32_t", FieldType::kI32}, {"pid_t", FieldType::kI32}, {"__s32", FieldType::kI32},
      {"unsigned", FieldType::kU32}, {"unsigned int", FieldType::kU32}, {"uint32_t", FieldType::kU32},
      {"u32", FieldType::kU32}, {"__u32", FieldType::kU32}, {"uid_t", FieldType::kU32},
      {"gid_t", FieldType::kU32}, {"mode_t", FieldType::kU32}, {"socklen_t", FieldType::kU32},
      {"long", FieldType::kI64}, {"long int", FieldType::kI64}, {"long long", FieldType::kI64},
      {"long long int", FieldType::kI64}, {"signed long", FieldType::kI64}, {"ssize_t", FieldType::kI64},
      {"int64_t", FieldType::kI64}, {"off_t", FieldType::kI64}, {"loff_t", FieldType::kI64},
      {"time_t", FieldType::kI64}, {"intptr_t", FieldType::kI64}, {"ptrdiff_t", FieldType::kI64},
      {"__s64", FieldType::kI64},
      {"unsigned long", FieldType::kU64}, {"unsigned long int", FieldType::kU64},
      {"unsigned long long", FieldType::kU64}, {"unsigned long long int", FieldType::kU64},
      {"size_t", FieldType::kU64}, {"uint64_t", FieldType::kU64}, {"uintptr_t", FieldType::kU64},
      {"u64", FieldType::kU64}, {"__u64", FieldType::kU64},
      {"bool", FieldType::kBool}, {"_Bool", FieldType::kBool},
  };
  return types;
}

bool is_qualifier(const std::string& w) {
  return w == "const" || w == "volatile" || w == "restrict" || w == "register" || w == "__restrict";
}

struct Parser {
  const std::string& text;
  const SourceRange& range;
  Diagnostics& diags;
  std::vector<Token> toks;
  size_t i = 0;
  bool failed = false;

  SourceRange at(size_t pos, size_t len) const {
    return range.slice(static_cast<uint32_t>(pos + 1), static_cast<uint32_t>(len));
  }
  void fail(size_t pos, size_t len, std::string msg, std::string hint = {}) {
    if (!failed) diags.error(at(pos, len), std::move(msg), std::move(hint));
    failed = true;
  }
  const Token* peek() const { return i < toks.size() ? &toks[i] : nullptr; }

  // A declaration: type words, '*'s, optional name. `allow_void` for return types.
  struct Decl {
    FieldType type = FieldType::kU64;
    bool is_void = false;
    bool is_string = false;
    std::string name;
    size_t pos = 0;
  };

  Decl declaration(bool allow_void, bool want_name) {
    Decl d;
    std::vector<std::string> words;
    size_t start = peek() ? peek()->pos : text.size();
    d.pos = start;
    bool tagged = false;  // struct/union/enum X
    std::string tag_kind;
    while (const Token* t = peek()) {
      if (!std::isalpha(static_cast<unsigned char>(t->text[0])) && t->text[0] != '_') break;
      if (is_qualifier(t->text)) {
        ++i;
        continue;
      }
      if (t->text == "struct" || t->text == "union" || t->text == "enum") {
        tag_kind = t->text;
        tagged = true;
        ++i;
        if (peek()) ++i;  // the tag name
        continue;
      }
      // A trailing identifier after a complete type is the parameter name.
      bool have_type = tagged || !words.empty();
      if (have_type && want_name) {
        std::string joined = join(words, " ");
        bool extends = scalar_types().count(joined + " " + t->text) > 0;
        if (!extends && !(words.size() == 1 && words[0] == "unsigned" && t->text == "char")) break;
      }
      words.push_back(t->text);
      ++i;
    }
    int stars = 0;
    while (peek() && (peek()->text == "*" || is_qualifier(peek()->text))) {
      if (peek()->text == "*") ++stars;
      ++i;
    }
    if (want_name && peek() && (std::isalpha(static_cast<unsigned char>(peek()->text[0])) || peek()->text[0] == '_')) {
      d.name = peek()->text;
      ++i;
    }
    if (peek() && peek()->text == "[") {  // arrays decay to pointers
      while (peek() && peek()->text != "]") ++i;
      if (peek()) ++i;
      ++stars;
    }
    std::string base = join(words, " ");
    size_t end = i > 0 && i - 1 < toks.size() ? toks[i - 1].pos + toks[i - 1].text.size() : start;
    if (words.empty() && !tagged) {
      fail(start, 1, fmt::format("expected a type in signature '{}'", text));
      return d;
    }
    if (stars > 0) {
      d.type = FieldType::kPtr;
      d.is_string = stars == 1 && (base == "char" || base == "signed char" || base == "unsigned char");
      return d;
    }
    if (tagged) {
      if (tag_kind == "enum") {
        d.type = FieldType::kI32;
        return d;
      }
      fail(start, end - start, fmt::format("a {} passed by value cannot be read from registers", tag_kind),
           "probe functions that take it by pointer, or capture the registers it is split into");
      return d;
    }
    if (base == "void") {
      if (!allow_void) fail(start, 4, "a parameter cannot be 'void'");
      d.is_void = true;
      return d;
    }
    if (base == "float" || base == "double" || base == "long double") {
      fail(start, end - start, "floating-point arguments are passed in SSE registers and cannot be captured");
      return d;
    }
    auto it = scalar_types().find(base);
    if (it == scalar_types().end()) {
      std::vector<std::string> names;
      for (const auto& [n, t] : scalar_types()) names.push_back(n);
      std::string hint = did_you_mean(base, names);
      fail(start, end - start, fmt::format("unknown type '{}' in signature", base),
           hint.empty() ? "structs and typedef'd handles are passed by pointer: write 'SSL *s'" : hint);
      return d;
    }
    d.type = it->second;
    return d;
  }
};

}  // namespace

std::optional<plan::Signature> parse_signature(const std::string& text, const SourceRange& range,
                                               Diagnostics& diags) {
  Parser p{text, range, diags, tokenize(text)};
  plan::Signature sig;
  auto ret = p.declaration(/*allow_void=*/true, /*want_name=*/true);
  if (p.failed) return std::nullopt;
  sig.returns_void = ret.is_void;
  sig.returns = ret.is_void ? FieldType::kI64 : ret.type;
  sig.function = ret.name;
  if (sig.function.empty()) {
    p.fail(ret.pos, 1, fmt::format("signature '{}' has no function name", text),
           "write it like a C prototype: int SSL_read(SSL *ssl, void *buf, int num)");
    return std::nullopt;
  }
  if (!p.peek() || p.peek()->text != "(") {
    p.fail(p.peek() ? p.peek()->pos : text.size(), 1, "expected '(' after the function name");
    return std::nullopt;
  }
  ++p.i;
  if (p.peek() && p.peek()->text == "void" && p.i + 1 < p.toks.size() && p.toks[p.i + 1].text == ")") {
    p.i += 2;
  } else if (p.peek() && p.peek()->text == ")") {
    ++p.i;
  } else {
    while (true) {
      if (p.peek() && p.peek()->text == "...") {
        sig.variadic = true;
        ++p.i;
      } else {
        auto d = p.declaration(false, true);
        if (p.failed) return std::nullopt;
        sig.params.push_back({d.name, d.type, d.is_string});
      }
      if (p.peek() && p.peek()->text == ",") {
        ++p.i;
        continue;
      }
      if (p.peek() && p.peek()->text == ")") {
        ++p.i;
        break;
      }
      p.fail(p.peek() ? p.peek()->pos : text.size(), 1, "expected ',' or ')' in the parameter list");
      return std::nullopt;
    }
  }
  if (p.peek() && p.peek()->text != ";") {
    p.fail(p.peek()->pos, 1, fmt::format("unexpected '{}' after the parameter list", p.peek()->text));
    return std::nullopt;
  }
  return sig;
}

std::optional<plan::FieldType> c_scalar_type(const std::string& c_type) {
  std::vector<std::string> words;
  for (const auto& t : tokenize(c_type))
    if (!is_qualifier(t.text)) words.push_back(t.text);
  auto it = scalar_types().find(join(words, " "));
  if (it == scalar_types().end()) return std::nullopt;
  return it->second;
}

int signature_param_index(const plan::Signature& sig, const std::string& name) {
  for (size_t i = 0; i < sig.params.size(); ++i)
    if (!name.empty() && sig.params[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace probe
