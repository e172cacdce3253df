// The in-memory bus must behave like Kafka where the engine relies on it: per-key
// partitioning, offsets, committed positions, delivery reports.
#include "services/bus/memory_bus.h"

#include <gtest/gtest.h>

namespace pathway::bus {
namespace {
using std::chrono::milliseconds;

TEST(MemoryBus, SameKeySamePartitionInOrderWithDeliveryReports) {
  MemoryBroker broker;
  broker.CreateTopic("t", 4);
  std::vector<Delivery> reports;
  auto producer = NewMemoryProducer(broker, [&](const Delivery& d) { reports.push_back(d); });
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(producer->Produce("t", "child-a", "v" + std::to_string(i), i).ok());
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
  for (int i = 0; i < 3; ++i) broker.Append("t", 0, std::nullopt, "m" + std::to_string(i));
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
  for (int i = 0; i < 3; ++i) broker.Append("t", 0, std::nullopt, "m" + std::to_string(i));
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

TEST(MemoryBus, PollBeforeSubscribeIsAnError) {
  MemoryBroker broker;
  auto c = NewMemoryConsumer(broker, "g");
  auto r = c->Poll(milliseconds(0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(errc::kState));
}

}  // namespace
}  // namespace pathway::bus
