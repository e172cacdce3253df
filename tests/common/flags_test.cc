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

}  // namespace
}  // namespace pathway
