// Dead letters as operations see them (services/pathwayctl/deadletters.h), on the memory
// bus: dead letters made by the engine's own DeadLetter (services/engine/outputs.h),
// listed with their dispositions, their originals opened, resubmitted once, discarded.
#include "services/pathwayctl/deadletters.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/bus/memory_bus.h"
#include "services/engine/outputs.h"
#include "services/topics.h"
#include "tests/common/fixtures.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

const std::string kKek(32, 'k');
const std::string kInbound(topics::kInbound);
const std::string kDead(topics::kDeadLetter);
const std::string kDispositions(topics::kDeadLetterDispositions);

Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

class DeadLettersTest : public ::testing::Test {
 protected:
  DeadLettersTest() {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 2);
    consumer_ = bus::NewMemoryConsumer(broker_, "");
    producer_ = bus::NewMemoryProducer(broker_, waiter_.Callback());
  }

  // Publishes `value` to inbound partition 1 and dead-letters it there as the engine's
  // intake does (sealed under the deployment's dead-letter key). Returns its place.
  DeadLetterPlace Poison(const std::string& value, const std::string& reason,
                         int32_t dead_partition = 0) {
    const int64_t at = broker_.Append(kInbound, 1, std::string("partner-key"), value);
    const std::string coordinates = kInbound + "/1/" + std::to_string(at);
    auto d = engine::DeadLetter(coordinates, kInbound, 1, at, value, reason, DeadLetterKey(kKek));
    EXPECT_TRUE(d.ok());
    const int64_t offset =
        broker_.Append(kDead, dead_partition, coordinates, d.value().SerializeAsString());
    return {dead_partition, offset};
  }

  DeadLetterRecord Find(DeadLetterPlace place) {
    auto r = FindDeadLetter(*consumer_, place, Soon());
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : DeadLetterRecord{};
  }

  Closer closer_{"op-1", "ops.jones", 1767603600000};
  bus::MemoryBroker broker_;
  DeliveryWaiter waiter_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::unique_ptr<bus::Producer> producer_;
};

std::string Referral(const std::string& id) {
  return pathway::testing::ValidReferral(id).SerializeAsString();
}

TEST(DeadLetterPlace, ParsesPartitionSlashOffsetOnly) {
  auto place = ParseDeadLetterPlace("3/17");
  ASSERT_TRUE(place.has_value());
  EXPECT_EQ(place->partition, 3);
  EXPECT_EQ(place->offset, 17);
  EXPECT_EQ(place->Text(), "3/17");
  for (const char* bad : {"3", "3/", "/17", "-1/2", "3/-2", "a/b", "3/17x", "3/17/1", ""}) {
    EXPECT_FALSE(ParseDeadLetterPlace(bad).has_value()) << bad;
  }
}

TEST(DeadLetterText, ReasonsHideLongNumbersAndTimesAreUtc) {
  EXPECT_EQ(ShownReason("nhs 943 476 5919 failed; 12 bytes"), "nhs [number] failed; 12 bytes");
  EXPECT_EQ(ShownReason(std::string(600, 'a')).size(), 512u + 3);
  EXPECT_EQ(UtcText(1767603600123), "2026-01-05T09:00:00.123Z");
  EXPECT_EQ(UtcText(0), "");
}

TEST(DeadLetterText, HexDumpShowsOffsetsBytesAndText) {
  EXPECT_EQ(HexDump("not a protobuf envelope\n"),
            "00000000  6e 6f 74 20 61 20 70 72  6f 74 6f 62 75 66 20 65  |not a protobuf e|\n"
            "00000010  6e 76 65 6c 6f 70 65 0a                           |nvelope.|\n");
  EXPECT_EQ(HexDump(""), "");
}

TEST(DeadLetterText, UnknownFieldsAreFoundAtAnyDepth) {
  // A newer schema's fields: 99 in the child, 1000 in the envelope (varints).
  v1::Envelope e = pathway::testing::ValidReferral("evt-1");
  v1::ChildIdentity child;
  ASSERT_TRUE(child.ParseFromString(e.referral_submitted().child().SerializeAsString() +
                                    std::string("\x98\x06\x02", 3)));
  *e.mutable_referral_submitted()->mutable_child() = child;
  v1::Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(e.SerializeAsString() + std::string("\xc0\x3e\x01", 3)));
  EXPECT_EQ(UnknownFieldNumbers(parsed), (std::vector<int>{99, 1000}));
}

TEST_F(DeadLettersTest, ListsDeadLettersOldestFirstWithDispositionsAndSkipsOtherRecords) {
  const DeadLetterPlace first = Poison("not a protobuf envelope\n", "does not decode", 1);
  broker_.Append(kDead, 0, std::string("junk"), "not a dead letter");
  const DeadLetterPlace second = Poison(Referral("evt-2"), "message of 40000 bytes exceeds");
  ASSERT_TRUE(Discard(*producer_, waiter_, Find(second), closer_, Soon()).ok());

  auto all = ListDeadLetters(*consumer_, Soon());
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  // No timestamps on the memory bus: by partition, then offset.
  EXPECT_EQ((*all)[0].place, second);
  EXPECT_EQ((*all)[0].DispositionText(), "discarded");
  EXPECT_EQ((*all)[0].disposition->operator_id(), "ops.jones");
  EXPECT_EQ((*all)[1].place, first);
  EXPECT_EQ((*all)[1].DispositionText(), "open");
  EXPECT_TRUE((*all)[1].FromIntake());
  EXPECT_EQ((*all)[1].OriginalText(), kInbound + "/1/0");
  EXPECT_EQ((*all)[1].dead().original_size(), 24u);
}

TEST_F(DeadLettersTest, NoDeadLetterAtAPlaceIsSaidSo) {
  broker_.Append(kDead, 0, std::string("junk"), "not a dead letter");
  for (DeadLetterPlace place : {DeadLetterPlace{0, 0}, DeadLetterPlace{0, 5}, DeadLetterPlace{1, 0},
                                DeadLetterPlace{7, 0}}) {
    auto r = FindDeadLetter(*consumer_, place, Soon());
    ASSERT_FALSE(r.ok()) << place.Text();
    EXPECT_EQ(r.error().code, NoSuchDeadLetter());
    EXPECT_NE(r.error().detail.find("no dead letter at " + place.Text()), std::string::npos);
  }
}

TEST_F(DeadLettersTest, TheWholeOriginalIsReadWhileItIsThereElseTheSealedExcerptIsOpened) {
  const std::string big(10'000, 'x');
  const DeadLetterPlace place = Poison(big, "message too large");
  const DeadLetterRecord r = Find(place);
  // Sealed: the excerpt is not in clear.
  EXPECT_TRUE(r.dead().original().empty());
  EXPECT_EQ(r.envelope.SerializeAsString().find("xxxxxxxx"), std::string::npos);

  auto whole = OpenOriginal(*consumer_, r, DeadLetterKey(kKek), Soon());
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  EXPECT_TRUE(whole->full);
  EXPECT_EQ(whole->bytes, big);

  // Deleted from inbound (retention, or an erasure's purge): the first 4 KiB, said so.
  ASSERT_TRUE(broker_.DeleteRecordsBefore(kInbound, 1, 1).ok());
  auto excerpt = OpenOriginal(*consumer_, r, DeadLetterKey(kKek), Soon());
  ASSERT_TRUE(excerpt.ok()) << excerpt.error().ToString();
  EXPECT_FALSE(excerpt->full);
  EXPECT_EQ(excerpt->bytes, big.substr(0, 4096));
  EXPECT_NE(excerpt->why_excerpt.find("no longer on pathway.inbound.v1/1/0"), std::string::npos);

  // Another deployment's key opens nothing.
  auto wrong = OpenOriginal(*consumer_, r, DeadLetterKey(std::string(32, 'z')), Soon());
  EXPECT_FALSE(wrong.ok());
}

TEST_F(DeadLettersTest, ARecordThatIsNotTheOriginalIsNeitherShownWholeNorResubmitted) {
  const DeadLetterPlace place = Poison(Referral("evt-1"), "message too large");
  DeadLetterRecord r = Find(place);
  r.envelope.mutable_dead_lettered()->set_original_sha256(Sha256("something else"));
  auto content = OpenOriginal(*consumer_, r, DeadLetterKey(kKek), Soon());
  ASSERT_TRUE(content.ok());
  EXPECT_FALSE(content->full);
  EXPECT_NE(content->why_excerpt.find("is not the original"), std::string::npos);

  ResubmitResult result;
  Status s = Resubmit(*consumer_, *producer_, waiter_, r, closer_, Soon(), result);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Refused());
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), 1u);
}

TEST_F(DeadLettersTest, ResubmitProducesTheOriginalToItsPartitionWithItsKeyOnce) {
  const std::string original = Referral("evt-fixed");
  const DeadLetterPlace place = Poison(original, "message of 40000 bytes exceeds the limit");
  ResubmitResult result;
  ASSERT_TRUE(Resubmit(*consumer_, *producer_, waiter_, Find(place), closer_, Soon(), result).ok());
  ASSERT_TRUE(result.copy.has_value());
  ASSERT_EQ(broker_.Log(kInbound, 1).size(), 2u);
  const bus::Message& copy = broker_.Log(kInbound, 1)[1];
  EXPECT_EQ(copy.value, original);
  EXPECT_EQ(copy.key, "partner-key");
  EXPECT_EQ(result.copy->partition, 1);
  EXPECT_EQ(result.copy->offset, 1);
  ASSERT_TRUE(result.disposition.has_value());
  EXPECT_EQ(result.disposition->outcome(), store::DEAD_LETTER_OUTCOME_RESUBMITTED);
  EXPECT_EQ(result.disposition->resubmitted_partition(), 1);
  EXPECT_EQ(result.disposition->resubmitted_offset(), 1);
  EXPECT_EQ(result.disposition->operation_id(), "op-1");

  // Recorded: a second resubmit, or a discard, is refused and produces nothing.
  const DeadLetterRecord again = Find(place);
  EXPECT_EQ(again.DispositionText(), "resubmitted");
  ResubmitResult second;
  Status s = Resubmit(*consumer_, *producer_, waiter_, again, closer_, Soon(), second);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Refused());
  EXPECT_NE(s.error().detail.find("resubmitted already, by ops.jones"), std::string::npos);
  EXPECT_NE(s.error().detail.find("pathway.inbound.v1/1/1"), std::string::npos);
  EXPECT_FALSE(Discard(*producer_, waiter_, again, closer_, Soon()).ok());
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), 2u);
}

TEST_F(DeadLettersTest, TwoCopiesOfOneDeadLetterAreClosedTogether) {
  // The engine wrote the same dead letter twice (intake re-read it after a crash).
  const std::string value = Referral("evt-twice");
  const int64_t at = broker_.Append(kInbound, 1, std::nullopt, value);
  const std::string coordinates = kInbound + "/1/" + std::to_string(at);
  auto d =
      engine::DeadLetter(coordinates, kInbound, 1, at, value, "too large", DeadLetterKey(kKek));
  ASSERT_TRUE(d.ok());
  broker_.Append(kDead, 0, coordinates, d->SerializeAsString());
  broker_.Append(kDead, 1, coordinates, d->SerializeAsString());
  ResubmitResult result;
  ASSERT_TRUE(
      Resubmit(*consumer_, *producer_, waiter_, Find({0, 0}), closer_, Soon(), result).ok());
  EXPECT_EQ(Find({1, 0}).DispositionText(), "resubmitted");
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), 2u);
}

TEST_F(DeadLettersTest, ResubmitRefusesWhatCouldNotReEnterAndProducesNothing) {
  const DeadLetterPlace gone = Poison(Referral("evt-gone"), "too large");
  ASSERT_TRUE(broker_.DeleteRecordsBefore(kInbound, 1, 1).ok());
  const DeadLetterPlace undecodable = Poison("not a protobuf envelope\n", "does not decode");
  // An output the broker refused: the outbox's dead letter names no topic place.
  auto out = engine::DeadLetter("outbox|x", topics::kEvents, 3, 17, "an event", "refused",
                                DeadLetterKey(kKek));
  ASSERT_TRUE(out.ok());
  const DeadLetterPlace outbox{
      1, broker_.Append(kDead, 1, std::string("outbox|x"), out->SerializeAsString())};

  struct Case {
    DeadLetterPlace place;
    const char* says;
  };
  for (const Case& c : {Case{undecodable, "does not decode as a pathway.v1.Envelope"},
                        Case{gone, "no longer on pathway.inbound.v1/1/0"},
                        Case{outbox, "output to pathway.events.v1 that the broker refused"}}) {
    const size_t inbound_before = broker_.Log(kInbound, 1).size();
    ResubmitResult result;
    Status s = Resubmit(*consumer_, *producer_, waiter_, Find(c.place), closer_, Soon(), result);
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_EQ(s.error().code, Refused());
    EXPECT_NE(s.error().detail.find(c.says), std::string::npos) << s.error().detail;
    EXPECT_FALSE(result.copy.has_value());
    EXPECT_EQ(broker_.Log(kInbound, 1).size(), inbound_before);
    EXPECT_EQ(Find(c.place).DispositionText(), "open");
  }
  // The outbox's is refused by what the dead letter says, before anything is read.
  EXPECT_TRUE(RefusalToClose(Find(outbox), true).has_value());
  EXPECT_FALSE(RefusalToClose(Find(outbox), false).has_value());
  // Any of them can be discarded.
  EXPECT_TRUE(Discard(*producer_, waiter_, Find(outbox), closer_, Soon()).ok());
}

TEST_F(DeadLettersTest, ACopyWhoseDispositionWasNotRecordedLeavesTheDeadLetterOpen) {
  const DeadLetterPlace place = Poison(Referral("evt-window"), "too large");
  broker_.FailNextDeliveries(1, kDispositions);
  ResubmitResult result;
  Status s = Resubmit(*consumer_, *producer_, waiter_, Find(place), closer_, Soon(), result);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().detail.find("disposition was not recorded"), std::string::npos);
  ASSERT_TRUE(result.copy.has_value());
  EXPECT_FALSE(result.disposition.has_value());
  // Still open, so it can be resubmitted again: the same bytes a second time, which
  // the engine drops by their event id (tests/integration/deadletters_test.cc).
  ASSERT_EQ(Find(place).DispositionText(), "open");
  ResubmitResult retry;
  ASSERT_TRUE(Resubmit(*consumer_, *producer_, waiter_, Find(place), closer_, Soon(), retry).ok());
  ASSERT_EQ(broker_.Log(kInbound, 1).size(), 3u);
  EXPECT_EQ(broker_.Log(kInbound, 1)[1].value, broker_.Log(kInbound, 1)[2].value);
  EXPECT_EQ(Find(place).DispositionText(), "resubmitted");
}

TEST_F(DeadLettersTest, DiscardRecordsTheDispositionOnceAndNothingReEnters) {
  const DeadLetterPlace place = Poison("not a protobuf envelope\n", "does not decode");
  auto d = Discard(*producer_, waiter_, Find(place), closer_, Soon());
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_EQ(d->outcome(), store::DEAD_LETTER_OUTCOME_DISCARDED);
  const auto records = broker_.ReadAll(kDispositions);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, Find(place).envelope.event_id());  // keyed by the dead letter's id
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), 1u);
  auto again = Discard(*producer_, waiter_, Find(place), closer_, Soon());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().detail.find("discarded already"), std::string::npos);
}

TEST_F(DeadLettersTest, TheOperatorsKeyIsCheckedOnTheExcerpt) {
  const DeadLetterRecord r = Find(Poison("not a protobuf envelope\n", "does not decode"));
  EXPECT_TRUE(SealedUnder(r, DeadLetterKey(kKek)));
  EXPECT_FALSE(SealedUnder(r, DeadLetterKey(std::string(32, 'z'))));
  // An engine without a dead-letter key (tests) wrote it in clear: nothing to check.
  DeadLetterRecord clear = r;
  clear.envelope.mutable_dead_lettered()->clear_sealed_excerpt();
  EXPECT_TRUE(SealedUnder(clear, DeadLetterKey(std::string(32, 'z'))));
}

TEST_F(DeadLettersTest, ADispositionRecordWithoutAnOutcomeDecidesNothing) {
  const DeadLetterPlace place = Poison("not a protobuf envelope\n", "does not decode");
  store::DeadLetterDisposition d;
  d.set_operation_id("op-0");
  broker_.Append(kDispositions, 0, Find(place).DispositionKey(), d.SerializeAsString());
  broker_.Append(kDispositions, 1, std::string("junk"), "not a disposition");
  EXPECT_EQ(Find(place).DispositionText(), "open");
  EXPECT_TRUE(Discard(*producer_, waiter_, Find(place), closer_, Soon()).ok());
  EXPECT_EQ(Find(place).DispositionText(), "discarded");
}

TEST_F(DeadLettersTest, AReadToEndFinishesOnPartitionsWhoseRecordsWereDeleted) {
  broker_.Append(kInbound, 0, std::nullopt, "a");
  broker_.Append(kInbound, 0, std::nullopt, "b");
  ASSERT_TRUE(broker_.DeleteRecordsBefore(kInbound, 0, 2).ok());
  broker_.Append(kInbound, 1, std::nullopt, "c");
  std::vector<std::string> seen;
  ASSERT_TRUE(ReadToEnd(*consumer_, kInbound, Soon(), [&](const bus::Message& m) {
                seen.push_back(m.value);
              }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"c"}));
}

}  // namespace
}  // namespace pathway::ctl
