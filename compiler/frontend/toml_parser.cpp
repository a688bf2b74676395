#include "compiler/frontend/toml_parser.h"

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include <algorithm>
#include <cstring>

namespace probe {
namespace {

SourceRange to_range(const SourceFilePtr& file, const toml::source_region& r) {
  SourceRange out;
  out.file = file;
  out.line = r.begin.line;
  out.col = r.begin.column;
  out.end_line = r.end.line;
  out.end_col = r.end.column;
  return out;
}

Node convert(const SourceFilePtr& file, const toml::node& n) {
  Node out;
  out.range = to_range(file, n.source());
  if (const auto* t = n.as_table()) {
    out.kind = Node::Kind::kTable;
    for (const auto& [key, value] : *t) {
      Node child = convert(file, value);
      child.key_range = to_range(file, key.source());
      out.table.push_back({std::string(key.str()), std::move(child)});
    }
    // toml++ keeps keys sorted; diagnostics and field order follow the source instead.
    std::stable_sort(out.table.begin(), out.table.end(), [](const auto& a, const auto& b) {
      const SourceRange& ra = a.second.key_range.line ? a.second.key_range : a.second.range;
      const SourceRange& rb = b.second.key_range.line ? b.second.key_range : b.second.range;
      return std::pair(ra.line, ra.col) < std::pair(rb.line, rb.col);
    });
  } else if (const auto* a = n.as_array()) {
    out.kind = Node::Kind::kArray;
    for (const auto& v : *a) out.array.push_back(convert(file, v));
  } else if (const auto* s = n.as_string()) {
    out.kind = Node::Kind::kString;
    out.str = s->get();
  } else if (const auto* i = n.as_integer()) {
    out.kind = Node::Kind::kInteger;
    out.integer = i->get();
  } else if (const auto* f = n.as_floating_point()) {
    out.kind = Node::Kind::kFloat;
    out.number = f->get();
  } else if (const auto* b = n.as_boolean()) {
    out.kind = Node::Kind::kBool;
    out.boolean = b->get();
  } else {
    // Dates and times have no meaning in a policy; keep them as strings so sema reports them.
    out.kind = Node::Kind::kString;
  }
  return out;
}

}  // namespace

// TOML allows non-ASCII only inside strings and comments. toml++ 3.3 (Debian 12) hits
// undefined behaviour on some non-ASCII characters elsewhere (upstream issues #190, #295), so
// such input is reported here and never reaches it.
bool non_ascii_outside_strings(const SourceFilePtr& file, Diagnostics& diags) {
  const std::string& t = file->text();
  uint32_t line = 1, col = 1;
  enum { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } state = kCode;
  for (size_t i = 0; i < t.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    auto at = [&](const char* s) { return t.compare(i, std::strlen(s), s) == 0; };
    switch (state) {
      case kCode:
        if (c >= 0x80) {
          SourceRange r{file, line, col, line, col + 1};
          diags.error(r, "invalid character outside a string or comment",
                      "TOML keys and values are ASCII; put text in \"quotes\"");
          return true;
        }
        if (c == '#') state = kComment;
        else if (at("\"\"\"")) { state = kMultiBasic; i += 2; col += 2; }
        else if (at("'''")) { state = kMultiLiteral; i += 2; col += 2; }
        else if (c == '"') state = kBasic;
        else if (c == '\'') state = kLiteral;
        break;
      case kComment: if (c == '\n') state = kCode; break;
      case kBasic:
        if (c == '\\') { ++i; ++col; }
        else if (c == '"' || c == '\n') state = kCode;
        break;
      case kLiteral: if (c == '\'' || c == '\n') state = kCode; break;
      case kMultiBasic:
        if (c == '\\') { ++i; ++col; }
        else if (at("\"\"\"")) { state = kCode; i += 2; col += 2; }
        break;
      case kMultiLiteral:
        if (at("'''")) { state = kCode; i += 2; col += 2; }
        break;
    }
    if (i < t.size() && t[i] == '\n') { ++line; col = 1; }
    else ++col;
  }
  return false;
}

std::optional<Node> parse_toml(const SourceFilePtr& file, Diagnostics& diags) {
  if (non_ascii_outside_strings(file, diags)) return std::nullopt;
  toml::parse_result result = toml::parse(file->text(), file->path());
  if (!result) {
    const auto& err = result.error();
    SourceRange r = to_range(file, err.source());
    r.end_line = r.line;
    r.end_col = r.col + 1;
    // toml++ says "Error while parsing key-value pair: ..."; keep the part that helps.
    std::string msg(err.description());
    const std::string prefix = "Error while parsing ";
    if (msg.rfind(prefix, 0) == 0) msg = "invalid " + msg.substr(prefix.size());
    diags.error(r, msg);
    return std::nullopt;
  }
  Node root = convert(file, result.table());
  root.range.file = file;
  root.range.line = 1;
  root.range.col = 1;
  return root;
}

}  // namespace probe
