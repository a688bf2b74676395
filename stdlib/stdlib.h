// The embedded standard library: BPF headers ("bpf/..."), Lua modules ("lua/...") and policy
// packs ("packs/..."), compiled into every binary.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace probe::stdlib {

std::optional<std::string_view> find(std::string_view path);
// Every embedded path that starts with `prefix`, sorted.
std::vector<std::string_view> list(std::string_view prefix);
// Hash of every embedded file: part of the artifact cache key.
const std::string& version_hash();

}  // namespace probe::stdlib
