#include "common/crypto.h"

#include <gtest/gtest.h>

#include <set>

namespace pathway {
namespace {

TEST(Crypto, HmacSha256MatchesRfc4231TestCase2) {
  // RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?".
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Sha256OfEmptyInput) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HexRoundTripAndRejectsBadInput) {
  std::string bytes("\x00\x7f\x80\xff", 4);
  std::string decoded;
  ASSERT_TRUE(HexDecode(HexEncode(bytes), &decoded));
  EXPECT_EQ(decoded, bytes);
  EXPECT_FALSE(HexDecode("abc", &decoded));  // odd length
  EXPECT_FALSE(HexDecode("zz", &decoded));   // not hex
  ASSERT_TRUE(HexDecode("ABcd", &decoded));
  EXPECT_EQ(decoded, "\xab\xcd");
}

TEST(Crypto, DerivedEventIdsAreDeterministicAndDistinct) {
  // Effectively-once rests on this: a re-send after a crash repeats the same ids.
  EXPECT_EQ(DerivedEventId("evt-1", 0), DerivedEventId("evt-1", 0));
  EXPECT_EQ(DerivedEventId("evt-1", 0).size(), 32u);
  std::set<std::string> ids;
  for (const char* cause : {"evt-1", "evt-10", "evt-1|1", ""}) {
    for (uint32_t i = 0; i < 3; ++i) ids.insert(DerivedEventId(cause, i));
  }
  EXPECT_EQ(ids.size(), 12u);
}

TEST(Crypto, RandomBytesHaveTheRequestedLengthAndDiffer) {
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace pathway
