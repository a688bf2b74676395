#include "stdlib/stdlib.h"

#include <algorithm>

#include "common/sha256.h"

namespace probe::embedded {
struct File {
  std::string_view path;
  std::string_view data;
};
extern const File stdlib_files[];
extern const std::size_t stdlib_files_count;
}  // namespace probe::embedded

namespace probe::stdlib {

std::optional<std::string_view> find(std::string_view path) {
  for (size_t i = 0; i < embedded::stdlib_files_count; ++i)
    if (embedded::stdlib_files[i].path == path) return embedded::stdlib_files[i].data;
  return std::nullopt;
}

std::vector<std::string_view> list(std::string_view prefix) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < embedded::stdlib_files_count; ++i)
    if (embedded::stdlib_files[i].path.substr(0, prefix.size()) == prefix)
      out.push_back(embedded::stdlib_files[i].path);
  std::sort(out.begin(), out.end());
  return out;
}

const std::string& version_hash() {
  static const std::string hash = [] {
    Sha256 h;
    for (auto path : list("")) h.add(path).add(*find(path));
    return h.hex();
  }();
  return hash;
}

}  // namespace probe::stdlib
