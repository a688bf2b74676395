#include "compiler/frontend/node.h"

namespace probe {

const Node* Node::get(const std::string& key) const {
  for (const auto& [k, v] : table)
    if (k == key) return &v;
  return nullptr;
}

const char* kind_name(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::kTable: return "table";
    case Node::Kind::kArray: return "array";
    case Node::Kind::kString: return "string";
    case Node::Kind::kInteger: return "integer";
    case Node::Kind::kFloat: return "float";
    case Node::Kind::kBool: return "boolean";
  }
  return "value";
}

std::string a_kind(Node::Kind kind) {
  std::string n = kind_name(kind);
  bool vowel = n[0] == 'a' || n[0] == 'e' || n[0] == 'i' || n[0] == 'o' || n[0] == 'u';
  return (vowel ? "an " : "a ") + n;
}

}  // namespace probe
