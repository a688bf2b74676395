#include "compiler/cli/new_command.h"

#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <set>
#include <tuple>

#include "common/elf_file.h"
#include "common/elf_handle.h"
#include "common/files.h"
#include "common/ld_cache.h"
#include "common/strings.h"
#include "common/usdt_notes.h"
#include "compiler/cli/list_command.h"

namespace probe {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUserError = 1;
constexpr size_t kMaxCandidates = 50;
constexpr size_t kRegisterArgs = 6;  // policies read arg0..arg5

constexpr char kNewUsage[] = "usage: probec new --from-binary PATH [-o OUT.toml] [GLOB]\n";

struct NewRequest {
  std::string from;    // binary or library to scaffold a policy for
  std::string output;  // empty = stdout
  std::string filter;  // glob over the uprobe candidates
};

Result<NewRequest> parse_new_args(const std::vector<std::string>& args) {
  NewRequest r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool takes_value = a == "--from-binary" || a == "-o" || a == "--output";
    if (takes_value && i + 1 >= args.size()) return make_error("{} needs a value", a);
    if (a == "--from-binary") r.from = args[++i];
    else if (a == "-o" || a == "--output") r.output = args[++i];
    else if (starts_with(a, "-")) return make_error("unknown option {}", a);
    else if (r.filter.empty()) r.filter = a;
    else return make_error("unexpected argument {}", a);
  }
  if (r.from.empty()) return make_error("from which file? (--from-binary PATH)");
  return r;
}

// DT_SONAME of a shared library; empty for executables (PIE executables are ET_DYN too).
std::string read_soname(const std::string& path) {
  ElfHandle h;
  if (!open_elf(path, &h)) return {};
  Elf* elf = h.elf;
  std::string soname;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn && soname.empty(); scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || sh.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; ++i) {
      GElf_Dyn dyn;
      if (!gelf_getdyn(data, static_cast<int>(i), &dyn) || dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag != DT_SONAME) continue;
      if (const char* name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val)) soname = name;
      break;
    }
  }
  return soname;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string absolute_path(const std::string& path) {
  if (starts_with(path, "/")) return path;
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

// "libssl.so.3" -> "libssl"; executables keep their name.
std::string file_stem(const std::string& path) {
  std::string name = basename_of(path);
  auto so = name.find(".so");
  return so == std::string::npos || so == 0 ? name : name.substr(0, so);
}

// Table keys and probe names must be identifiers: probe names become Lua handler names.
std::string identifier(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

// A TOML basic string.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') out += {'\\', static_cast<char>(c)};
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

struct TargetKey {
  std::string key;  // "library" or "binary"
  std::string value;
};

// A library the loader finds by its soname is named by it, so the policy keeps working
// across upgrades that change the file's path; anything else is named by its path.
TargetKey choose_target(const std::string& path, const ElfFile& elf) {
  std::string soname = elf.is_shared_object() ? read_soname(path) : "";
  if (soname.empty()) return {"binary", absolute_path(path)};
  for (const auto& candidate : resolve_library(soname))
    if (same_file(candidate, path)) return {"library", soname};
  return {"library", absolute_path(path)};
}

// The policy type that holds a USDT argument of this size and sign.
std::string capture_type(const UsdtArg& arg) {
  int bytes = arg.size < 0 ? -arg.size : arg.size;
  if (arg.floating || (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8))
    return bytes == 4 ? "u32" : "u64";  // raw bits: policies have no floating-point types
  return fmt::format("{}{}", arg.size < 0 ? 'i' : 'u', bytes * 8);
}

struct Scaffold {
  std::string source;  // the file the policy was made from
  std::string list_command;
  std::string policy_name;
  std::string target_name;
  TargetKey target;
  std::vector<UsdtProbe> usdt;  // one per provider:name
  std::vector<ElfSymbol> candidates;
  size_t candidate_total = 0;
  bool exported_only = true;
};

// USDT probes by provider:name, sorted: a probe with several sites is one policy probe.
std::vector<UsdtProbe> distinct_usdt_probes(std::vector<UsdtProbe> probes) {
  std::stable_sort(probes.begin(), probes.end(), [](const UsdtProbe& a, const UsdtProbe& b) {
    return std::tie(a.provider, a.name) < std::tie(b.provider, b.name);
  });
  probes.erase(std::unique(probes.begin(), probes.end(),
                           [](const UsdtProbe& a, const UsdtProbe& b) {
                             return a.provider == b.provider && a.name == b.name;
                           }),
               probes.end());
  return probes;
}

// Start-up and tear-down code the C toolchain links into every executable: never what a
// policy wants to watch.
bool is_toolchain_function(const std::string& name) {
  static const std::set<std::string> kNames = {
      "_init", "_fini", "_start", "_dl_relocate_static_pie", "frame_dummy",
      "register_tm_clones", "deregister_tm_clones", "__do_global_dtors_aux",
      "__libc_csu_init", "__libc_csu_fini"};
  return kNames.count(name) > 0;
}

// Exported functions (all functions if the file exports none, as executables often do),
// default versions only, not toolchain code, matching `filter`; the first kMaxCandidates
// by name.
void pick_candidates(const ElfFile& elf, const std::string& filter, Scaffold* s) {
  s->exported_only = std::any_of(elf.functions().begin(), elf.functions().end(),
                                 [](const ElfSymbol& f) { return f.dynamic; });
  std::set<std::string> seen;
  for (const auto& f : elf.functions()) {
    if ((s->exported_only && !f.dynamic) || !f.default_version || is_toolchain_function(f.name))
      continue;
    if (!filter.empty() && !glob_match(filter, f.name)) continue;
    if (seen.insert(f.name).second) s->candidates.push_back(f);
  }
  // By name, whatever order the symbol table keeps.
  std::sort(s->candidates.begin(), s->candidates.end(),
            [](const ElfSymbol& a, const ElfSymbol& b) { return a.name < b.name; });
  s->candidate_total = s->candidates.size();
  if (s->candidates.size() > kMaxCandidates) s->candidates.resize(kMaxCandidates);
}

void render_usdt_probe(const UsdtProbe& p, const std::string& probe_name,
                       const std::string& target, std::string* out) {
  auto o = std::back_inserter(*out);
  fmt::format_to(o, "[probe.{}]\ntarget = {}\nusdt = {}\n", probe_name, quoted(target),
                 quoted(p.provider + ":" + p.name));
  if (p.parsed_args.empty()) {
    out->append("\n");
    return;
  }
  fmt::format_to(o, "# arguments: {}\ncapture = [\n", p.args);
  for (size_t i = 0; i < p.parsed_args.size(); ++i) {
    const UsdtArg& arg = p.parsed_args[i];
    std::string capture = fmt::format(R"({{ name = "arg{0}", value = "arg{0}", type = "{1}" }},)",
                                      i, capture_type(arg));
    if (i < kRegisterArgs) fmt::format_to(o, "  {}\n", capture);
    else fmt::format_to(o, "  # {}  (policies read arg0..arg5)\n", capture);
  }
  out->append("]\n\n");
}

void render_candidates(const Scaffold& s, std::string* out) {
  auto o = std::back_inserter(*out);
  const char* kind = s.exported_only ? "exported functions" : "functions";
  if (s.candidates.empty()) {
    fmt::format_to(o, "# uprobe candidates: none ({} has no {} to offer)\n\n", s.source, kind);
    return;
  }
  fmt::format_to(o, "# uprobe candidates: {} of {} {} (`{}` lists all):\n", s.candidates.size(),
                 s.candidate_total, kind, s.list_command);
  for (const auto& f : s.candidates) fmt::format_to(o, "#   {}\n", function_spec(f));
  const ElfSymbol& first = s.candidates.front();
  fmt::format_to(o,
                 "# To probe one, uncomment and adapt:\n"
                 "# [probe.{}]\n# target = {}\n# uprobe = {}\n"
                 "# capture = [{{ name = \"arg0\", value = \"arg0\", type = \"u64\" }}]\n\n",
                 identifier(first.name), quoted(s.target_name), quoted(first.name));
}

std::string render_policy(const Scaffold& s) {
  std::string out;
  auto o = std::back_inserter(out);
  fmt::format_to(o,
                 "# Policy scaffold for {}, written by `probec new`.\n"
                 "# Edit the probes, then validate with `probec check FILE`.\n\n"
                 "[policy]\nname = {}\ndescription = {}\n\n[target.{}]\n{} = {}\n\n",
                 s.source, quoted(s.policy_name), quoted("Probes for " + basename_of(s.source)),
                 s.target_name, s.target.key, quoted(s.target.value));
  if (s.usdt.empty()) fmt::format_to(o, "# {} has no USDT probes.\n\n", s.source);
  std::set<std::string> names;
  for (const auto& p : s.usdt) {
    std::string name = identifier(p.provider + "_" + p.name);
    for (int n = 2; !names.insert(name).second; ++n)
      name = identifier(p.provider + "_" + p.name) + "_" + std::to_string(n);
    render_usdt_probe(p, name, s.target_name, &out);
  }
  render_candidates(s, &out);
  fmt::format_to(o,
                 "# Events reach sinks through Lua handlers: on_<probe>(ev) calls emit(\"jsonl\", "
                 "{{...}}).\n# [handlers]\n# script = {}\n\n[sinks.jsonl]\npath = \"-\"\n",
                 quoted(s.policy_name + ".lua"));
  return out;
}

Result<Scaffold> build_scaffold(const NewRequest& r) {
  PROBE_ASSIGN_OR_RETURN(std::string path, locate_elf_file(r.from));
  PROBE_ASSIGN_OR_RETURN(ElfFile elf, ElfFile::open(path));
  PROBE_ASSIGN_OR_RETURN(std::vector<UsdtProbe> usdt, read_usdt_probes(path));
  Scaffold s;
  s.source = path;
  s.policy_name = file_stem(path);
  s.target_name = identifier(s.policy_name);
  s.target = choose_target(path, elf);
  s.list_command = s.target.key == "library" ? "probec list --library " + s.target.value
                                             : "probec list --binary " + s.target.value;
  s.usdt = distinct_usdt_probes(std::move(usdt));
  pick_candidates(elf, r.filter, &s);
  return s;
}

}  // namespace

int run_new(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    fmt::print("{}", kNewUsage);
    return kExitOk;
  }
  auto request = parse_new_args(args);
  if (!request) {
    fmt::print(stderr, "probec new: {}\n{}", request.error().message, kNewUsage);
    return kExitUserError;
  }
  auto scaffold = build_scaffold(*request);
  if (!scaffold) {
    fmt::print(stderr, "probec new: {}\n", scaffold.error().message);
    return kExitUserError;
  }
  std::string text = render_policy(*scaffold);
  if (request->output.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  if (auto st = write_file_atomic(request->output, text); !st) {
    fmt::print(stderr, "probec new: {}\n", st.error().message);
    return kExitUserError;
  }
  fmt::print(stderr, "probec new: wrote {} ({} USDT probe{})\n", request->output,
             scaffold->usdt.size(), scaffold->usdt.size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace probe
