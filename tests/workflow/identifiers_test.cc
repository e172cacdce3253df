// Rule: NHS number, 10 digits, modulus 11 (domain.md "Identifiers").
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

}  // namespace
}  // namespace pathway::workflow
