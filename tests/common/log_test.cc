// Log lines escape everything a partner may have sent (common/log.h).
#include "common/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace pathway::log {
namespace {
using namespace std::string_literals;

TEST(LogEscape, PlainValuesStayAsTheyAre) {
  EXPECT_EQ(EscapeValue("evt-1"), "evt-1");
  EXPECT_EQ(EscapeValue("pathway.inbound.v1/0@12"), "pathway.inbound.v1/0@12");
  EXPECT_EQ(EscapeValue(""), "\"\"");
  EXPECT_EQ(EscapeValue("two words"), "\"two words\"");
  EXPECT_EQ(EscapeValue("a=b"), "\"a=b\"");
  EXPECT_EQ(EscapeValue("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(EscapeValue("Zo\xc3\xab"), "Zo\xc3\xab");  // printable UTF-8 is kept
}

TEST(LogEscape, ControlCharactersAreEscaped) {
  EXPECT_EQ(EscapeValue("a\nb"), "\"a\\nb\"");
  EXPECT_EQ(EscapeValue("a\rb"), "\"a\\rb\"");
  EXPECT_EQ(EscapeValue("a\tb"), "\"a\\tb\"");
  EXPECT_EQ(EscapeValue("a\0b"s), "\"a\\x00b\"");
  EXPECT_EQ(EscapeValue("\x1b[2J"), "\"\\x1b[2J\"");
  EXPECT_EQ(EscapeValue("a\x7f"), "\"a\\x7f\"");
  EXPECT_EQ(EscapeValue("a\xc2\x85"), "\"a\\xc2\\x85\"");  // C1 NEL, valid UTF-8
  EXPECT_EQ(EscapeValue("\x07"), "\"\\x07\"");
}

TEST(LogEscape, BytesThatAreNotUtf8AreEscaped) {
  EXPECT_EQ(EscapeValue("a\xff"), "\"a\\xff\"");
  EXPECT_EQ(EscapeValue("\xc0\xaf"), "\"\\xc0\\xaf\"");           // overlong
  EXPECT_EQ(EscapeValue("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");  // surrogate
  EXPECT_EQ(EscapeValue("Zo\xc3"), "\"Zo\\xc3\"");                // truncated
}

TEST(LogEscape, EveryByteGivesPrintableAsciiOrUtf8AndNoLineBreak) {
  for (int c = 0; c < 256; ++c) {
    std::string out = EscapeValue(std::string(1, static_cast<char>(c)) + "x");
    EXPECT_EQ(out.find_first_of("\r\n\x1b"s + '\0'), std::string::npos) << c;
    for (unsigned char o : out) EXPECT_TRUE(o >= 0x20 && o < 0x7f) << c;
  }
}

TEST(LogEscape, LongValuesAreCut) {
  std::string big(400 * 1024, 'e');
  std::string out = EscapeValue(big);
  EXPECT_EQ(out, "\"" + std::string(kMaxValueBytes, 'e') + "...(409600 bytes)\"");
  EXPECT_EQ(EscapeValue(std::string(kMaxValueBytes, 'e')), std::string(kMaxValueBytes, 'e'));
  // Never in the middle of a character.
  std::string accents = std::string(kMaxValueBytes - 1, 'a') + "\xc3\xab" + "tail";
  EXPECT_EQ(EscapeValue(accents), "\"" + std::string(kMaxValueBytes - 1, 'a') + "...(" +
                                      std::to_string(accents.size()) + " bytes)\"");
}

TEST(LogWrite, OneCallIsOneLine) {
  ::testing::internal::CaptureStderr();
  Warn("dead_letter", {{"source", "in/0@1"}, {"reason", "bad\r\nlevel=error event=forged\x1b[0m"}});
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_NE(out.find("reason=\"bad\\r\\nlevel=error event=forged\\x1b[0m\""), std::string::npos)
      << out;
}

}  // namespace
}  // namespace pathway::log
