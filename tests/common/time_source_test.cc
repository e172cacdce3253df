#include "common/time_source.h"

#include <gtest/gtest.h>

namespace pathway {
namespace {

TEST(SimulatedTimeSource, MovesOnlyWhenTold) {
  TimePoint start{std::chrono::seconds(1'700'000'000)};
  SimulatedTimeSource time(start);
  EXPECT_EQ(time.Now(), start);
  EXPECT_EQ(time.Now(), start);
  time.Advance(std::chrono::hours(24));
  EXPECT_EQ(time.Now(), start + std::chrono::hours(24));
  time.Set(start);
  EXPECT_EQ(time.Now(), start);
}

}  // namespace
}  // namespace pathway
