// A policy document as a located value tree. TOML and Lua policies both become this tree, so
// validation and diagnostics are written once.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compiler/diag/source.h"

namespace probe {

struct Node {
  enum class Kind { kTable, kArray, kString, kInteger, kFloat, kBool };

  Kind kind = Kind::kTable;
  SourceRange range;      // the value
  SourceRange key_range;  // the key naming it in its parent table (if any)
  std::string str;
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  struct Entry;
  std::vector<Entry> table;  // in source order
  std::vector<Node> array;

  bool is_table() const { return kind == Kind::kTable; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_integer() const { return kind == Kind::kInteger; }
  bool is_bool() const { return kind == Kind::kBool; }
  const Node* get(const std::string& key) const;
};

// A table entry; `first`/`second` so entries read like map pairs (auto& [key, value]).
struct Node::Entry {
  std::string first;
  Node second;
};

const char* kind_name(Node::Kind kind);
// "a string", "an integer", ... for messages.
std::string a_kind(Node::Kind kind);

}  // namespace probe
