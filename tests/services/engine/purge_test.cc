// After an erasure the landing topics' processed records are deleted, and a broker
// that refuses does not make the engine give up (issue 11): the purge is retried with
// a doubling pause until it succeeds, across restarts, and is visible meanwhile.
#include <gtest/gtest.h>

#include "services/engine/engine.h"
#include "tests/common/engine_harness.h"
#include "tests/common/two_children.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::Erase;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ReferralA;

int64_t InboundStart(EngineHarness& h) {
  int64_t start = 0;
  for (int32_t p = 0; p < h.broker().PartitionCount(std::string(topics::kInbound)); ++p) {
    start += h.broker().LogStart(std::string(topics::kInbound), p);
  }
  return start;
}

EngineOptions NoPause() {
  EngineOptions options;
  options.purge_backoff_min = std::chrono::milliseconds(0);
  options.purge_backoff_max = std::chrono::milliseconds(0);
  return options;
}

TEST(Purge, ARefusedPurgeIsRetriedUntilItSucceedsAndIsVisibleMeanwhile) {
  EngineHarness h(NoPause());
  h.Publish(ReferralA(/*young_adult=*/true));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.broker().FailNextDeleteRecords(4);
  h.Publish(Erase("erase-a", kValidNhsNumber));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  // Four refusals: never given up, never fatal, always visible.
  for (int i = 0; i < 10 && h.engine().stats().purge_failures < 4; ++i) {
    ASSERT_TRUE(h.engine().Step(std::chrono::milliseconds(0)).ok());
  }
  EXPECT_EQ(h.engine().stats().purge_failures, 4u);
  EXPECT_TRUE(h.engine().live());
  ASSERT_TRUE(h.engine().Step(std::chrono::milliseconds(0)).ok());
  EXPECT_EQ(h.engine().PurgeStatus(), "") << "the fifth attempt succeeded";
  EXPECT_GT(InboundStart(h), 0) << "the landing records were deleted";
  auto snapshot = h.engine().Snapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->purges_pending, 0u);
}

// Options whose first failed purge is not retried within the process.
EngineOptions OneTryPerProcess() {
  EngineOptions options;
  options.purge_backoff_min = std::chrono::hours(1);
  options.purge_backoff_max = std::chrono::hours(1);
  return options;
}

// A child erased while the broker refuses the first DeleteRecords.
void EraseWithTheFirstPurgeRefused(EngineHarness& h) {
  h.Publish(ReferralA(/*young_adult=*/true));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.broker().FailNextDeleteRecords(1);
  h.Publish(Erase("erase-a", kValidNhsNumber));
  ASSERT_TRUE(h.RunUntilIdle().ok());
}

TEST(Purge, APendingPurgeSurvivesARestart) {
  EngineHarness h(OneTryPerProcess());
  ASSERT_NO_FATAL_FAILURE(EraseWithTheFirstPurgeRefused(h));
  EXPECT_EQ(h.engine().stats().purge_failures, 1u);
  EXPECT_NE(h.engine().PurgeStatus().find("erasure purge pending on partition"), std::string::npos)
      << h.engine().PurgeStatus();
  EXPECT_NE(h.engine().PurgeStatus().find("injected DeleteRecords failure"), std::string::npos);
  auto snapshot = h.engine().Snapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->purges_pending, 1u);
  EXPECT_EQ(InboundStart(h), 0);

  h.Restart();  // the mark is in the store: the new process purges at once
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_GT(InboundStart(h), 0);
  EXPECT_EQ(h.engine().PurgeStatus(), "");
}

TEST(Purge, ANewOwnerRestoringAnErasurePurgesToo) {
  EngineHarness h(OneTryPerProcess());
  ASSERT_NO_FATAL_FAILURE(EraseWithTheFirstPurgeRefused(h));
  ASSERT_EQ(InboundStart(h), 0);
  EngineHarness next(h.broker());  // restores every partition from the changelog
  ASSERT_TRUE(next.RunUntilIdle().ok());
  EXPECT_GT(InboundStart(next), 0);
  EXPECT_EQ(next.engine().PurgeStatus(), "");
}

}  // namespace
}  // namespace pathway::engine
