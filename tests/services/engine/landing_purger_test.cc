#include "services/engine/landing_purger.h"

#include <gtest/gtest.h>

#include <thread>

#include "services/bus/memory_bus.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {
using std::chrono::milliseconds;

class LandingPurgerTest : public testing::StageFixture {
 protected:
  LandingPurgerTest()
      : intake_(bus::NewMemoryConsumer(broker_, "g.intake")),
        processor_(bus::NewMemoryConsumer(broker_, "g.commands")),
        purger_(context_, *intake_, *processor_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 2);
    for (int i = 0; i < 5; ++i) {
      broker_.Append(std::string(topics::kCommands), 0, "k", "command");
      broker_.Append(std::string(topics::kInbound), 1, "k", "inbound");
    }
    broker_.CommittedOffsets()["g.intake/" + std::string(topics::kInbound) + "/1"] = 2;
    // Partition 0 consumed three commands; everything it queued is delivered.
    state::CaseStore& store = Own(0);
    state::Batch batch;
    batch.consumed = state::ConsumedOffset{std::string(topics::kCommands), 0, 3};
    EXPECT_TRUE(store.Commit(batch).ok());
  }
  void DeliverOutbox() {
    std::vector<state::Delivered> delivered;
    for (const auto& item : Outbox(*stores_.Find(0))) {
      delivered.push_back({item.sequence, item.entry.mirrored()});
    }
    ASSERT_TRUE(stores_.Find(0)->DeleteDelivered(delivered).ok());
    ASSERT_TRUE(Outbox(*stores_.Find(0)).empty());
  }

  bus::MemoryBroker broker_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  LandingPurger purger_;
};

TEST_F(LandingPurgerTest, WaitsForTheOutboxThenDeletesWhatWasProcessed) {
  purger_.Mark(0);
  purger_.Run();
  EXPECT_EQ(purger_.pending(), 1u) << "a new owner may still need these commands";
  EXPECT_EQ(broker_.LogStart(std::string(topics::kCommands), 0), 0);
  EXPECT_NE(purger_.Describe().find("partition 0"), std::string::npos);

  DeliverOutbox();
  purger_.Run();
  EXPECT_EQ(purger_.pending(), 0u);
  EXPECT_EQ(purger_.Describe(), "");
  EXPECT_EQ(broker_.LogStart(std::string(topics::kCommands), 0), 3);
  EXPECT_EQ(broker_.LogStart(std::string(topics::kInbound), 1), 2);
  EXPECT_EQ(broker_.LogStart(std::string(topics::kInbound), 0), 0);
}

TEST_F(LandingPurgerTest, AFailureIsRetriedAfterAPauseUntilItSucceeds) {
  options_.purge_backoff_min = milliseconds(40);
  DeliverOutbox();
  broker_.FailNextDeleteRecords(1);
  purger_.Mark(0);
  purger_.Run();
  EXPECT_EQ(stats_.purge_failures, 1u);
  EXPECT_NE(purger_.Describe().find("1 failed"), std::string::npos);
  purger_.Run();
  EXPECT_EQ(stats_.purge_failures, 1u) << "not before the pause has passed";
  EXPECT_EQ(purger_.pending(), 1u);
  std::this_thread::sleep_for(milliseconds(60));
  purger_.Run();
  EXPECT_EQ(purger_.pending(), 0u);
  EXPECT_EQ(broker_.LogStart(std::string(topics::kCommands), 0), 3);
}

TEST_F(LandingPurgerTest, APartitionThatMovedAwayIsLeftToItsNewOwner) {
  purger_.Mark(0);
  stores_.Close(0);
  purger_.Run();
  EXPECT_EQ(purger_.pending(), 0u);
  EXPECT_EQ(broker_.LogStart(std::string(topics::kCommands), 0), 0);
}

}  // namespace
}  // namespace pathway::engine
