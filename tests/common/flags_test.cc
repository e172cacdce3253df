#include "common/flags.h"

#include <gtest/gtest.h>

namespace pathway {
namespace {

TEST(WholeNumber, AcceptsOnlyAWholeNumberInRange) {
  EXPECT_EQ(WholeNumber("12", 1, 720), 12);
  EXPECT_EQ(WholeNumber("1", 1, 720), 1);
  EXPECT_EQ(WholeNumber("720", 1, 720), 720);
  EXPECT_EQ(WholeNumber("-3", -5, 5), -3);
  EXPECT_EQ(WholeNumber("0", 1, 720), std::nullopt);
  EXPECT_EQ(WholeNumber("721", 1, 720), std::nullopt);
  EXPECT_EQ(WholeNumber("", 0, 10), std::nullopt);
  EXPECT_EQ(WholeNumber("12abc", 0, 100), std::nullopt);
  EXPECT_EQ(WholeNumber("abc", 0, 100), std::nullopt);
  EXPECT_EQ(WholeNumber("1.5", 0, 100), std::nullopt);
  EXPECT_EQ(WholeNumber("99999999999999999999999", 0, 100), std::nullopt);
}

// The engine's --query-listen and the gateway's --listen: the port checked as
// WholeNumber checks it, an IPv6 host's brackets removed (the engine writes them back
// when it advertises its URL).
TEST(SplitHostPort, AcceptsHostAndPortAndUnbracketsIpv6) {
  std::string host;
  uint16_t port = 1;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(SplitHostPort("[::1]:9465", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9465);
  for (const char* bad : {"", ":80", "localhost", "h:", "h:65536", "h:-1", "h:80x", "h:8 0"}) {
    EXPECT_FALSE(SplitHostPort(bad, &host, &port)) << bad;
  }
}

}  // namespace
}  // namespace pathway
