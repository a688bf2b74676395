#include "common/ld_cache.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include "common/files.h"
#include "common/strings.h"

namespace probe {
namespace {

constexpr char kNewMagic[] = "glibc-ld.so.cache1.1";
constexpr size_t kNewHeaderSize = 48;  // magic+version, nlibs, len_strings, flags, ext, unused
constexpr size_t kNewEntrySize = 24;   // flags, key, value, osversion, hwcap
constexpr int32_t kFlagElfLibc6 = 0x0003;
constexpr int32_t kFlagX8664Lib64 = 0x0300;

uint32_t read_u32(const std::string& b, size_t off) {
  uint32_t v = 0;
  if (off + 4 <= b.size()) std::memcpy(&v, b.data() + off, 4);
  return v;
}

std::string cstr_at(const std::string& b, size_t off) {
  if (off >= b.size()) return {};
  return std::string(b.c_str() + off);
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return realpath(p.c_str(), buf) ? std::string(buf) : p;
}

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Names in `dir` matching the glob `pattern`, sorted.
std::vector<std::string> matching_entries(const std::string& dir, const std::string& pattern) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* ent = readdir(d))
      if (glob_match(pattern, ent->d_name)) names.push_back(dir + "/" + ent->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

const std::vector<std::string>& standard_library_dirs() {
  static const std::vector<std::string> dirs = {
      "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
      "/lib",                  "/usr/lib",                  "/usr/local/lib"};
  return dirs;
}

std::vector<LibraryCandidate> read_ld_cache(const std::string& cache_path) {
  std::vector<LibraryCandidate> out;
  auto data = read_file(cache_path);
  if (!data) return out;
  const std::string& b = *data;
  // The new format may follow an old-format ("ld.so-1.7.0") block; find its magic.
  size_t base = b.find(kNewMagic);
  if (base == std::string::npos) return out;
  uint32_t nlibs = read_u32(b, base + 20);
  for (uint32_t i = 0; i < nlibs; ++i) {
    size_t e = base + kNewHeaderSize + size_t{i} * kNewEntrySize;
    if (e + kNewEntrySize > b.size()) break;
    int32_t flags = static_cast<int32_t>(read_u32(b, e));
    if ((flags & 0xff) != kFlagElfLibc6 && (flags & 0xff) != 1) continue;
    if ((flags & 0xff00) != kFlagX8664Lib64) continue;
    // String offsets are relative to the start of the new-format header.
    out.push_back({cstr_at(b, base + read_u32(b, e + 4)), cstr_at(b, base + read_u32(b, e + 8))});
  }
  return out;
}

std::vector<std::string> resolve_library(const std::string& spec, const std::string& cache_path) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    std::string r = real_path(p);
    if (exists(r) && seen.insert(r).second) out.push_back(p);
  };

  if (spec.find('/') != std::string::npos) {
    if (!has_glob_chars(spec)) {
      add(spec);
      return out;
    }
    // A glob path: expand the last component within its directory.
    for (const auto& p : matching_entries(dirname_of(spec), basename_of(spec))) add(p);
    return out;
  }

  // "libssl" means any "libssl.so*"; globs and sonames match cache keys directly.
  std::string pattern = spec;
  if (!has_glob_chars(spec) && spec.find(".so") == std::string::npos) pattern = spec + ".so*";
  for (const auto& c : read_ld_cache(cache_path))
    if (glob_match(pattern, c.soname)) add(c.path);
  if (!out.empty()) return out;

  for (const auto& dir : standard_library_dirs()) {
    for (const auto& p : matching_entries(dir, pattern)) add(p);
  }
  return out;
}

}  // namespace probe
