#include "compiler/frontend/parse_policy.h"

#include "common/strings.h"
#include "compiler/frontend/lua_policy.h"
#include "compiler/frontend/toml_parser.h"

namespace probe {

std::optional<Node> parse_policy_source(const SourceFilePtr& file, Diagnostics& diags) {
  if (ends_with(file->path(), ".lua")) return parse_lua_policy(file, diags);
  return parse_toml(file, diags);
}

}  // namespace probe
