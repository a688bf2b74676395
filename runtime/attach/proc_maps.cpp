#include "runtime/attach/proc_maps.h"

#include <dirent.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "common/files.h"
#include "common/strings.h"

namespace probe {

std::vector<MappedFile> parse_executable_mappings(const std::string& maps, pid_t pid,
                                                  const std::string& proc) {
  std::vector<MappedFile> out;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  std::istringstream in(maps);
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset major:minor inode   path
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode_text;
    if (!(f >> range >> perms >> offset >> dev >> inode_text)) continue;
    if (perms.size() < 3 || perms[2] != 'x') continue;
    std::string path;
    std::getline(f, path);
    path = std::string(trim(path));
    if (path.empty() || path[0] != '/') continue;  // anonymous, [vdso], [stack], ...
    uint64_t inode = std::strtoull(inode_text.c_str(), nullptr, 10);
    auto colon = dev.find(':');
    if (inode == 0 || colon == std::string::npos) continue;
    uint64_t d = makedev(std::strtoul(dev.substr(0, colon).c_str(), nullptr, 16),
                         std::strtoul(dev.substr(colon + 1).c_str(), nullptr, 16));
    if (!seen.insert({d, inode}).second) continue;
    MappedFile m;
    m.dev = d;
    m.inode = inode;
    const std::string deleted = " (deleted)";
    if (ends_with(path, deleted)) {
      // Replaced or removed since it was mapped: reach the mapped inode through map_files.
      m.path = path.substr(0, path.size() - deleted.size());
      m.host_path = proc + "/" + std::to_string(pid) + "/map_files/" + range;
    } else {
      m.path = path;
      m.host_path = proc + "/" + std::to_string(pid) + "/root" + path;
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<MappedFile> executable_mappings(pid_t pid, const std::string& proc) {
  auto text = read_file(proc + "/" + std::to_string(pid) + "/maps");
  if (!text) return {};
  return parse_executable_mappings(*text, pid, proc);
}

std::vector<pid_t> all_pids(const std::string& proc) {
  std::vector<pid_t> out;
  DIR* d = opendir(proc.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
  }
  closedir(d);
  return out;
}

}  // namespace probe
