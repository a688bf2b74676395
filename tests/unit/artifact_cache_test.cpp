// Artifacts round-trip; the object cache hits, misses, detects corruption and stays bounded.
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/files.h"
#include "compiler/artifact/artifact.h"
#include "compiler/artifact/build_config.h"
#include "compiler/artifact/cache.h"
#include "tests/support/env.h"

namespace probe {
namespace {

TEST(Artifact, RoundTrips) {
  Artifact a;
  a.manifest.policy_name = "p";
  a.manifest.probe_count = 1;
  ProbeManifest pm;
  pm.name = "x";
  pm.fields = {{"data", plan::FieldType::kBytes, 0, 0, 0, 4096}};
  a.manifest.probes.push_back(pm);
  a.manifest.sinks.push_back({"jsonl", {{"path", "-"}}});
  a.object = std::string("\x7f" "ELF\0\1\2", 7);
  auto b = parse_artifact(serialize_artifact(a));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->object, a.object);
  EXPECT_EQ(manifest_to_json(b->manifest), manifest_to_json(a.manifest));
  std::string bytes = serialize_artifact(a);
  EXPECT_FALSE(parse_artifact(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(parse_artifact("PKO2"));
}

TEST(ObjectCache, HitMissAndCorruption) {
  test::TempDir dir;
  ObjectCache cache(dir.path() + "/c");
  std::string key = object_cache_key("int x;");
  EXPECT_NE(key, object_cache_key("int y;"));
  EXPECT_FALSE(cache.get(key));
  ASSERT_TRUE(cache.put(key, "object-bytes"));
  EXPECT_EQ(cache.get(key).value_or(""), "object-bytes");
  // Flip a byte of the stored object: the entry is detected, removed and reported as a miss.
  std::string path = dir.path() + "/c/" + key + ".o";
  std::string raw = *read_file(path);
  raw.back() ^= 1;
  std::ofstream(path, std::ios::binary) << raw;
  EXPECT_FALSE(cache.get(key));
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(ObjectCache, ConcurrentWritersNeverLeaveAPartialEntry) {
  test::TempDir dir;
  ObjectCache cache(dir.path());
  std::string big(1 << 20, 'x');
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) ASSERT_TRUE(cache.put("k", big));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache.get("k").value_or(""), big);
}

TEST(ObjectCache, StaysUnderItsSizeBound) {
  test::TempDir dir;
  ObjectCache cache(dir.path(), 3000);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cache.put("k" + std::to_string(i), std::string(1000, 'a')));
  size_t entries = 0;
  DIR* d = opendir(dir.path().c_str());
  while (dirent* e = readdir(d)) entries += std::string(e->d_name).find(".o") != std::string::npos;
  closedir(d);
  EXPECT_LE(entries, 2u);  // 1068 bytes each with the header
  EXPECT_TRUE(cache.get("k9"));
}

}  // namespace
}  // namespace probe
