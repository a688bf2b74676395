#include "compiler/sema/filter_expr.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "compiler/sema/value_expr.h"

namespace probe {
namespace {

using plan::FilterOp;

struct OpName {
  const char* text;
  FilterOp op;
};
// Longest first so "<=" is not read as "<".
constexpr OpName kOps[] = {{"==", FilterOp::kEq}, {"!=", FilterOp::kNe}, {"<=", FilterOp::kLe},
                           {">=", FilterOp::kGe}, {"<", FilterOp::kLt},  {">", FilterOp::kGt},
                           {"prefix", FilterOp::kPrefix}, {"contains", FilterOp::kContains}};

// Column of byte `i` of the string value: one past the opening quote.
SourceRange at(const SourceRange& range, size_t i, size_t len) {
  return range.slice(static_cast<uint32_t>(i + 1), static_cast<uint32_t>(len));
}

bool parse_string_literal(const std::string& s, size_t* pos, std::string* out, std::string* err) {
  size_t i = *pos + 1;
  while (i < s.size() && s[i] != '"') {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char e = s[++i];
      switch (e) {
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case '0': out->push_back('\0'); break;
        case '\\': out->push_back('\\'); break;
        case '"': out->push_back('"'); break;
        default: *err = fmt::format("unknown escape '\\{}'", e); return false;
      }
      ++i;
      continue;
    }
    out->push_back(c);
    ++i;
  }
  if (i >= s.size()) {
    *err = "unterminated string literal";
    return false;
  }
  *pos = i + 1;
  return true;
}

}  // namespace

std::optional<plan::Filter> parse_filter(const std::string& text, const SourceRange& range,
                                         Diagnostics& diags) {
  plan::Filter f;
  f.text = text;
  f.range = range;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_ws();
  size_t lhs_start = i;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) ||
                             text[i] == '_' || text[i] == '.' || text[i] == '*'))
    ++i;
  std::string lhs = text.substr(lhs_start, i - lhs_start);
  if (lhs.empty()) {
    diags.error(at(range, lhs_start, 1), "filter must start with a value, e.g. 'ret > 0'",
                "write a filter as 'VALUE OP LITERAL' where OP is one of == != < <= > >= prefix "
                "contains");
    return std::nullopt;
  }
  ValueParseError verr;
  auto ref = parse_value_ref(lhs, /*allow_capture=*/true, &verr);
  if (!ref) {
    diags.error(at(range, lhs_start, lhs.size()), verr.message, verr.hint);
    return std::nullopt;
  }
  ref->range = at(range, lhs_start, lhs.size());
  f.lhs = *ref;

  skip_ws();
  size_t op_start = i;
  bool found = false;
  for (const auto& op : kOps) {
    std::string_view t = op.text;
    if (text.compare(i, t.size(), t) == 0) {
      bool word = std::isalpha(static_cast<unsigned char>(t[0]));
      if (word && i + t.size() < text.size() &&
          std::isalnum(static_cast<unsigned char>(text[i + t.size()])))
        continue;
      f.op = op.op;
      i += t.size();
      found = true;
      break;
    }
  }
  if (!found) {
    size_t end = op_start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string bad = text.substr(op_start, end - op_start);
    if (bad.empty()) {
      diags.error(at(range, op_start, 1), fmt::format("filter '{}' has no operator", text),
                  "expected one of == != < <= > >= prefix contains");
    } else {
      std::vector<std::string> ops;
      for (const auto& op : kOps) ops.emplace_back(op.text);
      std::string hint = did_you_mean(bad, ops);
      diags.error(at(range, op_start, bad.size()), fmt::format("unknown filter operator '{}'", bad),
                  hint.empty() ? "expected one of == != < <= > >= prefix contains" : hint);
    }
    return std::nullopt;
  }

  skip_ws();
  size_t lit_start = i;
  if (i >= text.size()) {
    diags.error(at(range, i, 1), fmt::format("filter '{}' has no value to compare with", text));
    return std::nullopt;
  }
  if (text[i] == '"') {
    std::string err;
    if (!parse_string_literal(text, &i, &f.str_value, &err)) {
      diags.error(at(range, lit_start, text.size() - lit_start), err);
      return std::nullopt;
    }
    f.string_literal = true;
  } else {
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string lit = text.substr(i, end - i);
    errno = 0;
    char* stop = nullptr;
    long long v = std::strtoll(lit.c_str(), &stop, 0);
    if (lit.empty() || *stop != '\0' || errno == ERANGE) {
      diags.error(at(range, i, lit.size()), fmt::format("'{}' is not an integer or a \"string\"", lit),
                  "string literals need double quotes inside the filter: 'comm == \"curl\"'");
      return std::nullopt;
    }
    f.int_value = v;
    i = end;
  }
  skip_ws();
  if (i < text.size()) {
    diags.error(at(range, i, text.size() - i), fmt::format("unexpected '{}' after filter", text.substr(i)),
                "combine conditions by listing several filters: filter = [\"a > 0\", \"b < 9\"]");
    return std::nullopt;
  }
  bool string_op = f.op == FilterOp::kPrefix || f.op == FilterOp::kContains;
  if (string_op && !f.string_literal) {
    diags.error(at(range, lit_start, text.size() - lit_start),
                fmt::format("'{}' needs a string literal", plan::filter_op_name(f.op)));
    return std::nullopt;
  }
  return f;
}

}  // namespace probe
