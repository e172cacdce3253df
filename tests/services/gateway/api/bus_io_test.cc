// The gateway's Kafka clients against the in-process mock cluster: the command sink
// publishes and reports, the outcome tracker starts at the end, matches outcomes to
// commands, answers waiters in time and stays bounded; the dead-letter reader reads
// every partition from the beginning, skips what is not a dead letter and keeps the
// newest.
#include "services/gateway/api/bus_io.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

#include "services/bus/kafka_bus.h"
#include "services/devbroker/mock_cluster.h"
#include "services/pathwayctl/inbound_key.h"

namespace pathway::gateway {
namespace {

using pathway::v1::Envelope;
using std::chrono::milliseconds;
constexpr auto kWait = std::chrono::seconds(30);

class BusIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = devbroker::MockCluster::Start(
        1, {{"in", 2}, {"events", 2}, {"rejections", 2}, {"deadletter", 2}});
    ASSERT_TRUE(cluster.ok()) << cluster.error().ToString();
    cluster_ = std::move(*cluster);
    config_.bootstrap_servers = cluster_->BootstrapServers();
  }

  // Produces and waits for the broker to have it.
  void Append(const std::string& topic, const Envelope& e, const std::string& key = "k") {
    AppendRaw(topic, e.SerializeAsString(), key);
  }
  void AppendRaw(const std::string& topic, const std::string& value, const std::string& key) {
    auto producer = bus::NewKafkaProducer(config_, [](const bus::Delivery&) {});
    ASSERT_TRUE(producer.ok());
    ASSERT_TRUE((*producer)->Produce(topic, key, value, 1).ok());
    ASSERT_TRUE((*producer)->Flush(milliseconds(10'000)).ok());
  }

  Envelope Event(const std::string& cause, const std::string& id) {
    Envelope e;
    e.set_event_id(id);
    e.set_causation_id(cause);
    e.mutable_pathway_step_recorded()->set_step("received");
    return e;
  }

  Envelope Rejection(const std::string& cause) {
    Envelope e;
    e.set_event_id("rej-" + cause);
    e.set_causation_id(cause);
    e.mutable_command_rejected()->set_rejected_event_id(cause);
    e.mutable_command_rejected()->set_rule("pathway.unknown_reference");
    return e;
  }

  std::unique_ptr<BusOutcomeTracker> Tracker(const TimeSource& time, size_t max_outcomes = 1000) {
    auto consumer = bus::NewKafkaConsumer(config_, "");
    EXPECT_TRUE(consumer.ok());
    OutcomeTrackerOptions o;
    o.events_topic = "events";
    o.rejections_topic = "rejections";
    o.max_outcomes = max_outcomes;
    auto t = BusOutcomeTracker::Start(std::move(*consumer), o, time, milliseconds(10'000));
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }

  std::unique_ptr<devbroker::MockCluster> cluster_;
  bus::KafkaConfig config_;
  RealTimeSource real_time_;
};

CommandOutcome AwaitOutcome(OutcomeSource& source, const std::string& id, TimePoint deadline) {
  auto promise = std::make_shared<std::promise<CommandOutcome>>();
  auto future = promise->get_future();
  source.Await(id, deadline, [promise](CommandOutcome o) { promise->set_value(std::move(o)); });
  EXPECT_EQ(future.wait_for(kWait), std::future_status::ready) << id;
  return future.valid() && future.wait_for(std::chrono::seconds(0)) == std::future_status::ready
             ? future.get()
             : CommandOutcome{};
}

TEST_F(BusIoTest, TheTrackerStartsAtTheEndAndMatchesEventsAndRejectionsToTheirCommand) {
  Append("events", Event("before-start", "e0"));
  auto tracker = Tracker(real_time_);
  ASSERT_NE(tracker, nullptr);
  Append("events", Event("cmd-1", "e1"));
  Append("events", Event("cmd-1", "e2"));
  Append("rejections", Rejection("cmd-2"));
  const TimePoint far = real_time_.Now() + std::chrono::seconds(30);
  CommandOutcome accepted = AwaitOutcome(*tracker, "cmd-1", far);
  EXPECT_EQ(accepted.state, CommandOutcome::State::kAccepted);
  CommandOutcome rejected = AwaitOutcome(*tracker, "cmd-2", far);
  ASSERT_EQ(rejected.state, CommandOutcome::State::kRejected);
  EXPECT_EQ(rejected.rejection->command_rejected().rule(), "pathway.unknown_reference");
  // Both events of cmd-1, once the tracker caught up with them.
  EXPECT_EQ(tracker->Find("cmd-1").events.size(), 2u);
  EXPECT_EQ(tracker->Find("before-start").state, CommandOutcome::State::kPending);
}

TEST_F(BusIoTest, AWaiterIsAnsweredPendingAtItsDeadline) {
  SimulatedTimeSource time(TimePoint(std::chrono::seconds(1'767'225'600)));
  auto tracker = Tracker(time);
  ASSERT_NE(tracker, nullptr);
  auto promise = std::make_shared<std::promise<CommandOutcome>>();
  auto future = promise->get_future();
  tracker->Await("never", time.Now() + std::chrono::seconds(5),
                 [promise](CommandOutcome o) { promise->set_value(std::move(o)); });
  // Not before its deadline (simulated time stands still)...
  EXPECT_EQ(future.wait_for(milliseconds(200)), std::future_status::timeout);
  // ...and at once after it.
  time.Advance(std::chrono::seconds(5));
  ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(future.get().state, CommandOutcome::State::kPending);
}

TEST_F(BusIoTest, TheTrackerKeepsOnlyTheMostRecentOutcomes) {
  auto tracker = Tracker(real_time_, 3);
  ASSERT_NE(tracker, nullptr);
  for (int i = 1; i <= 5; ++i)
    Append("events", Event("c" + std::to_string(i), "e" + std::to_string(i)));
  EXPECT_EQ(AwaitOutcome(*tracker, "c5", real_time_.Now() + std::chrono::seconds(30)).state,
            CommandOutcome::State::kAccepted);
  EXPECT_EQ(tracker->Find("c1").state, CommandOutcome::State::kPending);
  EXPECT_EQ(tracker->Find("c2").state, CommandOutcome::State::kPending);
  EXPECT_EQ(tracker->Find("c3").state, CommandOutcome::State::kAccepted);
  EXPECT_EQ(tracker->Find("c4").state, CommandOutcome::State::kAccepted);
}

TEST_F(BusIoTest, TheSinkPublishesKeyedByTheChildsBucketAndReportsDelivery) {
  BusCommandSink sink;
  auto producer = bus::NewKafkaProducer(config_, sink.DeliveryHandler());
  ASSERT_TRUE(producer.ok());
  sink.Start(std::move(*producer), "in");
  Envelope command;
  command.set_event_id("gw-1");
  command.mutable_subject()->set_nhs_number("9434765919");
  command.mutable_nd_first_appointment_attended()->set_referral_id("ND-1");
  std::promise<Status> done;
  sink.Publish(command, [&](Status st) { done.set_value(st); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());

  auto consumer = bus::NewKafkaConsumer(config_, "");
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)
                  ->Assign({{"in", 0, bus::kOffsetBeginning}, {"in", 1, bus::kOffsetBeginning}})
                  .ok());
  std::optional<bus::Message> got;
  for (int i = 0; i < 300 && !got; ++i) {
    auto m = (*consumer)->Poll(milliseconds(100));
    ASSERT_TRUE(m.ok());
    if (m->has_value()) got = **m;
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->key.value_or(""), ctl::InboundKey(command));
  EXPECT_EQ(got->key->find("9434765919"), std::string::npos);
  Envelope read;
  ASSERT_TRUE(read.ParseFromString(got->value));
  EXPECT_EQ(read.event_id(), "gw-1");
}

Envelope DeadLetter(int64_t original_offset) {
  Envelope e;
  e.set_event_id("dl-" + std::to_string(original_offset));
  auto* d = e.mutable_dead_lettered();
  d->set_reason("value does not decode as a pathway.v1.Envelope");
  d->set_topic("in");
  d->set_partition(1);
  d->set_offset(original_offset);
  d->set_original_size(38);
  d->set_sealed_excerpt("sealed personal data");
  return e;
}

std::unique_ptr<BusDeadLetterReader> DeadLetterReader(const bus::KafkaConfig& config,
                                                      DeadLetterStore& store) {
  auto consumer = bus::NewKafkaConsumer(config, "");
  EXPECT_TRUE(consumer.ok());
  if (!consumer.ok()) return nullptr;
  auto reader =
      BusDeadLetterReader::Start(std::move(*consumer), "deadletter", store, milliseconds(10'000));
  EXPECT_TRUE(reader.ok()) << reader.error().ToString();
  return reader.ok() ? std::move(*reader) : nullptr;
}

TEST_F(BusIoTest, TheDeadLetterReaderReadsEveryPartitionFromTheBeginning) {
  // Before the reader starts, on both partitions (keys that land on each), and records
  // that are not dead letters, which are skipped.
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h"};
  for (size_t i = 0; i < keys.size(); ++i) Append("deadletter", DeadLetter(100 + i), keys[i]);
  AppendRaw("deadletter", "not a protobuf \xff\xff", "x");
  Append("deadletter", Event("cmd", "e1"), "y");
  DeadLetterStore store(100);
  auto reader = DeadLetterReader(config_, store);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(store.AwaitAdded(keys.size(), kWait)) << store.added();
  // After it started.
  Append("deadletter", DeadLetter(200), "a");
  ASSERT_TRUE(store.AwaitAdded(keys.size() + 1, kWait)) << store.added();
  bool more = true;
  auto page = store.Page(std::nullopt, 100, &more);
  ASSERT_EQ(page.size(), keys.size() + 1);
  EXPECT_FALSE(more);
  std::set<int32_t> partitions;
  std::set<int64_t> originals;
  for (const auto& e : page) {
    partitions.insert(e.partition);
    originals.insert(e.original_offset);
    EXPECT_EQ(e.original_topic, "in");
    EXPECT_EQ(e.original_size, 38u);
    EXPECT_GT(e.timestamp_ms, 0);
  }
  EXPECT_EQ(partitions, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(originals.size(), keys.size() + 1);
  // Newest first: the one appended last leads.
  EXPECT_EQ(page.front().original_offset, 200);
  for (size_t i = 1; i < page.size(); ++i) {
    EXPECT_GE(DeadLetterCursor::Of(page[i - 1]), DeadLetterCursor::Of(page[i])) << i;
  }
}

TEST_F(BusIoTest, TheDeadLetterReaderKeepsOnlyTheNewest) {
  for (int i = 0; i < 6; ++i) Append("deadletter", DeadLetter(i), "a");
  DeadLetterStore store(3);
  auto reader = DeadLetterReader(config_, store);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(store.AwaitAdded(6, kWait)) << store.added();
  EXPECT_EQ(store.size(), 3u);
  bool more = true;
  auto page = store.Page(std::nullopt, 10, &more);
  ASSERT_EQ(page.size(), 3u);
  // One partition, appended in order: offsets 5, 4, 3 are the newest.
  EXPECT_EQ(page[0].original_offset, 5);
  EXPECT_EQ(page[2].original_offset, 3);
  reader.reset();  // stops and joins, bounded
  EXPECT_EQ(store.size(), 3u);
}

TEST(BusCommandSink, AnUnreachableBrokerIsReportedNotHung) {
  BusCommandSink sink;
  bus::KafkaConfig config;
  config.bootstrap_servers = "127.0.0.1:1";
  config.settings["message.timeout.ms"] = "500";
  auto producer = bus::NewKafkaProducer(config, sink.DeliveryHandler());
  ASSERT_TRUE(producer.ok());
  sink.Start(std::move(*producer), "in");
  Envelope command;
  command.set_event_id("gw-2");
  std::promise<Status> done;
  sink.Publish(command, [&](Status st) { done.set_value(st); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_FALSE(f.get().ok());
}

}  // namespace
}  // namespace pathway::gateway
