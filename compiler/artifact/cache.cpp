#include "compiler/artifact/cache.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/files.h"
#include "common/log.h"
#include "common/sha256.h"

namespace probe {
namespace {

constexpr char kEntryMagic[] = "PKC1";
constexpr size_t kHeaderSize = 4 + 64;  // magic + hex sha256 of the object

}  // namespace

ObjectCache::ObjectCache(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

std::string ObjectCache::default_dir() {
  if (const char* d = std::getenv("PROBEKIT_CACHE_DIR"); d && *d) return d;
  if (geteuid() == 0) return "/var/cache/probekit";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/probekit";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/probekit";
  return "/tmp/probekit-cache";
}

std::string ObjectCache::path_for(const std::string& key) const {
  return dir_ + "/" + key + ".o";
}

std::optional<std::string> ObjectCache::get(const std::string& key) const {
  std::string path = path_for(key);
  auto bytes = read_file(path);
  if (!bytes) return std::nullopt;
  const std::string& b = *bytes;
  if (b.size() < kHeaderSize || b.compare(0, 4, kEntryMagic) != 0 ||
      sha256_hex(std::string_view(b).substr(kHeaderSize)) != b.substr(4, 64)) {
    log::warn("object cache: entry {} is corrupt; removing it and rebuilding", path);
    unlink(path.c_str());
    return std::nullopt;
  }
  utime(path.c_str(), nullptr);  // mark as recently used for trim()
  return b.substr(kHeaderSize);
}

Status ObjectCache::put(const std::string& key, const std::string& object) {
  PROBE_TRY(make_dirs(dir_));
  std::string entry = std::string(kEntryMagic) + sha256_hex(object) + object;
  PROBE_TRY(write_file_atomic(path_for(key), entry));
  trim();
  return {};
}

void ObjectCache::trim() const {
  struct Entry {
    std::string path;
    timespec mtime;
    uint64_t size;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  DIR* d = opendir(dir_.c_str());
  if (!d) return;
  while (dirent* ent = readdir(d)) {
    std::string name = ent->d_name;
    if (name.size() < 3 || name.compare(name.size() - 2, 2, ".o") != 0) continue;
    std::string p = dir_ + "/" + name;
    struct stat st;
    if (stat(p.c_str(), &st) != 0) continue;
    entries.push_back({p, st.st_mtim, static_cast<uint64_t>(st.st_size)});
    total += static_cast<uint64_t>(st.st_size);
  }
  closedir(d);
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) {
              return std::pair(a.mtime.tv_sec, a.mtime.tv_nsec) < std::pair(b.mtime.tv_sec, b.mtime.tv_nsec);
            });
  for (const auto& e : entries) {
    if (total <= max_bytes_) break;
    if (unlink(e.path.c_str()) == 0) total -= e.size;
  }
}

}  // namespace probe
