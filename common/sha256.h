// SHA-256 for content-addressed caching (artifact cache keys, build ids).
#pragma once

#include <string>
#include <string_view>

namespace probe {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Feeds a length-prefixed part, so ("ab","c") and ("a","bc") hash differently.
  Sha256& add(std::string_view part);
  std::string hex();

 private:
  void* ctx_;
};

std::string sha256_hex(std::string_view data);

}  // namespace probe
