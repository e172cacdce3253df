#include "services/engine/delivery_confirmed_committer.h"

#include <gtest/gtest.h>

#include "services/bus/memory_bus.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {

class DeliveryConfirmedCommitterTest : public testing::StageFixture {
 protected:
  DeliveryConfirmedCommitterTest()
      : producer_(bus::NewMemoryProducer(
            broker_, [this](const bus::Delivery& d) { reports_.push_back(d); })),
        intake_(bus::NewMemoryConsumer(broker_, "g.intake")),
        processor_(bus::NewMemoryConsumer(broker_, "g.commands")),
        committer_(context_, *producer_, *intake_, *processor_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 4);
  }

  std::optional<int64_t> Committed(const std::string& group, std::string_view topic,
                                   int32_t partition) {
    auto& offsets = broker_.CommittedOffsets();
    auto it = offsets.find(group + "/" + std::string(topic) + "/" + std::to_string(partition));
    if (it == offsets.end()) return std::nullopt;
    return it->second;
  }

  bus::MemoryBroker broker_;
  std::vector<bus::Delivery> reports_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  DeliveryConfirmedCommitter committer_;
};

TEST_F(DeliveryConfirmedCommitterTest, EachDeliveryReportDecides) {
  EXPECT_TRUE(committer_.confirms_each_delivery());
  bus::Delivery d;
  EXPECT_EQ(committer_.Delivered(d, OutboxRef{0, 1}), DeliveryOutcome::kConfirmed);
  d.error = make_error_code(bus::errc::kRejected);
  EXPECT_EQ(committer_.Delivered(d, std::nullopt), DeliveryOutcome::kRefused);
  d.error = make_error_code(bus::errc::kDelivery);
  EXPECT_EQ(committer_.Delivered(d, OutboxRef{0, 1}), DeliveryOutcome::kRetry);
  d.error = make_error_code(bus::errc::kTransport);
  EXPECT_EQ(committer_.Delivered(d, std::nullopt), DeliveryOutcome::kRetry);
}

TEST_F(DeliveryConfirmedCommitterTest, OutputNeedsNoUnitAndAwaitingDeliveryFlushes) {
  ASSERT_TRUE(committer_.Start().ok());
  ASSERT_TRUE(committer_.OpenOutput().ok());
  bus::Outgoing fence{topics::kChangelog, "k", "v"};
  fence.partition = 2;
  ASSERT_TRUE(committer_.SendAlone(fence, 77).ok());
  EXPECT_TRUE(reports_.empty()) << "the memory producer reports at Poll or Flush";
  ASSERT_TRUE(committer_.AwaitDelivery(std::chrono::milliseconds(10)).ok());
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].opaque, 77u);
  EXPECT_EQ(reports_[0].partition, 2);
  // Nothing waits for a commit.
  EXPECT_TRUE(committer_.Commit().ok());
  EXPECT_TRUE(committer_.EndStep().ok());
}

TEST_F(DeliveryConfirmedCommitterTest, IntakeOffsetsGoToTheIntakeGroup) {
  ASSERT_TRUE(committer_.CommitIntake({{0, 5}, {3, 9}}).ok());
  EXPECT_EQ(Committed("g.intake", topics::kInbound, 0), 5);
  EXPECT_EQ(Committed("g.intake", topics::kInbound, 3), 9);
}

TEST_F(DeliveryConfirmedCommitterTest, ANewOwnersStoredOffsetIsPublishedOnce) {
  owned_ = {0, 1};
  committer_.Assigned(0, 7);
  committer_.Assigned(1, bus::kOffsetBeginning);  // nothing stored: the group shows 0
  ASSERT_TRUE(committer_.CommitCommands({}).ok());
  EXPECT_EQ(Committed("g.commands", topics::kCommands, 0), 7);
  EXPECT_EQ(Committed("g.commands", topics::kCommands, 1), 0);

  // Published: from now on only what is processed is committed.
  broker_.CommittedOffsets().clear();
  ASSERT_TRUE(committer_.CommitCommands({}).ok());
  EXPECT_FALSE(Committed("g.commands", topics::kCommands, 0));
  ASSERT_TRUE(committer_.CommitCommands({{1, 12}}).ok());
  EXPECT_EQ(Committed("g.commands", topics::kCommands, 1), 12);
  EXPECT_FALSE(Committed("g.commands", topics::kCommands, 0));
}

TEST_F(DeliveryConfirmedCommitterTest,
       ProcessedOffsetsWinOverTheStoredOneAndRevokedArentPublished) {
  owned_ = {0};
  committer_.Assigned(0, 7);
  committer_.Assigned(2, 4);  // assigned, but revoked before the commit
  committer_.Revoked(2);
  ASSERT_TRUE(committer_.CommitCommands({{0, 10}}).ok());
  EXPECT_EQ(Committed("g.commands", topics::kCommands, 0), 10);
  EXPECT_FALSE(Committed("g.commands", topics::kCommands, 2));
}

}  // namespace
}  // namespace pathway::engine
