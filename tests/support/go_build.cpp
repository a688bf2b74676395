#include "tests/support/go_build.h"

#include <map>

#include "tests/support/process.h"

namespace probe::test {

std::pair<std::string, std::string> build_go_program(const TempDir& dir, const std::string& name,
                                                     const std::string& source,
                                                     const std::vector<std::string>& flags) {
  auto go = find_program("go");
  if (!go) return {"", "needs the Go toolchain (Debian package golang-go; scripts/install-deps.sh installs it)"};
  std::string src = dir.file(name + ".go");
  write_text(src, source);
  std::map<std::string, std::string> env = {{"GOCACHE", "/var/tmp/probekit-test-gocache"},
                                            {"GOPATH", dir.file("gopath")},
                                            {"HOME", dir.path()},
                                            {"CGO_ENABLED", "0"},
                                            {"GOPROXY", "off"},
                                            {"GOFLAGS", "-mod=mod"}};
  std::vector<std::string> argv = {*go, "build", "-o", dir.file(name)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(src);
  auto [rc, out] = run(argv, env);
  if (rc != 0) return {"", "go build failed: " + out};
  return {dir.file(name), ""};
}

}  // namespace probe::test
