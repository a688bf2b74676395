#include "common/tracepoint_format.h"

#include <cstring>
#include <sstream>

#include "common/files.h"
#include "common/strings.h"
#include "common/tracefs.h"

namespace probe {
namespace {

// "\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;"
bool parse_field_line(const std::string& line, TracepointField* f) {
  auto fpos = line.find("field:");
  if (fpos == std::string::npos) return false;
  auto semi = line.find(';', fpos);
  if (semi == std::string::npos) return false;
  std::string decl(trim(line.substr(fpos + 6, semi - fpos - 6)));
  auto get = [&](const char* key) -> long {
    auto p = line.find(key, semi);
    return p == std::string::npos ? -1 : std::strtol(line.c_str() + p + std::strlen(key), nullptr, 10);
  };
  long off = get("offset:"), size = get("size:"), sgn = get("signed:");
  if (off < 0 || size < 0) return false;
  f->offset = static_cast<uint32_t>(off);
  f->size = static_cast<uint32_t>(size);
  f->is_signed = sgn == 1;
  if (starts_with(decl, "__data_loc ")) {
    f->data_loc = true;
    decl = decl.substr(11);
  }
  // The name is the last identifier, before an optional [N].
  std::string arr;
  if (auto b = decl.rfind('['); b != std::string::npos && ends_with(decl, "]")) {
    arr = decl.substr(b + 1, decl.size() - b - 2);
    decl = std::string(trim(decl.substr(0, b)));
  }
  size_t end = decl.size();
  size_t start = end;
  while (start > 0 && (std::isalnum(static_cast<unsigned char>(decl[start - 1])) || decl[start - 1] == '_')) --start;
  if (start == end) return false;
  f->name = decl.substr(start, end - start);
  f->type = std::string(trim(decl.substr(0, start)));
  f->pointer = !f->type.empty() && f->type.back() == '*';
  if (!arr.empty()) {
    f->array_len = static_cast<uint32_t>(std::strtoul(arr.c_str(), nullptr, 10));
    f->type += "[" + arr + "]";
  } else if (f->data_loc) {
    f->type += "[]";
  }
  return true;
}

}  // namespace

const TracepointField* TracepointFormat::field(const std::string& n) const {
  for (const auto& f : fields)
    if (f.name == n) return &f;
  return nullptr;
}

Result<TracepointFormat> parse_tracepoint_format(const std::string& text) {
  TracepointFormat fmt;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (starts_with(line, "name: ")) fmt.name = std::string(trim(line.substr(6)));
    else if (starts_with(line, "ID: ")) fmt.id = static_cast<uint32_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
    TracepointField f;
    if (parse_field_line(line, &f) && !starts_with(f.name, "common_")) fmt.fields.push_back(f);
  }
  if (fmt.name.empty()) return make_error("not a tracepoint format (no 'name:' line)");
  return fmt;
}

Result<TracepointFormat> read_tracepoint_format(const std::string& category, const std::string& name) {
  PROBE_ASSIGN_OR_RETURN(std::string root, tracefs_root());
  std::string path = root + "/events/" + category + "/" + name + "/format";
  auto text = read_file(path);
  if (!text) return make_error("tracepoint '{}:{}' not found (looked for {})", category, name, path);
  PROBE_ASSIGN_OR_RETURN(TracepointFormat f, parse_tracepoint_format(*text));
  f.category = category;
  return f;
}

}  // namespace probe
