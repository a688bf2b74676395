#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace probe::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};

const char* name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "";
}
}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    if (text == name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(Level level, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  // One fwrite per line so concurrent writers (detach threads) never interleave mid-line.
  std::string line = fmt::format("{:02}:{:02}:{:02}.{:03} {:<5} {}\n", t.tm_hour, t.tm_min,
                                 t.tm_sec, ts.tv_nsec / 1000000, name(level), message);
  fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace probe::log
