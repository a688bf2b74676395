#include "compiler/sema/table_reader.h"

#include <fmt/format.h>

#include <algorithm>

namespace probe {

TableReader::TableReader(const Node& table, std::string what, Diagnostics& diags)
    : table_(table), what_(std::move(what)), diags_(diags) {}

bool TableReader::has(const std::string& key) {
  known_.push_back(key);
  return table_.get(key) != nullptr;
}

const Node* TableReader::get_any(const std::string& key) {
  known_.push_back(key);
  return table_.get(key);
}

const Node* TableReader::get(const std::string& key, Node::Kind kind) {
  const Node* n = get_any(key);
  if (!n) return nullptr;
  if (n->kind != kind) {
    diags_.error(n->range, fmt::format("'{}' in {} must be {}, not {}", key, what_, a_kind(kind),
                                       a_kind(n->kind)));
    return nullptr;
  }
  return n;
}

const Node* TableReader::require(const std::string& key, Node::Kind kind) {
  const Node* present = table_.get(key);
  if (!present) {
    known_.push_back(key);
    SourceRange r = table_.key_range.valid() ? table_.key_range : table_.range;
    diags_.error(r, fmt::format("{} is missing required key '{}'", what_, key));
    return nullptr;
  }
  return get(key, kind);
}

std::optional<std::string> TableReader::string(const std::string& key, bool required) {
  const Node* n = required ? require(key, Node::Kind::kString) : get(key, Node::Kind::kString);
  if (!n) return std::nullopt;
  return n->str;
}

std::optional<int64_t> TableReader::integer(const std::string& key, int64_t min, int64_t max) {
  const Node* n = get(key, Node::Kind::kInteger);
  if (!n) return std::nullopt;
  if (n->integer < min || n->integer > max) {
    diags_.error(n->range, fmt::format("'{}' in {} must be between {} and {}, not {}", key, what_,
                                       min, max, n->integer));
    return std::nullopt;
  }
  return n->integer;
}

std::optional<bool> TableReader::boolean(const std::string& key) {
  const Node* n = get(key, Node::Kind::kBool);
  if (!n) return std::nullopt;
  return n->boolean;
}

std::vector<std::string> TableReader::strings(const std::string& key,
                                              std::vector<SourceRange>* ranges) {
  std::vector<std::string> out;
  const Node* n = get_any(key);
  if (!n) return out;
  if (n->is_string()) {
    out.push_back(n->str);
    if (ranges) ranges->push_back(n->range);
    return out;
  }
  if (!n->is_array()) {
    diags_.error(n->range, fmt::format("'{}' in {} must be a string or an array of strings", key,
                                       what_));
    return out;
  }
  for (const auto& item : n->array) {
    if (!item.is_string()) {
      diags_.error(item.range, fmt::format("'{}' in {} must contain only strings, not {}", key,
                                           what_, a_kind(item.kind)));
      continue;
    }
    out.push_back(item.str);
    if (ranges) ranges->push_back(item.range);
  }
  return out;
}

void TableReader::finish() {
  for (const auto& [key, child] : table_.table) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    SourceRange r = child.key_range.valid() ? child.key_range : child.range;
    diags_.error(r, fmt::format("unknown key '{}' in {}", key, what_), did_you_mean(key, known_));
  }
}

}  // namespace probe
