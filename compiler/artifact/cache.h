// Content-addressed store of compiled BPF objects. Entries are written with write-then-rename
// (concurrent compiles of the same policy are safe), verified by checksum on read (a corrupt
// entry is dropped and rebuilt), and the directory is kept under a size bound (oldest out).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace probe {

class ObjectCache {
 public:
  static constexpr uint64_t kDefaultMaxBytes = 256ull << 20;

  explicit ObjectCache(std::string dir, uint64_t max_bytes = kDefaultMaxBytes);
  // Default location: $PROBEKIT_CACHE_DIR, else /var/cache/probekit as root, else
  // $XDG_CACHE_HOME/probekit (or ~/.cache/probekit).
  static std::string default_dir();

  const std::string& dir() const { return dir_; }
  std::optional<std::string> get(const std::string& key) const;
  Status put(const std::string& key, const std::string& object);
  // Removes least recently used entries until the directory fits the bound.
  void trim() const;

 private:
  std::string path_for(const std::string& key) const;
  std::string dir_;
  uint64_t max_bytes_;
};

}  // namespace probe
