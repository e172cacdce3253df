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

std::string Hex(std::string_view hex) {
  std::string out;
  EXPECT_TRUE(HexDecode(hex, &out)) << hex;
  return out;
}

TEST(Crypto, AeadMatchesTheGcmSpecTestCase16) {
  // McGrew and Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256).
  const std::string key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string nonce = Hex("cafebabefacedbaddecaf888");
  const std::string plaintext =
      Hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b525b16aedf5aa0de657ba637b39");
  const std::string aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  auto sealed = AeadSealWithNonce(key, nonce, plaintext, aad);
  ASSERT_TRUE(sealed.ok()) << sealed.error().ToString();
  EXPECT_EQ(HexEncode(*sealed),
            "cafebabefacedbaddecaf888"
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b0"
            "8b1056828838c5f61e6393ba7a0abcc9f662"
            "76fc6ece0f4e1768cddf8853bb2d551b");
  auto opened = AeadOpen(key, *sealed, aad);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, plaintext);
}

TEST(Crypto, AeadRefusesAnyChangeWrongKeyOrOtherContext) {
  auto key = RandomBytes(kAeadKeyBytes);
  ASSERT_TRUE(key.ok());
  auto sealed = AeadSeal(*key, "Amara Okafor", "subject-1|given_name");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kAeadNonceBytes + 12 + kAeadTagBytes);
  EXPECT_EQ(sealed->find("Amara"), std::string::npos) << "no clear text in the sealed form";
  auto opened = AeadOpen(*key, *sealed, "subject-1|given_name");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "Amara Okafor");
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string changed = *sealed;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    EXPECT_FALSE(AeadOpen(*key, changed, "subject-1|given_name").ok()) << "byte " << i;
  }
  EXPECT_FALSE(AeadOpen(*key, *sealed, "subject-2|given_name").ok()) << "another subject";
  auto other = RandomBytes(kAeadKeyBytes);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(AeadOpen(*other, *sealed, "subject-1|given_name").ok()) << "another key";
  EXPECT_FALSE(AeadOpen(*key, sealed->substr(0, 20), "subject-1|given_name").ok()) << "short";
  EXPECT_FALSE(AeadSeal("short key", "x", "").ok());
  // Random nonces: sealing the same value twice gives different bytes.
  auto first = AeadSeal(*key, "same", "");
  auto second = AeadSeal(*key, "same", "");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  // The empty plaintext round-trips.
  auto empty = AeadSeal(*key, "", "");
  ASSERT_TRUE(empty.ok());
  auto reopened = AeadOpen(*key, *empty, "");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*reopened, "");
}

TEST(Crypto, SyntheticSealingRepeatsOnlyWhereEveryInputRepeats) {
  const std::string key(kAeadKeyBytes, '\x42');
  auto sealed = AeadSealSynthetic(key, "loves trains", "field|subject-1", "event-7");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("trains"), std::string::npos) << "no clear text in the sealed form";
  auto opened = AeadOpen(key, *sealed, "field|subject-1");
  ASSERT_TRUE(opened.ok()) << "opens like any sealed value";
  EXPECT_EQ(*opened, "loves trains");
  // Sealed again (a re-decided command): the same bytes.
  auto again = AeadSealSynthetic(key, "loves trains", "field|subject-1", "event-7");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *sealed);
  // Any other input gives another nonce: GCM never sees one nonce twice for two values.
  std::set<std::string> nonces{sealed->substr(0, kAeadNonceBytes)};
  const std::string other_key(kAeadKeyBytes, '\x43');
  for (auto other : {AeadSealSynthetic(key, "loves trainz", "field|subject-1", "event-7"),
                     AeadSealSynthetic(key, "loves trains", "field|subject-2", "event-7"),
                     AeadSealSynthetic(key, "loves trains", "field|subject-1", "event-8"),
                     // The same bytes split differently between aad and context.
                     AeadSealSynthetic(key, "loves trains", "field|subject-1e", "vent-7"),
                     AeadSealSynthetic(other_key, "loves trains", "field|subject-1", "event-7")}) {
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(nonces.insert(other->substr(0, kAeadNonceBytes)).second);
  }
  // The nonce is not a plain hash of the inputs: it depends on the key.
  EXPECT_NE(AeadSealSynthetic(other_key, "x", "", "")->substr(0, kAeadNonceBytes),
            AeadSealSynthetic(key, "x", "", "")->substr(0, kAeadNonceBytes));
  EXPECT_FALSE(AeadSealSynthetic("short key", "x", "", "").ok());
}

}  // namespace
}  // namespace pathway
