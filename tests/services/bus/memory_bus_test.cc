// The in-memory bus must behave like Kafka where the engine relies on it: per-key
// partitioning, offsets, committed positions, delivery reports.
#include "services/bus/memory_bus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pathway::bus {
namespace {
using std::chrono::milliseconds;
using ::testing::HasSubstr;

// "prefix" followed by `n`. Appended rather than `"prefix" + std::to_string(n)`, whose
// insert at the front GCC 12 at -O3 wrongly reports as an overlapping memcpy
// (-Werror=restrict, GCC bug 105651).
std::string Numbered(std::string_view prefix, int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

TEST(MemoryBus, SameKeySamePartitionInOrderWithDeliveryReports) {
  MemoryBroker broker;
  broker.CreateTopic("t", 4);
  std::vector<Delivery> reports;
  auto producer = NewMemoryProducer(broker, [&](const Delivery& d) { reports.push_back(d); });
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(producer->Produce("t", "child-a", Numbered("v", i), i).ok());
  }
  EXPECT_EQ(producer->InFlight(), 5u);
  ASSERT_TRUE(producer->Flush(milliseconds(0)).ok());
  EXPECT_EQ(producer->InFlight(), 0u);
  ASSERT_EQ(reports.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(reports[i].opaque, i);
    EXPECT_FALSE(reports[i].error);
    EXPECT_EQ(reports[i].partition, reports[0].partition);
    EXPECT_EQ(reports[i].offset, static_cast<int64_t>(i));
  }
}

TEST(MemoryBus, ConsumerResumesFromCommittedOffset) {
  MemoryBroker broker;
  broker.CreateTopic("t", 1);
  for (int i = 0; i < 3; ++i) broker.Append("t", 0, std::nullopt, Numbered("m", i));
  auto c1 = NewMemoryConsumer(broker, "g");
  ASSERT_TRUE(c1->Subscribe({"t"}, nullptr).ok());
  auto m = c1->Poll(milliseconds(0));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->value, "m0");
  ASSERT_TRUE(c1->Commit({{"t", 0, 1}}).ok());

  auto c2 = NewMemoryConsumer(broker, "g");
  ASSERT_TRUE(c2->Subscribe({"t"}, nullptr).ok());
  auto next = c2->Poll(milliseconds(0));
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->value, "m1");
}

class StartAt : public RebalanceListener {
 public:
  explicit StartAt(int64_t offset) : offset_(offset) {}
  void OnAssign(std::vector<TopicPartition>& parts) override {
    ++assigned;
    for (auto& p : parts) p.offset = offset_;
  }
  void OnRevoke(const std::vector<TopicPartition>&) override {}
  int assigned = 0;

 private:
  int64_t offset_;
};

TEST(MemoryBus, ListenerChoosesStartOffsets) {
  MemoryBroker broker;
  broker.CreateTopic("t", 1);
  for (int i = 0; i < 3; ++i) broker.Append("t", 0, std::nullopt, Numbered("m", i));
  StartAt listener(2);
  auto c = NewMemoryConsumer(broker, "g");
  ASSERT_TRUE(c->Subscribe({"t"}, &listener).ok());
  EXPECT_EQ(listener.assigned, 1);
  auto m = c->Poll(milliseconds(0));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->value, "m2");
  auto none = c->Poll(milliseconds(0));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(MemoryBus, InjectedFailuresAreReportedAndNotAppended) {
  MemoryBroker broker;
  broker.CreateTopic("t", 1);
  int failed = 0;
  auto producer = NewMemoryProducer(broker, [&](const Delivery& d) { failed += d.error ? 1 : 0; });
  broker.FailNextDeliveries(1, "t");
  ASSERT_TRUE(producer->Produce("t", "k", "lost", 1).ok());
  ASSERT_TRUE(producer->Produce("t", "k", "kept", 2).ok());
  producer->Poll(milliseconds(0));
  EXPECT_EQ(failed, 1);
  ASSERT_EQ(broker.ReadAll("t").size(), 1u);
  EXPECT_EQ(broker.ReadAll("t")[0].value, "kept");
}

TEST(MemoryBus, EndOffsetIsTheNextOffsetOfEachPartition) {
  MemoryBroker broker;
  broker.CreateTopic("t", 2);
  broker.Append("t", 1, "k", "a");
  broker.Append("t", 1, "k", "b");
  auto consumer = NewMemoryConsumer(broker, "");
  auto p0 = consumer->EndOffset("t", 0, std::chrono::milliseconds(0));
  auto p1 = consumer->EndOffset("t", 1, std::chrono::milliseconds(0));
  ASSERT_TRUE(p0.ok());
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(*p0, 0);
  EXPECT_EQ(*p1, 2);
  auto missing = consumer->EndOffset("t", 2, std::chrono::milliseconds(0));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, make_error_code(errc::kConfig));
}

TEST(MemoryBus, StartOffsetIsTheLogStartOfEachPartition) {
  MemoryBroker broker;
  broker.CreateTopic("t", 2);
  for (int i = 0; i < 4; ++i) broker.Append("t", 1, "k", "v");
  ASSERT_TRUE(broker.DeleteRecordsBefore("t", 1, 3).ok());
  auto consumer = NewMemoryConsumer(broker, "");
  auto p0 = consumer->StartOffset("t", 0, std::chrono::milliseconds(0));
  auto p1 = consumer->StartOffset("t", 1, std::chrono::milliseconds(0));
  ASSERT_TRUE(p0.ok() && p1.ok());
  EXPECT_EQ(*p0, 0);
  EXPECT_EQ(*p1, 3);
  auto missing = consumer->StartOffset("t", 2, std::chrono::milliseconds(0));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, make_error_code(errc::kConfig));
}

TEST(MemoryBus, AConsumerBeyondTheEndResumesAtTheStartAsKafkaDoes) {
  // A topic emptied and written again (recreated): a position past its end is out of
  // range, and auto.offset.reset=earliest reads it from its start.
  MemoryBroker broker;
  broker.CreateTopic("t", 1);
  for (int i = 0; i < 5; ++i) broker.Append("t", 0, "k", "old");
  broker.Truncate("t", 0, 0);
  broker.Append("t", 0, "k", "new");
  auto consumer = NewMemoryConsumer(broker, "");
  ASSERT_TRUE(consumer->Assign({{"t", 0, 4}}).ok());
  auto m = consumer->Poll(std::chrono::milliseconds(0));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->offset, 0);
  EXPECT_EQ((*m)->value, "new");
  // At the end is in range: nothing to read yet, and no reset.
  ASSERT_TRUE(consumer->Assign({{"t", 0, 1}}).ok());
  auto none = consumer->Poll(std::chrono::milliseconds(0));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(MemoryBus, PollBeforeSubscribeIsAnError) {
  MemoryBroker broker;
  auto c = NewMemoryConsumer(broker, "g");
  auto r = c->Poll(milliseconds(0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(errc::kState));
}

// Values too long for the short-string buffer, so dropping them frees memory.
std::string Secret(int i) {
  std::string secret = Numbered("secret-", i);
  secret += '/';
  secret.append(40, 'x');
  return secret;
}

// A broker with "landing": partition 0 holds Secret(0..4) (keys key-0..key-4),
// partition 1 holds other-0..other-2.
MemoryBroker LandingBroker() {
  MemoryBroker broker;
  broker.CreateTopic("landing", 2);
  for (int i = 0; i < 5; ++i) broker.Append("landing", 0, Numbered("key-", i), Secret(i));
  for (int i = 0; i < 3; ++i) broker.Append("landing", 1, std::nullopt, Numbered("other-", i));
  return broker;
}

// Whether `m` carries any of the bytes of Secret(0..n-1) or their keys.
bool HoldsDeleted(const Message& m, int n) {
  for (int i = 0; i < n; ++i) {
    if (m.value.find(Numbered("secret-", i) + "/") != std::string::npos) return true;
    if (m.key && *m.key == Numbered("key-", i)) return true;
  }
  return false;
}

// Everything a consumer reading `topic` from the beginning gets.
std::vector<Message> ReadFromBeginning(MemoryBroker& broker, const std::string& topic) {
  auto c = NewMemoryConsumer(broker, "reader");
  std::vector<TopicPartition> parts;
  for (int32_t p = 0; p < broker.PartitionCount(topic); ++p)
    parts.push_back({topic, p, kOffsetBeginning});
  EXPECT_TRUE(c->Assign(parts).ok());
  std::vector<Message> out;
  while (true) {
    auto m = c->Poll(milliseconds(0));
    EXPECT_TRUE(m.ok());
    if (!m.ok() || !m->has_value()) return out;
    out.push_back(std::move(**m));
  }
}

TEST(MemoryBus, DeleteRecordsBeforeRemovesTheBytesAndKeepsLaterOffsets) {
  MemoryBroker broker = LandingBroker();
  auto admin = NewMemoryConsumer(broker, "eraser");
  ASSERT_TRUE(admin->DeleteRecordsBefore({{"landing", 0, 3}}, milliseconds(0)).ok());
  EXPECT_EQ(broker.LogStart("landing", 0), 3);
  EXPECT_EQ(broker.LogStart("landing", 1), 0);

  // ReadAll: only what lies at or above the start, with offsets and values unchanged.
  std::vector<Message> all = broker.ReadAll("landing");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].partition, 0);
  EXPECT_EQ(all[0].offset, 3);
  EXPECT_EQ(all[0].value, Secret(3));
  EXPECT_EQ(all[0].key, "key-3");
  EXPECT_EQ(all[1].offset, 4);
  EXPECT_EQ(all[1].value, Secret(4));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(all[2 + i].partition, 1);
    EXPECT_EQ(all[2 + i].offset, i);
    EXPECT_EQ(all[2 + i].value, Numbered("other-", i));
  }

  // Log: still indexed by offset (the end does not move), the deleted records empty.
  const std::vector<Message>& log = broker.Log("landing", 0);
  ASSERT_EQ(log.size(), 5u);
  for (size_t o = 0; o < log.size(); ++o) EXPECT_EQ(log[o].offset, static_cast<int64_t>(o));
  for (size_t o = 0; o < 3; ++o) {
    EXPECT_FALSE(log[o].key.has_value()) << o;
    EXPECT_TRUE(log[o].value.empty()) << o;
    EXPECT_EQ(log[o].value.capacity(), std::string().capacity()) << "bytes freed at " << o;
    EXPECT_TRUE(log[o].tombstone) << o;
  }
  EXPECT_EQ(log[3].value, Secret(3));
  EXPECT_EQ(log[4].key, "key-4");

  // No trace of the deleted records anywhere the broker hands out.
  for (const Message& m : log) EXPECT_FALSE(HoldsDeleted(m, 3)) << m.offset;
  for (const Message& m : all) EXPECT_FALSE(HoldsDeleted(m, 3)) << m.offset;
  std::vector<Message> read = ReadFromBeginning(broker, "landing");
  ASSERT_EQ(read.size(), 5u);
  for (const Message& m : read) EXPECT_FALSE(HoldsDeleted(m, 3)) << m.offset;
  for (const Message& m : read) {
    if (m.partition == 0) {
      EXPECT_GE(m.offset, 3);
    }
  }

  // Appending continues after the old end.
  EXPECT_EQ(broker.Append("landing", 0, std::nullopt, "later"), 5);
}

TEST(MemoryBus, DeleteRecordsBeforeIsIdempotentAndNeverMovesTheStartBack) {
  MemoryBroker broker = LandingBroker();
  ASSERT_TRUE(broker.DeleteRecordsBefore("landing", 0, 3).ok());
  const std::vector<Message> after_first = broker.ReadAll("landing");
  for (int64_t offset : {3, 1, 0}) {
    SCOPED_TRACE(Numbered("again below ", offset));
    ASSERT_TRUE(broker.DeleteRecordsBefore("landing", 0, offset).ok());
    EXPECT_EQ(broker.LogStart("landing", 0), 3);
    std::vector<Message> now = broker.ReadAll("landing");
    ASSERT_EQ(now.size(), after_first.size());
    for (size_t i = 0; i < now.size(); ++i) {
      EXPECT_EQ(now[i].offset, after_first[i].offset);
      EXPECT_EQ(now[i].value, after_first[i].value);
    }
  }
  // Up to the end: the partition reads as empty, its end unchanged.
  ASSERT_TRUE(broker.DeleteRecordsBefore("landing", 0, 5).ok());
  EXPECT_EQ(broker.LogStart("landing", 0), 5);
  EXPECT_EQ(broker.Log("landing", 0).size(), 5u);
  for (const Message& m : broker.ReadAll("landing")) EXPECT_EQ(m.partition, 1);
}

TEST(MemoryBus, DeleteRecordsBeyondTheEndIsRejectedNamingThePartition) {
  MemoryBroker broker = LandingBroker();
  auto admin = NewMemoryConsumer(broker, "eraser");
  Status beyond = admin->DeleteRecordsBefore({{"landing", 1, 4}}, milliseconds(0));
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, make_error_code(errc::kConfig));
  EXPECT_THAT(beyond.error().detail, HasSubstr("landing[1]"));
  EXPECT_EQ(broker.LogStart("landing", 1), 0);
  EXPECT_EQ(broker.ReadAll("landing").size(), 8u) << "nothing deleted";

  Status negative = broker.DeleteRecordsBefore("landing", 0, kOffsetEnd);
  EXPECT_EQ(negative.error().code, make_error_code(errc::kConfig));
  EXPECT_THAT(negative.error().detail, HasSubstr("landing[0]"));
  Status unknown = broker.DeleteRecordsBefore("landing", 2, 0);
  EXPECT_EQ(unknown.error().code, make_error_code(errc::kConfig));
  EXPECT_THAT(unknown.error().detail, HasSubstr("landing[2]"));
  Status no_topic = broker.DeleteRecordsBefore("nowhere", 0, 0);
  EXPECT_EQ(no_topic.error().code, make_error_code(errc::kConfig));
  EXPECT_THAT(no_topic.error().detail, HasSubstr("nowhere[0]"));
  EXPECT_EQ(broker.ReadAll("landing").size(), 8u) << "nothing deleted";
}

TEST(MemoryBus, AConsumerBelowTheLogStartResumesAtTheStart) {
  MemoryBroker broker = LandingBroker();
  // A group that committed offset 1, and a live consumer positioned at 1.
  auto live = NewMemoryConsumer(broker, "g");
  ASSERT_TRUE(live->Assign({{"landing", 0, kOffsetBeginning}}).ok());
  auto first = live->Poll(milliseconds(0));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->offset, 0);
  ASSERT_TRUE(live->Commit({{"landing", 0, 1}}).ok());
  EXPECT_EQ(live->Lag(), 4);

  ASSERT_TRUE(broker.DeleteRecordsBefore("landing", 0, 3).ok());
  ASSERT_EQ(live->Positions().size(), 1u);
  EXPECT_EQ(live->Positions()[0].offset, 3);
  EXPECT_EQ(live->Lag(), 2);
  auto next = live->Poll(milliseconds(0));
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->offset, 3);
  EXPECT_EQ((*next)->value, Secret(3));

  // A new member starts from the group's committed offset 1: below the start.
  auto joined = NewMemoryConsumer(broker, "g");
  ASSERT_TRUE(joined->Subscribe({"landing"}, nullptr).ok());
  std::vector<Message> got;
  while (true) {
    auto m = joined->Poll(milliseconds(0));
    ASSERT_TRUE(m.ok());
    if (!m->has_value()) break;
    got.push_back(std::move(**m));
  }
  std::vector<int64_t> partition0;
  for (const Message& m : got) {
    EXPECT_FALSE(HoldsDeleted(m, 3)) << m.offset;
    if (m.partition == 0) partition0.push_back(m.offset);
  }
  EXPECT_EQ(partition0, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(got.size(), 5u) << "partition 1 untouched";
}

}  // namespace
}  // namespace pathway::bus
