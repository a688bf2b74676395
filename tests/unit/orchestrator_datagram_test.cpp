#include <gtest/gtest.h>

#include "runtime/sinks/orchestrator/datagram.h"

namespace probe {
namespace {

TEST(OrchestratorDatagram, MatchesTheV0WireFormatByteForByte) {
  std::string why;
  auto d = format_orchestrator_datagram("GET", "ipinfo.io", "/1.2.3.4/geo", 182.41234, &why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(*d, "0\tGET\tipinfo.io\t/1.2.3.4/geo\t182.412\n");
}

TEST(OrchestratorDatagram, LatencyAlwaysHasALeadingDigit) {
  std::string why;
  EXPECT_EQ(*format_orchestrator_datagram("GET", "h", "/", 0.5, &why), "0\tGET\th\t/\t0.500\n");
  EXPECT_EQ(*format_orchestrator_datagram("GET", "h", "/", -3, &why), "0\tGET\th\t/\t0.000\n");
  EXPECT_EQ(*format_orchestrator_datagram("GET", "h", "/", 1e9, &why),
            "0\tGET\th\t/\t1000000000.000\n");
}

TEST(OrchestratorDatagram, FieldsNeverContainWhitespaceOrAreEmpty) {
  std::string why;
  EXPECT_EQ(*format_orchestrator_datagram("POST", "a b", "/x y\tz", 1, &why),
            "0\tPOST\ta%20b\t/x%20y%09z\t1.000\n");
  EXPECT_EQ(*format_orchestrator_datagram("GET", "h", "", 1, &why), "0\tGET\th\t/\t1.000\n");
  EXPECT_EQ(*format_orchestrator_datagram("GET", "h", "/caf\xc3\xa9", 1, &why),
            "0\tGET\th\t/caf%C3%A9\t1.000\n");
  EXPECT_FALSE(format_orchestrator_datagram("GET", "", "/", 1, &why));
  EXPECT_EQ(why, "host is empty");
  EXPECT_FALSE(format_orchestrator_datagram("", "h", "/", 1, &why));
  EXPECT_FALSE(format_orchestrator_datagram("get me", "h", "/", 1, &why));
}

TEST(OrchestratorDatagram, StaysUnderEightKilobytes) {
  std::string why;
  auto d = format_orchestrator_datagram("GET", "h", "/" + std::string(20000, ' '), 1, &why);
  ASSERT_TRUE(d);
  EXPECT_LE(d->size(), kMaxDatagram);
  EXPECT_EQ(d->substr(d->size() - 7), "\t1.000\n");
  // No %XX escape is cut in half.
  auto path_end = d->rfind('\t');
  std::string path = d->substr(8, path_end - 8);
  EXPECT_EQ(path.size() % 3, 1u);  // "/" + n * "%20"
}

TEST(OrchestratorDatagram, SplitsEndpoints) {
  std::string h, p;
  ASSERT_TRUE(split_endpoint("127.0.0.1:51712", &h, &p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, "51712");
  ASSERT_TRUE(split_endpoint("[::1]:9", &h, &p));
  EXPECT_EQ(h, "::1");
  EXPECT_EQ(p, "9");
  ASSERT_TRUE(split_endpoint("orchestrator.local:51713", &h, &p));
  EXPECT_EQ(h, "orchestrator.local");
  EXPECT_FALSE(split_endpoint("::1:9", &h, &p));
  EXPECT_FALSE(split_endpoint("host", &h, &p));
  EXPECT_FALSE(split_endpoint("host:port", &h, &p));
}

}  // namespace
}  // namespace probe
