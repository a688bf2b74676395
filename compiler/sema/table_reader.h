// Typed, located access to one table of the policy tree. Every key a reader asks for is
// remembered, so finish() can report the keys nobody asked for as typos, with suggestions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "compiler/frontend/node.h"

namespace probe {

class TableReader {
 public:
  // `what` names the table in messages, e.g. "probe 'ssl_write'".
  TableReader(const Node& table, std::string what, Diagnostics& diags);

  const Node& node() const { return table_; }
  bool has(const std::string& key);
  // The child if present and of `kind`; a wrong type is reported and yields nullptr.
  const Node* get(const std::string& key, Node::Kind kind);
  const Node* get_any(const std::string& key);
  // Like get(), but a missing key is reported against the table.
  const Node* require(const std::string& key, Node::Kind kind);

  std::optional<std::string> string(const std::string& key, bool required = false);
  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max);
  std::optional<bool> boolean(const std::string& key);
  // A string or an array of strings (["a", "b"] or "a").
  std::vector<std::string> strings(const std::string& key, std::vector<SourceRange>* ranges = nullptr);

  void finish();

 private:
  const Node& table_;
  std::string what_;
  Diagnostics& diags_;
  std::vector<std::string> known_;
};

}  // namespace probe
