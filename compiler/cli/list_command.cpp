#include "compiler/cli/list_command.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "common/ld_cache.h"
#include "common/strings.h"
#include "common/usdt_notes.h"

namespace probe {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUserError = 1;

constexpr char kListUsage[] =
    "usage: probec list --library SPEC [GLOB] | --binary PATH [GLOB] | --usdt PATH [GLOB] |\n"
    "                   --tracepoints [PATTERN]\n";

struct ListRequest {
  std::string what;     // "library", "binary", "usdt" or "tracepoints"
  std::string subject;  // library spec, file, or tracepoint pattern
  std::string filter;   // glob over function or probe names; empty = all
};

Result<ListRequest> parse_list_args(const std::vector<std::string>& args) {
  ListRequest r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--library" || a == "--binary" || a == "--usdt" || a == "--tracepoints") {
      if (!r.what.empty()) return make_error("{} and --{} cannot be combined", a, r.what);
      r.what = a.substr(2);
      bool has_value = i + 1 < args.size() && !starts_with(args[i + 1], "-");
      // The tracepoint pattern is optional; every other kind needs its file.
      if (has_value) r.subject = args[++i];
      else if (r.what != "tracepoints") return make_error("{} needs a value", a);
    } else if (starts_with(a, "-")) {
      return make_error("unknown option {}", a);
    } else if (r.filter.empty()) {
      r.filter = a;
    } else {
      return make_error("unexpected argument {}", a);
    }
  }
  if (r.what.empty()) return make_error("what should be listed?");
  if (r.what == "tracepoints") {
    if (!r.subject.empty() && !r.filter.empty())
      return make_error("unexpected argument {}", r.filter);
    if (r.subject.empty()) r.subject = r.filter.empty() ? "*" : r.filter;
    r.filter.clear();
  }
  return r;
}

bool is_regular_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string search_path() {
  const char* path = std::getenv("PATH");
  return path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
}

std::optional<std::string> find_in_path(const std::string& name) {
  for (const auto& dir : split(search_path(), ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_regular_file(candidate) && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

bool matches(const std::string& filter, const std::string& text) {
  return filter.empty() || glob_match(filter, text);
}

// Prints `uprobe:<path>:<function>` for each function (name or versioned spec) matching
// `filter`, sorted; returns how many.
size_t print_functions(const ElfFile& elf, const std::string& filter) {
  std::vector<std::string> specs;
  for (const auto& f : elf.functions()) {
    std::string spec = function_spec(f);
    if (matches(filter, f.name) || matches(filter, spec)) specs.push_back(std::move(spec));
  }
  std::sort(specs.begin(), specs.end());
  specs.erase(std::unique(specs.begin(), specs.end()), specs.end());
  for (const auto& s : specs) fmt::print("uprobe:{}:{}\n", elf.path(), s);
  return specs.size();
}

struct UsdtSummary {
  size_t args = 0;
  size_t sites = 0;  // a probe in inlined code has one note per copy
};

// USDT probes by "provider:name" (sorted) whose name or full name matches `filter`.
std::map<std::string, UsdtSummary> summarize_usdt(const std::vector<UsdtProbe>& probes,
                                                  const std::string& filter) {
  std::map<std::string, UsdtSummary> out;
  for (const auto& p : probes) {
    std::string full = p.provider + ":" + p.name;
    if (!matches(filter, p.name) && !matches(filter, full)) continue;
    UsdtSummary& s = out[full];
    s.args = p.parsed_args.size();
    ++s.sites;
  }
  return out;
}

int no_match(const std::string& what, const std::string& where, const std::string& filter) {
  fmt::print(stderr, "probec list: no {} in {} match '{}'\n", what, where, filter);
  return kExitUserError;
}

int list_library(const ListRequest& r) {
  auto paths = resolve_library(r.subject);
  if (paths.empty()) {
    fmt::print(stderr, "probec list: library '{}' not found on this machine (looked in "
                       "/etc/ld.so.cache and {})\n",
               r.subject, join(standard_library_dirs(), ", "));
    return kExitUserError;
  }
  size_t shown = 0;
  for (const auto& path : paths) {
    auto elf = ElfFile::open(path);
    if (!elf) {
      fmt::print(stderr, "probec list: {}\n", elf.error().message);
      return kExitUserError;
    }
    fmt::print("{}\n", path);
    shown += print_functions(*elf, r.filter);
  }
  if (shown == 0 && !r.filter.empty()) return no_match("functions", join(paths, ", "), r.filter);
  return kExitOk;
}

// Functions and USDT probes of one file (--binary), or only its USDT probes (--usdt).
int list_file(const ListRequest& r) {
  auto path = locate_elf_file(r.subject);
  if (!path) {
    fmt::print(stderr, "probec list --{}: {}\n", r.what, path.error().message);
    return kExitUserError;
  }
  auto probes = read_usdt_probes(*path);
  if (!probes) {
    fmt::print(stderr, "probec list: {}\n", probes.error().message);
    return kExitUserError;
  }
  auto usdt = summarize_usdt(*probes, r.filter);
  size_t shown = usdt.size();
  if (r.what == "binary") {
    auto elf = ElfFile::open(*path);
    if (!elf) {
      fmt::print(stderr, "probec list: {}\n", elf.error().message);
      return kExitUserError;
    }
    fmt::print("{}\n", *path);
    shown += print_functions(*elf, r.filter);
    for (const auto& [full, s] : usdt) fmt::print("usdt:{}:{}\n", *path, full);
  } else {
    for (const auto& [full, s] : usdt) {
      std::string sites = s.sites > 1 ? fmt::format(", {} sites", s.sites) : "";
      fmt::print("usdt:{}:{} ({} arg{}{})\n", *path, full, s.args, s.args == 1 ? "" : "s", sites);
    }
    if (probes->empty()) {
      fmt::print(stderr, "probec list: {} has no USDT probes (no .note.stapsdt notes)\n", *path);
      return kExitUserError;
    }
  }
  if (shown == 0 && !r.filter.empty())
    return no_match(r.what == "binary" ? "functions or USDT probes" : "USDT probes", *path, r.filter);
  return kExitOk;
}

// Names of the subdirectories of `dir`, sorted.
Result<std::vector<std::string>> subdirectories(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return make_error("cannot read {}: {}", dir, std::strerror(errno));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    bool is_dir = e->d_type == DT_DIR ||
                  (e->d_type == DT_UNKNOWN && stat((dir + "/" + name).c_str(), &st) == 0 &&
                   S_ISDIR(st.st_mode));
    if (is_dir) names.push_back(std::move(name));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> tracefs_events_dir() {
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::string events = std::string(root) + "/events";
    struct stat st;
    if (stat(events.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return events;
  }
  return std::nullopt;
}

// PATTERN is "category:name" with globs on either side; without ':' it matches a category
// or an event name ("sched", "sys_enter_open*").
int list_tracepoints(const std::string& pattern) {
  auto events = tracefs_events_dir();
  if (!events) {
    fmt::print(stderr, "probec list: tracefs not found (looked for /sys/kernel/tracing/events and "
                       "/sys/kernel/debug/tracing/events; as root: mount -t tracefs nodev "
                       "/sys/kernel/tracing)\n");
    return kExitUserError;
  }
  auto categories = subdirectories(*events);
  if (!categories) {
    fmt::print(stderr, "probec list: {}\n", categories.error().message);
    return kExitUserError;
  }
  auto colon = pattern.find(':');
  bool split_pattern = colon != std::string::npos;
  std::string category_glob = split_pattern ? pattern.substr(0, colon) : pattern;
  std::string name_glob = split_pattern ? pattern.substr(colon + 1) : pattern;
  size_t shown = 0;
  for (const auto& category : *categories) {
    bool category_matches = glob_match(category_glob, category);
    if (split_pattern && !category_matches) continue;
    auto names = subdirectories(*events + "/" + category);
    if (!names) continue;  // a category we may not read is not one we can attach to
    for (const auto& name : *names) {
      bool wanted = split_pattern ? glob_match(name_glob, name)
                                  : category_matches || glob_match(name_glob, name);
      if (!wanted) continue;
      fmt::print("tracepoint:{}:{}\n", category, name);
      ++shown;
    }
  }
  if (shown == 0) return no_match("tracepoints", *events, pattern);
  return kExitOk;
}

}  // namespace

std::string function_spec(const ElfSymbol& symbol) {
  if (symbol.version.empty()) return symbol.name;
  return symbol.name + (symbol.default_version ? "@@" : "@") + symbol.version;
}

Result<std::string> locate_elf_file(const std::string& spec) {
  if (is_regular_file(spec)) return spec;
  if (spec.find('/') != std::string::npos)
    return make_error("'{}' not found: no such file", spec);
  if (auto program = find_in_path(spec)) return *program;
  auto libraries = resolve_library(spec);
  if (!libraries.empty()) return libraries.front();
  return make_error("'{}' not found: not a file here, not a program in PATH ({}), not a library "
                    "in /etc/ld.so.cache or {}",
                    spec, search_path(), join(standard_library_dirs(), ", "));
}

int run_list(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    fmt::print("{}", kListUsage);
    return kExitOk;
  }
  auto request = parse_list_args(args);
  if (!request) {
    fmt::print(stderr, "probec list: {}\n{}", request.error().message, kListUsage);
    return kExitUserError;
  }
  if (request->what == "library") return list_library(*request);
  if (request->what == "tracepoints") return list_tracepoints(request->subject);
  return list_file(*request);
}

}  // namespace probe
