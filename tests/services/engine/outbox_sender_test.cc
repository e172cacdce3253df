#include "services/engine/outbox_sender.h"

#include <gtest/gtest.h>

#include <thread>

#include "services/engine/delivery_router.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {
using std::chrono::milliseconds;
using testing::FakeCommitter;
using testing::FakeProducer;

class OutboxSenderTest : public testing::StageFixture {
 protected:
  OutboxSenderTest() : producer_(router_.callback()), sender_(context_, producer_, committer_) {
    auto registration = router_.Register(
        DeliveryRouter::Channel::kOutbox,
        [this](uint64_t local, const bus::Delivery& d) { sender_.OnDelivery(local, d); });
    EXPECT_TRUE(registration.ok());
    registration_ = std::move(*registration);
  }

  // The opaque the sender gives entry `sequence` of `partition`.
  static uint64_t OpaqueOf(uint64_t sequence, int32_t partition = 0, bool mirrored = false) {
    return DeliveryRouter::Opaque(DeliveryRouter::Channel::kOutbox,
                                  OutboxSender::LocalOpaque(partition, sequence, mirrored));
  }
  // What was sent to output topics (not the changelog records commits also queue).
  std::vector<std::string> SentValues() const {
    std::vector<std::string> out;
    for (const auto& s : producer_.sent) {
      if (s.topic != topics::kChangelog) out.push_back(s.value);
    }
    return out;
  }

  // Commits one output of `value` with the consumed offset `offset`: the offset's
  // changelog record follows the output on the outbox. The output's sequence.
  uint64_t QueueWithRecord(state::CaseStore& store, const std::string& value, int64_t offset) {
    const uint64_t sequence = store.NextOutboxSequence();
    state::Batch batch;
    batch.consumed = state::ConsumedOffset{std::string(topics::kCommands), 0, offset};
    AddToOutbox(batch, topics::kEvents, "key-" + value, value);
    EXPECT_TRUE(store.Commit(batch).ok());
    EXPECT_EQ(store.NextOutboxSequence(), sequence + 2) << "the output, then its record";
    return sequence;
  }
  // The changelog records sent, by sequence.
  std::vector<uint64_t> SentRecords() const {
    std::vector<uint64_t> out;
    for (const auto& s : producer_.sent) {
      if (s.topic == topics::kChangelog) out.push_back(s.opaque & ((uint64_t{1} << 40) - 1));
    }
    return out;
  }

  DeliveryRouter router_;
  FakeCommitter committer_;
  FakeProducer producer_;
  OutboxSender sender_;
  DeliveryRouter::Registration registration_;
};

TEST_F(OutboxSenderTest, OpaqueIsThePartitionAndSequenceAsBeforeTheSplit) {
  // Decision 99's encoding: partition above bit 40, bit 61 for a mirrored output (one
  // restored from a changelog written before decision 107), the top bits free for the
  // router's channel (0 for the outbox).
  EXPECT_EQ(OpaqueOf(7, 3), (uint64_t{3} << 40) | 7);
  EXPECT_EQ(OpaqueOf(7, 3, true), (uint64_t{3} << 40) | 7 | (uint64_t{1} << 61));
}

TEST_F(OutboxSenderTest, SendsInOrderOnceAndDeletesOnlyWhatIsConfirmed) {
  state::CaseStore& store = Own(0);
  const uint64_t a = Queue(store, "a");
  const uint64_t b = Queue(store, "b");
  Queue(store, "c");
  sender_.Assigned(0);

  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(producer_.sent[0].opaque, OpaqueOf(a));
  EXPECT_EQ(committer_.opened, 1) << "the committer opens the output before the first send";
  EXPECT_EQ(committer_.outbox_sent[0].size(), producer_.sent.size());
  EXPECT_EQ(sender_.NextUnsent(0), store.NextOutboxSequence());

  // Handed over already: a second pass sends nothing again.
  const size_t sent = producer_.sent.size();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(producer_.sent.size(), sent);

  producer_.Report(OpaqueOf(a));
  producer_.Report(OpaqueOf(b));
  EXPECT_EQ(stats_.delivered, 2u);
  EXPECT_EQ(Outputs(store).size(), 3u) << "deleted in one write, by DeleteDelivered";
  ASSERT_TRUE(sender_.DeleteDelivered().ok());
  EXPECT_EQ(Outputs(store), std::vector<std::string>{"c"});
}

TEST_F(OutboxSenderTest, AFailedDeliveryIsSentAgainFromThereAfterAPause) {
  options_.retry_backoff_min = milliseconds(40);
  state::CaseStore& store = Own(0);
  const uint64_t a = Queue(store, "a");
  const uint64_t b = Queue(store, "b");
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());

  // (A confirmation ends a pause, so the failure is reported last.)
  producer_.Report(OpaqueOf(b));
  producer_.Report(OpaqueOf(a), make_error_code(bus::errc::kDelivery));
  EXPECT_EQ(stats_.send_retries, 1u);
  EXPECT_EQ(sender_.NextUnsent(0), a) << "the cursor is rewound to the failed entry";

  const size_t sent = producer_.sent.size();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(producer_.sent.size(), sent) << "nothing is sent while the partition backs off";
  std::this_thread::sleep_for(milliseconds(60));
  ASSERT_TRUE(sender_.SendOwned().ok());
  // From the failed entry on; the confirmed one is still in the outbox until deleted,
  // so it goes again too (same bytes, same id).
  EXPECT_EQ(SentValues(), (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST_F(OutboxSenderTest, AnEntryTheBrokerRefusesIsReplacedByADeadLetter) {
  state::CaseStore& store = Own(0);
  const uint64_t a = Queue(store, "refused");
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());
  producer_.Report(OpaqueOf(a), make_error_code(bus::errc::kRejected));
  EXPECT_EQ(stats_.outputs_dead_lettered, 0u) << "replaced on the next pass, not in the callback";

  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(stats_.outputs_dead_lettered, 1u);
  EXPECT_EQ(stats_.dead_letters, 1u);
  // In place: what waits for the refused output (its changelog records) waits for
  // the dead letter.
  auto left = Outbox(store);
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.front().sequence, a);
  EXPECT_EQ(left.front().entry.topic(), topics::kDeadLetter);
  ASSERT_EQ(Outputs(store).size(), 1u);
  std::vector<std::string> sent = SentValues();
  ASSERT_EQ(sent.size(), 2u) << "the dead letter goes out in the same pass";
  EXPECT_EQ(sent[0], "refused");
  pathway::v1::Envelope dead;
  ASSERT_TRUE(dead.ParseFromString(sent[1]));
  ASSERT_TRUE(dead.has_dead_lettered());
  EXPECT_EQ(dead.dead_lettered().original_size(), std::string("refused").size());
  EXPECT_EQ(Outputs(store)[0], sent[1]);
}

TEST_F(OutboxSenderTest, AnEntryOverTheRecordLimitIsDeadLetteredWithoutBeingSent) {
  options_.max_record_bytes = 10000;
  state::CaseStore& store = Own(0);
  Queue(store, std::string(12000, 'x'));
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_TRUE(producer_.sent.empty());
  // Its dead letter takes its place and follows on the next pass.
  ASSERT_TRUE(sender_.SendOwned().ok());
  ASSERT_FALSE(producer_.sent.empty());
  for (const auto& sent : producer_.sent) {
    EXPECT_LE(sent.key.size() + sent.value.size(), options_.max_record_bytes);
  }
  EXPECT_EQ(SentValues().size(), 1u) << "one dead letter (outputs are not mirrored)";
  for (const auto& sent : producer_.sent) EXPECT_NE(sent.topic, topics::kEvents);
  EXPECT_EQ(stats_.outputs_dead_lettered, 1u);
}

TEST_F(OutboxSenderTest, AFullQueueEndsThePassWithoutAPause) {
  state::CaseStore& store = Own(0);
  Queue(store, "a");
  sender_.Assigned(0);
  producer_.send_error = make_error_code(bus::errc::kQueueFull);
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_TRUE(producer_.sent.empty());
  producer_.send_error.reset();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), std::vector<std::string>{"a"});
  EXPECT_EQ(stats_.send_retries, 0u);
}

TEST_F(OutboxSenderTest, ATransientSendFailurePausesThePartition) {
  options_.retry_backoff_min = milliseconds(40);
  state::CaseStore& store = Own(0);
  Queue(store, "a");
  sender_.Assigned(0);
  producer_.send_error = make_error_code(bus::errc::kTransport);
  ASSERT_TRUE(sender_.SendOwned().ok()) << "never fatal: it may pass later";
  EXPECT_EQ(stats_.send_retries, 1u);
  producer_.send_error.reset();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_TRUE(producer_.sent.empty());
  std::this_thread::sleep_for(milliseconds(60));
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), std::vector<std::string>{"a"});
}

TEST_F(OutboxSenderTest, AChangelogRecordWaitsForTheOutputsBeforeItAndLaterOutputsGoAhead) {
  // Outputs are not mirrored (decision 107): a record restored while an output before
  // it is lost with its owner would leave that output unsent for ever.
  state::CaseStore& store = Own(0);
  const uint64_t a = QueueWithRecord(store, "a", 1);
  const uint64_t b = QueueWithRecord(store, "b", 2);
  sender_.Assigned(0);

  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), (std::vector<std::string>{"a", "b"})) << "b goes ahead of a's record";
  EXPECT_TRUE(SentRecords().empty());
  EXPECT_EQ(sender_.NextUnsent(0), a + 1) << "the cursor waits at a's record";

  producer_.Report(OpaqueOf(a));
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentRecords(), std::vector<uint64_t>{a + 1}) << "b's record still waits for b";
  EXPECT_EQ(SentValues(), (std::vector<std::string>{"a", "b"})) << "b is not sent twice";

  producer_.Report(OpaqueOf(b));
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentRecords(), (std::vector<uint64_t>{a + 1, b + 1}));
  EXPECT_EQ(sender_.NextUnsent(0), store.NextOutboxSequence());

  // Where a commit confirms records together, nothing waits.
  committer_.confirms_each = false;
  const uint64_t c = QueueWithRecord(store, "c", 3);
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentRecords(), (std::vector<uint64_t>{a + 1, b + 1, c + 1}));
}

TEST_F(OutboxSenderTest, AnOutputSentAheadThatFailsIsSentAgainBeforeItsRecord) {
  options_.retry_backoff_min = milliseconds(40);
  state::CaseStore& store = Own(0);
  const uint64_t a = QueueWithRecord(store, "a", 1);
  const uint64_t b = QueueWithRecord(store, "b", 2);
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());
  ASSERT_EQ(SentValues(), (std::vector<std::string>{"a", "b"}));

  producer_.Report(OpaqueOf(a));
  producer_.Report(OpaqueOf(b), make_error_code(bus::errc::kDelivery));
  EXPECT_EQ(sender_.NextUnsent(0), a + 1) << "the cursor was behind the failed entry already";
  std::this_thread::sleep_for(milliseconds(60));
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), (std::vector<std::string>{"a", "b", "b"}));
  EXPECT_EQ(SentRecords(), std::vector<uint64_t>{a + 1}) << "b's record waits for the new b";

  producer_.ReportAll();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentRecords(), (std::vector<uint64_t>{a + 1, b + 1}));
}

// What is sealed under a new data key waits until the key's changelog record is
// confirmed, where each delivery confirms its record.
class NewKeyOrder : public OutboxSenderTest {
 protected:
  // A new child's key record (confirm_before_later), then an output after it.
  void QueueKeyThenOutput(state::CaseStore& store) {
    ASSERT_TRUE(store.PrepareDataKey(std::string(64, 'a')).ok());
    auto items = Outbox(store);
    ASSERT_FALSE(items.empty());
    ASSERT_TRUE(items.back().entry.confirm_before_later());
    key_sequence_ = items.back().sequence;
    Queue(store, "sealed");
  }
  uint64_t key_sequence_ = 0;
};

TEST_F(NewKeyOrder, NothingAfterANewKeysRecordGoesUntilItIsConfirmed) {
  state::CaseStore& store = Own(0);
  QueueKeyThenOutput(store);
  sender_.Assigned(0);

  ASSERT_TRUE(sender_.SendOwned().ok());
  ASSERT_FALSE(producer_.sent.empty());
  EXPECT_EQ(producer_.sent.back().opaque, OpaqueOf(key_sequence_));
  EXPECT_EQ(producer_.flushes, 1) << "one bounded wait (new_key_wait) for the confirmation";
  const size_t before = producer_.sent.size();

  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(producer_.sent.size(), before) << "still unconfirmed";

  producer_.ReportAll();
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_GT(producer_.sent.size(), before);
  EXPECT_EQ(SentValues(), std::vector<std::string>{"sealed"});
}

TEST_F(NewKeyOrder, AConfirmationDuringTheWaitLetsTheSameStepGoOn) {
  state::CaseStore& store = Own(0);
  QueueKeyThenOutput(store);
  sender_.Assigned(0);
  producer_.confirm_on_flush = true;
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), std::vector<std::string>{"sealed"});
}

TEST_F(NewKeyOrder, WhereACommitConfirmsRecordsTogetherNothingWaits) {
  committer_.confirms_each = false;
  state::CaseStore& store = Own(0);
  QueueKeyThenOutput(store);
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());
  EXPECT_EQ(SentValues(), std::vector<std::string>{"sealed"});
  EXPECT_EQ(producer_.flushes, 0);

  // Reports decide nothing here: the committer deletes entries after its commit.
  producer_.ReportAll();
  ASSERT_TRUE(sender_.DeleteDelivered().ok());
  EXPECT_EQ(stats_.delivered, 0u);
  EXPECT_EQ(Outbox(store).size(), producer_.sent.size());
  EXPECT_EQ(committer_.outbox_sent[0].size(), producer_.sent.size());
}

TEST_F(OutboxSenderTest, AReportForARevokedPartitionIsIgnored) {
  state::CaseStore& store = Own(0);
  const uint64_t a = Queue(store, "a");
  sender_.Assigned(0);
  ASSERT_TRUE(sender_.SendOwned().ok());
  sender_.Revoked(0);
  stores_.Close(0);
  producer_.Report(OpaqueOf(a));
  EXPECT_EQ(stats_.delivered, 0u) << "the entry stays; the next owner sends it again";
  ASSERT_TRUE(sender_.DeleteDelivered().ok());
}

TEST_F(OutboxSenderTest, OpenOutputFailingStopsThePass) {
  state::CaseStore& store = Own(0);
  Queue(store, "a");
  sender_.Assigned(0);
  committer_.open_error = Status(make_error_code(bus::errc::kFenced), "fenced");
  EXPECT_FALSE(sender_.SendOwned().ok());
  EXPECT_TRUE(producer_.sent.empty());
}

}  // namespace
}  // namespace pathway::engine
