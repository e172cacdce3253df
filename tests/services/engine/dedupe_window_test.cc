#include "services/engine/dedupe_window.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pathway::engine {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

std::map<std::string, std::string> Retention(int64_t ms) {
  return {{"cleanup.policy", "delete"}, {"retention.ms", std::to_string(ms)}};
}

TEST(DedupeWindow, CoversATopicKeptNoLongerThanTheWindow) {
  EXPECT_EQ(DedupeWindowShortfall(35, "pathway.inbound.v1", Retention(28 * kDayMs)), std::nullopt);
  EXPECT_EQ(DedupeWindowShortfall(35, "pathway.inbound.v1", Retention(35 * kDayMs)), std::nullopt)
      << "exactly the window";
  EXPECT_EQ(DedupeWindowShortfall(1, "pathway.commands.v1", Retention(0)), std::nullopt);
}

TEST(DedupeWindow, NamesTheTopicTheRetentionAndTheSmallestWindowThatCovers) {
  auto why = DedupeWindowShortfall(7, "pathway.inbound.v1", Retention(35 * kDayMs + 1));
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("pathway.inbound.v1"));
  EXPECT_THAT(*why, HasSubstr(std::to_string(35 * kDayMs + 1) + " ms"));
  EXPECT_THAT(*why, HasSubstr("(36 days), longer than --dedupe-retention-days 7"));
  EXPECT_THAT(*why, HasSubstr("set it to at least 36"));
}

TEST(DedupeWindow, ATopicKeptForEverNeedsEntriesKeptForEver) {
  auto why = DedupeWindowShortfall(35, "pathway.commands.v1", Retention(-1));
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("pathway.commands.v1 keeps messages for ever"));
  EXPECT_THAT(*why, HasSubstr("--dedupe-retention-days 0"));
  EXPECT_EQ(DedupeWindowShortfall(0, "pathway.commands.v1", Retention(-1)), std::nullopt)
      << "a window kept for ever covers everything";
}

TEST(DedupeWindow, ARetentionThatCannotBeReadIsAShortfallNotAPass) {
  for (const std::string bad : {"", "7d", "12 ", "-2", "99999999999999999999999"}) {
    auto why = DedupeWindowShortfall(35, "pathway.inbound.v1", {{"retention.ms", bad}});
    ASSERT_TRUE(why.has_value()) << "'" << bad << "'";
    EXPECT_THAT(*why, HasSubstr("is not a number of milliseconds"));
  }
  auto missing = DedupeWindowShortfall(35, "pathway.inbound.v1", {{"cleanup.policy", "delete"}});
  ASSERT_TRUE(missing.has_value());
  EXPECT_THAT(*missing, HasSubstr("did not state its retention.ms"));
}

}  // namespace
}  // namespace pathway::engine
