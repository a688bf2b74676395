// Small file-system helpers that report errors as Result.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace probe {

Result<std::string> read_file(const std::string& path);
// Reads a regular file of at most `max_bytes`: a policy or include that names /dev/zero or
// /proc/self/fd/0 is an error, not an endless read.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes = 4u << 20);
// Writes to a temporary file in the same directory, then renames: readers never see a
// partial file and concurrent writers of the same content cannot corrupt each other.
Status write_file_atomic(const std::string& path, std::string_view data);
Status make_dirs(const std::string& path);
std::string dirname_of(const std::string& path);
std::string basename_of(const std::string& path);
// The target of a symbolic link (/proc/PID/exe, /proc/PID/ns/mnt), empty if it cannot be read.
std::string read_link(const std::string& path);
// Joins a relative path onto the directory of `base_file`; absolute paths pass through.
std::string resolve_relative(const std::string& base_file, const std::string& path);

}  // namespace probe
