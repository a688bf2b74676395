// UTF-8 checks for text that came from captured bytes: OTLP strings must be valid UTF-8 and
// JSON lines must be, so invalid sequences become U+FFFD the way Unicode recommends (each
// maximal ill-formed subpart is one replacement character).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace probe {

bool valid_utf8(std::string_view s);
std::string sanitize_utf8(std::string_view s);
// The longest prefix of valid UTF-8 `s` that is at most `max` bytes and ends on a character
// boundary.
size_t utf8_prefix(std::string_view s, size_t max);

}  // namespace probe
