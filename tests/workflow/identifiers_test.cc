// Rules: NHS number, 10 digits, modulus 11; UPN check letter (domain.md "Identifiers").
#include "workflow/identifiers.h"

#include <gtest/gtest.h>

namespace pathway::workflow {
namespace {

struct Case {
  const char* number;
  bool valid;
  const char* why;
};

TEST(NhsNumber, Modulus11) {
  const Case cases[] = {
      {"9434765919", true, "documented valid test number"},
      {"6541003238", true, "documented valid test number"},
      {"4000000020", true, "remainder 0 gives check digit 0 (11 means 0)"},
      {"9434765918", false, "wrong check digit"},
      {"1000000010", false, "check digit would be 10: never issued"},
      {"1000000011", false, "check digit would be 10, whatever the last digit"},
      {"943476591", false, "9 digits"},
      {"94347659190", false, "11 digits"},
      {"943 476 5919", false, "spaces are not the canonical form"},
      {"94347659a9", false, "not a digit"},
      {"", false, "empty"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsValidNhsNumber(c.number), c.valid) << c.number << ": " << c.why;
  }
}

TEST(Upn, CheckLetterModulus23) {
  const Case cases[] = {
      {"B801200005001", true, "documented valid example"},
      {"M80120000500A", true, "temporary UPN: a final A counts 0 (sum 80, mod 23 = 11 -> M)"},
      {"C801200005001", false, "wrong check letter"},
      {"b801200005001", false, "lower case is not the canonical form"},
      {"I801200005001", false, "I is not in the check alphabet"},
      {"B80120000500I", false, "a temporary UPN's letter must be in the alphabet"},
      {"B8012000A5001", false, "only the last character may be a letter"},
      {"B80120000500", false, "12 characters"},
      {"B8012000050010", false, "14 characters"},
      {"1801200005001", false, "the first character is a letter"},
      {"", false, "empty"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsValidUpn(c.number), c.valid) << c.number << ": " << c.why;
  }
}

TEST(SubjectKey, SixtyFourLowerCaseHexDigitsAndNothingElse) {
  const std::string key(64, 'a');
  EXPECT_TRUE(IsSubjectKey(key));
  EXPECT_TRUE(IsSubjectKey("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsSubjectKey(key.substr(1)));
  EXPECT_FALSE(IsSubjectKey(key + "a"));
  EXPECT_FALSE(IsSubjectKey(std::string(64, 'A')));
  EXPECT_FALSE(IsSubjectKey(std::string(63, 'a') + "g"));
  EXPECT_FALSE(IsSubjectKey(std::string(60, 'a') + "%2F."));
  EXPECT_FALSE(IsSubjectKey(""));
}

}  // namespace
}  // namespace pathway::workflow

namespace pathway::workflow {
namespace {

TEST(MaskLongNumbers, RunsOfTenDigitsAsNhsNumbersAreWrittenGoShorterOnesStay) {
  EXPECT_EQ(MaskLongNumbers("child 9434765919 refused"), "child [number] refused");
  EXPECT_EQ(MaskLongNumbers("child 943 476 5919, again"), "child [number], again");
  EXPECT_EQ(MaskLongNumbers("943-476-5919"), "[number]");
  EXPECT_EQ(MaskLongNumbers("offset 123456789 of 2"), "offset 123456789 of 2");
  EXPECT_EQ(MaskLongNumbers("size 1048576 - 12 "), "size 1048576 - 12 ");
  EXPECT_EQ(MaskLongNumbers(""), "");
}

}  // namespace
}  // namespace pathway::workflow
