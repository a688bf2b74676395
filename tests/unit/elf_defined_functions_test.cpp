// The symbol-table scan a policy check uses: plain names found in .dynsym or .symtab, without
// building the full symbol list; agrees with ElfFile.
#include <gtest/gtest.h>

#include "common/elf_file.h"
#include "common/ld_cache.h"

namespace probe {
namespace {

TEST(ElfDefinedFunctions, FindsExactlyTheDefinedNames) {
  auto self = ElfFile::open("/proc/self/exe");
  ASSERT_TRUE(self) << self.error().message;
  // This test binary defines main and RUN_ALL_TESTS' helpers; never a name nobody wrote.
  auto found = defined_functions("/proc/self/exe", {"main", "no_such_function_anywhere", "mai"});
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, (std::set<std::string>{"main"}));
  for (const auto& name : *found) EXPECT_TRUE(self->find_function(name).has_value()) << name;
}

TEST(ElfDefinedFunctions, VersionedExportsCountByTheirPlainName) {
  auto paths = resolve_library("libc.so.6");
  if (paths.empty()) GTEST_SKIP() << "libc.so.6 not found in the ld cache";
  auto found = defined_functions(paths[0], {"memcpy", "getpid", "strlen"});
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(*found, (std::set<std::string>{"getpid", "memcpy", "strlen"}));
  EXPECT_FALSE(defined_functions("/nonexistent/file", {"x"}));
}

}  // namespace
}  // namespace probe
