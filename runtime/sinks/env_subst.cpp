#include "runtime/sinks/env_subst.h"

#include <cstdlib>

namespace probe {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<std::string> substitute_env(const std::string& text, const EnvLookup& env) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") != 0) {
      out.push_back(text[i++]);
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string::npos) return make_error("unterminated '${{' in '{}'", text);
    std::string body = text.substr(i + 2, close - i - 2);
    std::string name = body, fallback;
    bool has_default = false;
    if (auto sep = body.find(":-"); sep != std::string::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
      has_default = true;
    }
    if (name.empty()) return make_error("empty variable name in '{}'", text);
    auto v = env(name);
    // As in the shell, ":-" also replaces a variable that is set but empty.
    if (v && !v->empty()) out += *v;
    else if (has_default) out += fallback;
    else return make_error("environment variable {} is not set (in '{}')", name, text);
    i = close + 1;
  }
  return out;
}

}  // namespace probe
