#include "services/engine/partition_restorer.h"

#include <gtest/gtest.h>

#include "services/bus/memory_bus.h"
#include "services/engine/delivery_router.h"
#include "services/engine/engine.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {
using std::chrono::milliseconds;

// A restorer over the memory bus; the committer fake sends the fence with the memory
// producer.
class PartitionRestorerTest : public testing::StageFixture {
 protected:
  PartitionRestorerTest()
      : producer_(bus::NewMemoryProducer(broker_, router_.callback())),
        restore_(bus::NewMemoryConsumer(broker_, "")),
        restorer_(context_, *producer_, *restore_, committer_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 2);
    committer_.send_alone_via = producer_.get();
    auto registration = router_.Register(
        DeliveryRouter::Channel::kFence,
        [this](uint64_t local, const bus::Delivery& d) { restorer_.OnFenceDelivery(local, d); });
    EXPECT_TRUE(registration.ok());
    registration_ = std::move(*registration);
  }

  // Fences on the changelog partition, in order.
  std::vector<std::string> Fences(int32_t partition) {
    std::vector<std::string> out;
    for (const auto& m : broker_.Log(std::string(topics::kChangelog), partition)) {
      if (auto owner = state::CaseStore::FenceOwner(m.key.value_or(""))) out.push_back(*owner);
    }
    return out;
  }
  // Commits that `partition` consumed pathway.commands.v1 up to `next`.
  void Consume(int32_t partition, int64_t next) {
    state::Batch batch;
    batch.partition = partition;
    batch.consumed = state::ConsumedOffset{std::string(topics::kCommands), partition, next};
    ASSERT_TRUE(stores_.Find(partition)->Commit(batch).ok());
  }

  bus::MemoryBroker broker_;
  DeliveryRouter router_;
  testing::FakeCommitter committer_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> restore_;
  PartitionRestorer restorer_;
  DeliveryRouter::Registration registration_;
};

// Each takeover used to wait about 0.5 s for the previous partition's idle fetch.
TEST(RestoreConsumerConfig, AFetchThatFindsNothingComesBackAtOnceUnlessTheOperatorSaysOtherwise) {
  bus::KafkaConfig service;
  service.bootstrap_servers = "b:9092";
  service.settings["security.protocol"] = "ssl";
  bus::KafkaConfig restore = RestoreConsumerConfig(service);
  EXPECT_EQ(restore.bootstrap_servers, "b:9092");
  EXPECT_EQ(restore.settings.at("security.protocol"), "ssl") << "everything else is kept";
  EXPECT_EQ(restore.settings.at("fetch.wait.max.ms"), "10");
  service.settings["fetch.wait.max.ms"] = "50";
  EXPECT_EQ(RestoreConsumerConfig(service).settings.at("fetch.wait.max.ms"), "50");
}

TEST_F(PartitionRestorerTest, AFirstTakeOverFencesTheChangelogAndStartsAtTheBeginning) {
  auto takeover = restorer_.TakeOver(1);
  ASSERT_TRUE(takeover.ok()) << takeover.error().ToString();
  EXPECT_EQ(takeover->next_offset, bus::kOffsetBeginning);
  EXPECT_FALSE(takeover->purge_pending);
  EXPECT_EQ(committer_.sent_alone, 1) << "the fence is durable on its own";
  EXPECT_EQ(Fences(1).size(), 1u);
  EXPECT_TRUE(Fences(0).empty());
  auto local = stores_.Find(1)->LocalFence();
  ASSERT_TRUE(local.ok() && local->has_value());
  EXPECT_EQ((*local)->owner, Fences(1).back());
  EXPECT_EQ(committer_.restored, std::vector<int32_t>{1});
}

TEST_F(PartitionRestorerTest, AStoreNobodyElseOwnedSinceIsKept) {
  ASSERT_TRUE(restorer_.TakeOver(0).ok());
  const uint64_t restores = stats_.restores;
  Consume(0, 5);  // committed locally, not yet on the changelog
  stores_.Close(0);

  auto takeover = restorer_.TakeOver(0);
  ASSERT_TRUE(takeover.ok()) << takeover.error().ToString();
  EXPECT_EQ(takeover->next_offset, 5) << "the local store is still the truth";
  EXPECT_EQ(stats_.restores, restores);
  EXPECT_EQ(Fences(0).size(), 2u);
}

TEST_F(PartitionRestorerTest, AStoreAnotherOwnerFencedSinceIsRebuiltFromTheChangelog) {
  ASSERT_TRUE(restorer_.TakeOver(0).ok());
  Consume(0, 5);  // never reached the changelog: lost with the stale copy
  stores_.Close(0);

  // Another instance takes the partition over meanwhile.
  pathway::testing::TempDir other_dir;
  state::StoreSet other_stores(other_dir.path(), std::string(topics::kChangelog),
                               std::string(32, 'K'));
  EngineStats other_stats;
  std::set<int32_t> other_owned;
  StageContext other{options_, other_stores, other_stats, other_owned, {}};
  testing::FakeCommitter other_committer;
  other_committer.send_alone_via = producer_.get();
  auto other_restore = bus::NewMemoryConsumer(broker_, "");
  PartitionRestorer other_restorer(other, *producer_, *other_restore, other_committer);
  registration_ = {};
  auto registration = router_.Register(
      DeliveryRouter::Channel::kFence,
      [&](uint64_t local, const bus::Delivery& d) { other_restorer.OnFenceDelivery(local, d); });
  ASSERT_TRUE(registration.ok());
  ASSERT_TRUE(other_restorer.TakeOver(0).ok());
  registration->Release();
  auto again = router_.Register(
      DeliveryRouter::Channel::kFence,
      [this](uint64_t local, const bus::Delivery& d) { restorer_.OnFenceDelivery(local, d); });
  ASSERT_TRUE(again.ok());
  registration_ = std::move(*again);

  const uint64_t restores = stats_.restores;
  auto takeover = restorer_.TakeOver(0);
  ASSERT_TRUE(takeover.ok()) << takeover.error().ToString();
  EXPECT_EQ(stats_.restores, restores + 1);
  EXPECT_EQ(takeover->next_offset, bus::kOffsetBeginning);
  EXPECT_EQ(Fences(0).size(), 3u);
}

// Decision 134: a takeover stopped after producing its fence and before saving it left
// a fence that is this store's own, not another owner's.
TEST_F(PartitionRestorerTest, AFenceOfATakeOverCutShortIsTheStoresOwn) {
  ASSERT_TRUE(restorer_.TakeOver(0).ok());
  Consume(0, 5);  // committed locally, not yet on the changelog
  auto cut_short = [this](const std::string& owner, bool noted) {
    if (noted) {
      ASSERT_TRUE(stores_.Find(0)->NoteOwner(owner).ok());
    }
    auto fence = state::CaseStore::FenceRecord(owner);
    broker_.Append(std::string(topics::kChangelog), 0, fence.key(), fence.value());
  };
  cut_short("cut-short", true);
  stores_.Close(0);
  const uint64_t restores = stats_.restores;
  auto kept = restorer_.TakeOver(0);
  ASSERT_TRUE(kept.ok()) << kept.error().ToString();
  EXPECT_EQ(kept->next_offset, 5) << "the local store is still the truth";
  EXPECT_EQ(stats_.restores, restores);
  auto noted = stores_.Find(0)->NotedOwners();
  ASSERT_TRUE(noted.ok());
  EXPECT_TRUE(noted->empty()) << "forgotten once the new fence is saved";

  // The same fence from an owner this store never noted: another instance had it.
  cut_short("stranger", false);
  stores_.Close(0);
  auto rebuilt = restorer_.TakeOver(0);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().ToString();
  EXPECT_EQ(stats_.restores, restores + 1);
  EXPECT_EQ(rebuilt->next_offset, bus::kOffsetBeginning) << "offset 5 never reached the changelog";
}

// Decision 133 and 134: over a changelog that lost everything, the kept store is the only
// copy; a takeover cut short there must not throw it away, and the next one re-seeds
// the changelog from it.
TEST_F(PartitionRestorerTest, OverALostChangelogTheStoreIsKeptAndReseedsIt) {
  ASSERT_TRUE(restorer_.TakeOver(0).ok());
  Consume(0, 5);
  auto sent = stores_.Find(0)->ReadOutbox(0, 100);
  ASSERT_TRUE(sent.ok());
  for (const auto& item : *sent) {
    ASSERT_TRUE(stores_.Find(0)->DeleteOutbox(item.sequence).ok());  // delivered
  }
  broker_.Truncate(std::string(topics::kChangelog), 0, 0);  // the topic recreated
  ASSERT_TRUE(stores_.Find(0)->NoteOwner("cut-short").ok());
  auto fence = state::CaseStore::FenceRecord("cut-short");
  broker_.Append(std::string(topics::kChangelog), 0, fence.key(), fence.value());
  stores_.Close(0);

  const uint64_t restores = stats_.restores;
  auto takeover = restorer_.TakeOver(0);
  ASSERT_TRUE(takeover.ok()) << takeover.error().ToString();
  EXPECT_EQ(takeover->next_offset, 5);
  EXPECT_EQ(stats_.restores, restores);
  EXPECT_GT(stats_.reseeded_records, 0u);
  size_t records = 0;
  bool offsets = false;
  auto queued = stores_.Find(0)->ReadOutbox(0, 1000);
  ASSERT_TRUE(queued.ok());
  for (const auto& item : *queued) {
    ASSERT_TRUE(item.entry.changelog());
    ++records;
    offsets = offsets || static_cast<uint8_t>(item.entry.key()[0]) ==
                             static_cast<uint8_t>(state::ColumnFamily::kOffsets);
  }
  EXPECT_EQ(records, stats_.reseeded_records);
  EXPECT_TRUE(offsets) << "the consumed offset is on the changelog again";

  // Taken over again (the re-seed not sent yet): nothing is queued twice.
  stores_.Close(0);
  ASSERT_TRUE(restorer_.TakeOver(0).ok());
  auto again = stores_.Find(0)->ReadOutbox(0, 1000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), records);
}

TEST_F(PartitionRestorerTest, WithoutAChangelogTheStoreIsUsedAsItIs) {
  pathway::testing::TempDir plain_dir;
  state::StoreSet plain(plain_dir.path(), "");
  StageContext context{options_, plain, stats_, owned_, {}};
  PartitionRestorer restorer(context, *producer_, *restore_, committer_);
  auto takeover = restorer.TakeOver(0);
  ASSERT_TRUE(takeover.ok());
  EXPECT_EQ(takeover->next_offset, bus::kOffsetBeginning);
  EXPECT_EQ(committer_.sent_alone, 0);
  EXPECT_TRUE(Fences(0).empty());
}

TEST_F(PartitionRestorerTest, AFenceNotDeliveredInTimeFailsTheTakeOver) {
  options_.restore_timeout = milliseconds(50);
  broker_.HoldDeliveryReports(true);
  auto takeover = restorer_.TakeOver(0);
  ASSERT_FALSE(takeover.ok());
  EXPECT_EQ(takeover.error().code, make_error_code(bus::errc::kTimeout));
}

}  // namespace
}  // namespace pathway::engine
