#include "services/engine/transactional_committer.h"

#include <gtest/gtest.h>

#include "services/bus/memory_bus.h"
#include "services/engine/delivery_router.h"
#include "services/engine/outbox_sender.h"
#include "tests/common/transaction_faults.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {
using pathway::testing::FaultyTransactionalProducer;
using pathway::testing::TransactionFaults;

TEST(OutboxMetadata, ParsesOnlyItsOwnFormat) {
  EXPECT_EQ(ParseOutboxMetadata("pathway.outbox.v1:0"), 0u);
  EXPECT_EQ(ParseOutboxMetadata("pathway.outbox.v1:18446744073709551"), 18446744073709551u);
  EXPECT_FALSE(ParseOutboxMetadata(""));
  EXPECT_FALSE(ParseOutboxMetadata("pathway.outbox.v1:"));
  EXPECT_FALSE(ParseOutboxMetadata("pathway.outbox.v1:12a"));
  EXPECT_FALSE(ParseOutboxMetadata("pathway.outbox.v1:12345678901234567890"));
  EXPECT_FALSE(ParseOutboxMetadata("other:12"));
}

class TransactionalCommitterTest : public testing::StageFixture {
 protected:
  TransactionalCommitterTest()
      : producer_(std::make_unique<FaultyTransactionalProducer>(
            bus::NewMemoryTransactionalProducer(broker_, [](const bus::Delivery&) {}), faults_)),
        intake_(bus::NewMemoryConsumer(broker_, "g.intake")),
        processor_(bus::NewMemoryConsumer(broker_, "g.commands")),
        committer_(context_, *producer_, *intake_, *processor_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 4);
    options_.transactions = true;
  }

  // Sends every entry of partition 0's outbox as the OutboxSender would.
  std::vector<uint64_t> SendOutbox(state::CaseStore& store) {
    std::vector<uint64_t> sequences;
    EXPECT_TRUE(committer_.OpenOutput().ok());
    for (const auto& item : Outbox(store)) {
      bus::Outgoing out{item.entry.topic(), item.entry.key(), item.entry.value()};
      out.partition = item.entry.has_partition() ? item.entry.partition() : bus::kPartitionByKey;
      const bool changelog = item.entry.changelog();
      EXPECT_TRUE(
          producer_->Send(out, OutboxSender::LocalOpaque(0, item.sequence, changelog)).ok());
      committer_.OutboxSent(0, {item.sequence, changelog});
      sequences.push_back(item.sequence);
    }
    return sequences;
  }
  std::string Key(std::string_view group, std::string_view topic, int32_t partition) {
    return std::string(group) + "/" + std::string(topic) + "/" + std::to_string(partition);
  }

  bus::MemoryBroker broker_;
  TransactionFaults faults_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  TransactionalCommitter committer_;
};

TEST_F(TransactionalCommitterTest, NeedsATransactionalProducer) {
  auto plain = bus::NewMemoryProducer(broker_, nullptr);
  TransactionalCommitter committer(context_, *plain, *intake_, *processor_);
  Status s = committer.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(bus::errc::kConfig));
  EXPECT_TRUE(committer_.Start().ok());
}

TEST_F(TransactionalCommitterTest, OpensLazilyAndCommitsNothingWhenNothingHappened) {
  ASSERT_TRUE(committer_.Start().ok());
  EXPECT_FALSE(committer_.confirms_each_delivery());
  ASSERT_TRUE(committer_.Commit().ok());
  EXPECT_EQ(faults_.commits, 0) << "no transaction without output or offsets";
  ASSERT_TRUE(committer_.OpenOutput().ok());
  ASSERT_TRUE(committer_.OpenOutput().ok()) << "one transaction per Step";
  EXPECT_TRUE(committer_.open());
  ASSERT_TRUE(committer_.Commit().ok());
  EXPECT_EQ(faults_.commits, 1);
  EXPECT_FALSE(committer_.open());
}

TEST_F(TransactionalCommitterTest, OutputAndBothGroupsOffsetsCommitTogetherThenEntriesAreDeleted) {
  ASSERT_TRUE(committer_.Start().ok());
  state::CaseStore& store = Own(0);
  Queue(store, "a");
  Queue(store, "b");
  committer_.Assigned(0, 3);
  std::vector<uint64_t> sent = SendOutbox(store);
  ASSERT_EQ(sent.size(), 2u) << "two outputs (not mirrored to the changelog: decision 107)";
  ASSERT_TRUE(committer_.CommitIntake({{1, 4}}).ok());
  ASSERT_TRUE(committer_.CommitCommands({{0, 12}}).ok());

  // Delivery reports decide nothing: written is not committed.
  bus::Delivery ok;
  EXPECT_EQ(committer_.Delivered(ok, OutboxRef{0, sent[0]}), DeliveryOutcome::kPending);
  EXPECT_TRUE(broker_.ReadAll(std::string(topics::kEvents)).empty());

  ASSERT_TRUE(committer_.Commit().ok());
  EXPECT_EQ(broker_.ReadAll(std::string(topics::kEvents)).size(), 2u);
  EXPECT_EQ(broker_.CommittedOffsets()[Key("g.intake", topics::kInbound, 1)], 4);
  EXPECT_EQ(broker_.CommittedOffsets()[Key("g.commands", topics::kCommands, 0)], 12);
  EXPECT_EQ(broker_.CommittedMetadata()[Key("g.commands", topics::kCommands, 0)],
            "pathway.outbox.v1:" + std::to_string(sent.back()));
  EXPECT_TRUE(Outbox(store).empty()) << "deleted after the commit, with no tombstones";
  EXPECT_EQ(stats_.delivered, 2u);

  // A later commit that only moves the offset keeps the last sequence committed.
  ASSERT_TRUE(committer_.CommitCommands({{0, 13}}).ok());
  ASSERT_TRUE(committer_.Commit().ok());
  EXPECT_EQ(broker_.CommittedOffsets()[Key("g.commands", topics::kCommands, 0)], 13);
  EXPECT_EQ(broker_.CommittedMetadata()[Key("g.commands", topics::kCommands, 0)],
            "pathway.outbox.v1:" + std::to_string(sent.back()));
}

TEST_F(TransactionalCommitterTest, AFailedDeliveryAbortsAfterDeadLetteringWhatWasRefused) {
  ASSERT_TRUE(committer_.Start().ok());
  state::CaseStore& store = Own(0);
  Queue(store, "refused");
  Queue(store, "fine");
  std::vector<uint64_t> sent = SendOutbox(store);
  bus::Delivery refused;
  refused.error = make_error_code(bus::errc::kRejected);
  refused.error_detail = "too large";
  EXPECT_EQ(committer_.Delivered(refused, OutboxRef{0, sent[0]}), DeliveryOutcome::kPending);

  Status s = committer_.Commit();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(bus::errc::kDelivery));
  EXPECT_EQ(faults_.commits, 0) << "aborted, never committed";
  EXPECT_TRUE(broker_.ReadAll(std::string(topics::kEvents)).empty());
  EXPECT_FALSE(context_.fatal.ok()) << "sticky: the process restarts";
  // The refused entry is a dead letter now, in its place; the other waits for the
  // restart.
  std::vector<std::string> left = Outputs(store);
  ASSERT_EQ(left.size(), 2u);
  pathway::v1::Envelope dead;
  ASSERT_TRUE(dead.ParseFromString(left[0]));
  EXPECT_TRUE(dead.has_dead_lettered());
  EXPECT_EQ(left[1], "fine");
  EXPECT_EQ(stats_.outputs_dead_lettered, 1u);
  EXPECT_FALSE(committer_.Commit().ok());
}

TEST_F(TransactionalCommitterTest, AFailedIntakeOutputFailsTheTransactionToo) {
  ASSERT_TRUE(committer_.Start().ok());
  ASSERT_TRUE(committer_.OpenOutput().ok());
  bus::Delivery failed;
  failed.error = make_error_code(bus::errc::kDelivery);
  EXPECT_EQ(committer_.Delivered(failed, std::nullopt), DeliveryOutcome::kPending);
  ASSERT_TRUE(committer_.CommitIntake({{0, 1}}).ok());
  EXPECT_FALSE(committer_.Commit().ok());
  EXPECT_FALSE(broker_.CommittedOffsets().count(Key("g.intake", topics::kInbound, 0)));
}

TEST_F(TransactionalCommitterTest, ATransactionHoldingARevokedPartitionIsNotCommitted) {
  ASSERT_TRUE(committer_.Start().ok());
  state::CaseStore& store = Own(0);
  Queue(store, "a");
  SendOutbox(store);
  owned_.clear();
  Status s = committer_.Commit();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(bus::errc::kState));
}

TEST_F(TransactionalCommitterTest, RestoredDropsWhatACommittedTransactionCarried) {
  ASSERT_TRUE(committer_.Start().ok());
  state::CaseStore& store = Own(0);
  const uint64_t a = Queue(store, "a");
  const uint64_t b = Queue(store, "b");
  Queue(store, "c");
  // A previous owner committed a and b, then died before deleting them.
  broker_.CommittedOffsets()[Key("g.commands", topics::kCommands, 0)] = 5;
  broker_.CommittedMetadata()[Key("g.commands", topics::kCommands, 0)] =
      "pathway.outbox.v1:" + std::to_string(b);

  ASSERT_TRUE(committer_.Restored(0, store).ok());
  for (const auto& item : Outbox(store)) EXPECT_GT(item.sequence, b);
  EXPECT_EQ(Outputs(store), std::vector<std::string>{"c"});
  EXPECT_GT(store.NextOutboxSequence(), b) << "their sequences are never handed out again";
  (void)a;

  // The next commit of the partition carries the adopted sequence on.
  committer_.Assigned(0, 5);
  ASSERT_TRUE(committer_.CommitCommands({{0, 6}}).ok());
  ASSERT_TRUE(committer_.Commit().ok());
  EXPECT_EQ(broker_.CommittedMetadata()[Key("g.commands", topics::kCommands, 0)],
            "pathway.outbox.v1:" + std::to_string(b));
}

TEST_F(TransactionalCommitterTest, AFenceIsCommittedOnItsOwn) {
  ASSERT_TRUE(committer_.Start().ok());
  bus::Outgoing fence{topics::kChangelog, "fence", "v"};
  fence.partition = 1;
  ASSERT_TRUE(committer_.SendAlone(fence, 1).ok());
  EXPECT_EQ(faults_.commits, 1);
  EXPECT_FALSE(committer_.open());
  EXPECT_EQ(broker_.ReadAll(std::string(topics::kChangelog)).size(), 1u);
}

}  // namespace
}  // namespace pathway::engine
