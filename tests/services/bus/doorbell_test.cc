#include "services/bus/doorbell.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace pathway::bus {
namespace {
using std::chrono::milliseconds;

TEST(DoorbellTest, ARingBeforeTheWaitIsNotLostAndClearForgetsIt) {
  Doorbell bell;
  ASSERT_GE(bell.fd(), 0);
  bell.Ring();
  bell.Ring();
  EXPECT_TRUE(bell.Wait(milliseconds(60000))) << "rung: returns at once";
  EXPECT_TRUE(bell.Wait(milliseconds(60000))) << "until cleared";
  bell.Clear();
  EXPECT_FALSE(bell.Wait(milliseconds(1)));
  EXPECT_FALSE(bell.Wait(milliseconds(0))) << "a zero timeout never waits";
  bell.Clear();  // clearing an unrung bell is harmless
  EXPECT_FALSE(bell.Wait(milliseconds(1)));
}

TEST(DoorbellTest, ARingFromAnotherThreadEndsTheWait) {
  Doorbell bell;
  std::thread ringer([&bell] { bell.Ring(); });
  // Bounded by its timeout; the ring ends it (before or during the wait).
  const bool rang = bell.Wait(milliseconds(60000));
  ringer.join();
  EXPECT_TRUE(rang);
}

}  // namespace
}  // namespace pathway::bus
