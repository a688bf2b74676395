// String helpers shared by the compiler and the runtime.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace probe {

size_t edit_distance(std::string_view a, std::string_view b);
// Candidates within a distance that scales with the word's length, closest first.
std::vector<std::string> closest_matches(std::string_view word,
                                         const std::vector<std::string>& candidates,
                                         size_t max = 3);
std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
bool has_glob_chars(std::string_view s);
// A function name that is a pattern: glob characters other than the "(*" of Go method names
// ("crypto/tls.(*Conn).Write" is a name, "crypto/tls.(*Conn).*" a pattern).
bool is_function_pattern(std::string_view s);
bool glob_match(const std::string& pattern, const std::string& text);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

}  // namespace probe
