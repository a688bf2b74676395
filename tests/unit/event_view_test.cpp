// Records are decoded through the manifest layout, and malformed records never read out of
// bounds.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/events/event_view.h"

namespace probe {
namespace {

Manifest manifest() {
  Manifest m;
  m.probe_count = 1;
  ProbeManifest p;
  p.id = 0;
  p.name = "w";
  p.fixed_size = 56;
  p.fields = {{"ssl", plan::FieldType::kPtr, 32, 8, -1, 0},
              {"num", plan::FieldType::kI32, 40, 4, -1, 0},
              {"comm", plan::FieldType::kString, 44, 12, -1, 0},
              {"data", plan::FieldType::kBytes, 0, 0, 0, 64},
              {"tail", plan::FieldType::kBytes, 0, 0, 1, 64}};
  m.probes.push_back(p);
  return m;
}

std::vector<uint8_t> record(const std::string& data, const std::string& tail, uint32_t orig) {
  std::vector<uint8_t> r(56, 0);
  pk_event_header h{0, 0, 42, 43, 1000, 7};
  uint64_t ssl = 0xdeadbeef;
  int32_t num = -5;
  std::memcpy(r.data(), &h, sizeof h);
  std::memcpy(r.data() + 32, &ssl, 8);
  std::memcpy(r.data() + 40, &num, 4);
  std::memcpy(r.data() + 44, "curl", 4);
  auto put = [&](const std::string& s, uint32_t original) {
    pk_var v{static_cast<uint32_t>(s.size()), original};
    r.insert(r.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
    r.insert(r.end(), s.begin(), s.end());
    while (r.size() % 8) r.push_back(0);
  };
  put(data, orig);
  put(tail, static_cast<uint32_t>(tail.size()));
  uint32_t size = static_cast<uint32_t>(r.size());
  std::memcpy(r.data() + 4, &size, 4);
  return r;
}

TEST(EventView, DecodesHeaderFixedAndVariableFields) {
  Manifest m = manifest();
  EventDecoder dec(m);
  auto r = record("GET / HTTP/1.1", "xyz", 9000);
  auto ev = dec.decode(r.data(), r.size());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->pid(), 42u);
  EXPECT_EQ(ev->tid(), 43u);
  EXPECT_EQ(ev->ts_ns(), 1000u);
  EXPECT_EQ(ev->cgroup_id(), 7u);
  const auto& p = m.probes[0];
  EXPECT_EQ(*ev->integer(*p.field("ssl")), 0xdeadbeef);
  EXPECT_EQ(*ev->integer(*p.field("num")), -5);
  EXPECT_EQ(ev->bytes(*p.field("comm"))->data, "curl");
  auto data = ev->bytes(*p.field("data"));
  EXPECT_EQ(data->data, "GET / HTTP/1.1");
  EXPECT_EQ(data->original, 9000u);
  EXPECT_EQ(ev->bytes(*p.field("tail"))->data, "xyz");
}

TEST(EventView, RejectsMalformedRecords) {
  Manifest m = manifest();
  EventDecoder dec(m);
  auto r = record("abc", "def", 3);
  EXPECT_FALSE(dec.decode(r.data(), 10));  // shorter than a header
  auto bad_probe = r;
  bad_probe[0] = 9;
  EXPECT_FALSE(dec.decode(bad_probe.data(), bad_probe.size()));
  // A variable field claiming more bytes than the record holds yields no value.
  auto lying = r;
  uint32_t huge = 100000;
  std::memcpy(lying.data() + 56, &huge, 4);
  auto ev = dec.decode(lying.data(), lying.size());
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->bytes(*m.probes[0].field("data")));
  EXPECT_FALSE(ev->bytes(*m.probes[0].field("tail")));
}

}  // namespace
}  // namespace probe
