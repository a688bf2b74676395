// The JSON lines sink: one parseable object per line whatever bytes the record holds, log
// rotation on SIGHUP, and a stalled reader costing drops, never a blocked event loop.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "runtime/sinks/jsonl/jsonl_sink.h"
#include "runtime/sinks/sink.h"
#include "runtime/sinks/utf8.h"
#include "tests/support/env.h"

namespace probe {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

uint64_t accounted(const Sink& s) {
  return s.counters().sent + s.counters().dropped + s.counters().failed;
}

TEST(SinkJsonl, WritesOneObjectPerLine) {
  test::TempDir dir;
  auto sink = JsonlSink::open("jsonl", dir.file("out.jsonl"));
  ASSERT_TRUE(sink) << sink.error().message;
  for (int i = 0; i < 100; ++i) (*sink)->emit({{"i", i}, {"text", "line\nbreak \"quoted\""}});
  (*sink)->flush();
  auto lines = read_lines(dir.file("out.jsonl"));
  ASSERT_EQ(lines.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["i"], i);
    EXPECT_EQ(j["text"], "line\nbreak \"quoted\"");
  }
  EXPECT_EQ((*sink)->counters().sent, 100u);
  EXPECT_EQ((*sink)->queued(), 0u);
}

// Captured bytes are arbitrary: every line must still be one strict JSON object whose strings
// are the input with each ill-formed UTF-8 sequence replaced by U+FFFD, and valid UTF-8
// (including control characters, quotes and backslashes) must come back exactly.
TEST(SinkJsonl, EscapesRandomBytes) {
  std::mt19937 rng(20240611);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<int> len(0, 64), byte(0, 255), pick(0, 3);
  const std::string alphabet[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\"\\\n\t\x01\x7f"};
  for (int round = 0; round < 5000; ++round) {
    std::string s;
    int n = len(rng);
    for (int i = 0; i < n; ++i) {
      if (pick(rng) == 0) {
        s += alphabet[byte(rng) % 4];
      } else {
        s.push_back(static_cast<char>(byte(rng)));
      }
    }
    std::string line = jsonl_line({{"data", s}, {s.substr(0, 8), 1}});
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "a raw newline inside the object";
    for (char c : line.substr(0, line.size() - 1))
      ASSERT_GE(static_cast<unsigned char>(c), 0x20) << "a raw control byte in the line";
    ASSERT_TRUE(valid_utf8(line));
    auto parsed = nlohmann::json::parse(line, nullptr, false);  // strict: rejects bad UTF-8
    ASSERT_FALSE(parsed.is_discarded()) << line;
    EXPECT_EQ(parsed["data"].get<std::string>(), sanitize_utf8(s));
    if (valid_utf8(s)) {
      EXPECT_EQ(parsed["data"].get<std::string>(), s);
    }
  }
}

TEST(SinkJsonl, InvalidBytesBecomeReplacementCharacters) {
  std::string line = jsonl_line({{"d", std::string("ok\xff\xfe" "caf\xc3" "end\xe2\x82")}});
  EXPECT_EQ(line, "{\"d\":\"ok\xef\xbf\xbd\xef\xbf\xbd" "caf\xef\xbf\xbd" "end\xef\xbf\xbd\"}\n");
}

TEST(SinkJsonl, ReopensThePathAfterRotation) {
  test::TempDir dir;
  std::string path = dir.file("events.jsonl");
  auto sink = JsonlSink::open("jsonl", path);
  ASSERT_TRUE(sink);
  (*sink)->emit({{"n", 1}});
  (*sink)->flush();
  std::filesystem::rename(path, path + ".1");  // logrotate's move
  (*sink)->emit({{"n", 2}});                   // still the old file until SIGHUP
  (*sink)->flush();
  (*sink)->reopen();
  (*sink)->emit({{"n", 3}});
  (*sink)->flush();
  EXPECT_EQ(read_lines(path + ".1"), (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
  EXPECT_EQ(read_lines(path), (std::vector<std::string>{"{\"n\":3}"}));
}

TEST(SinkJsonl, AStalledReaderDropsLinesInsteadOfBlocking) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  QueueOptions q = JsonlSink::default_queue();
  q.max_items = 1000;
  auto sink = JsonlSink::open("jsonl", "/proc/self/fd/" + std::to_string(fds[1]), q);
  ASSERT_TRUE(sink) << sink.error().message;
  close(fds[1]);
  const uint64_t emitted = 50000;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < emitted; ++i) (*sink)->emit({{"i", i}, {"pad", std::string(100, 'x')}});
  // Nobody reads the pipe (64 KiB): emit() still returns at once.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_GT((*sink)->counters().dropped, 0u);
  EXPECT_LE((*sink)->queued(), 1000u + 512u);
  // The reader wakes up: what was queued arrives and every line is accounted for.
  std::string got;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  });
  (*sink)->flush();
  EXPECT_EQ(accounted(**sink), emitted);
  uint64_t sent = (*sink)->counters().sent;
  sink->reset();  // closes the write end
  reader.join();
  close(fds[0]);
  EXPECT_EQ(static_cast<uint64_t>(std::count(got.begin(), got.end(), '\n')), sent);
}

TEST(SinkJsonl, CountsWriteErrorsAsFailed) {
  auto sink = JsonlSink::open("jsonl", "/dev/full");
  ASSERT_TRUE(sink);
  for (int i = 0; i < 10; ++i) (*sink)->emit({{"i", i}});
  (*sink)->flush();
  EXPECT_EQ((*sink)->counters().failed, 10u);
  EXPECT_EQ((*sink)->counters().sent, 0u);
}

TEST(SinkJsonl, RefusesAPathItCannotOpen) {
  auto sink = JsonlSink::open("events", "/nonexistent-dir/x.jsonl");
  ASSERT_FALSE(sink);
  EXPECT_NE(sink.error().message.find("sink 'events': cannot open /nonexistent-dir/x.jsonl"),
            std::string::npos)
      << sink.error().message;
}

}  // namespace
}  // namespace probe
