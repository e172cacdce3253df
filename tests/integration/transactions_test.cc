// The transactions mode on a real Apache Kafka (issue 4, "Deliver" 6): what the mock
// cannot show. Two engine instances in one process, each with its own transactional
// producer, RocksDB and consumers, in one consumer group.
//
// Instance A writes output inside a transaction and then stalls before committing it
// (as a process paused by SIGSTOP, a long GC pause or a frozen VM would). Instance B
// joins, the group evicts A, B takes every partition over and restores them from the
// changelog; reading the changelog up to B's fence (read_committed) waits until A's
// open transaction is decided, which the transaction coordinator does by aborting it
// at its timeout. When A wakes up, its transaction is fenced: it cannot commit. B
// reprocesses A's uncommitted work and emits it, with the same ids.
//
// Checked: A's commit fails as fenced; a read_uncommitted reader sees A's aborted
// copies beside B's (so the scenario really produced zombie output); a read_committed
// reader sees every output of a crash-free run exactly once.
//
// Real Kafka only (label kafka): the mock does not implement transactions.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "services/bus/kafka_bus.h"
#include "services/engine/engine.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/transaction_faults.h"
#include "tests/integration/engine_process.h"

namespace pathway::testing {
namespace {
using namespace std::chrono_literals;
using pathway::v1::Envelope;

constexpr auto kDeadline = 180s;

std::vector<Envelope> Input(int children) {
  std::vector<Envelope> out;
  for (int i = 0; i < children; ++i) {
    out.push_back(ValidReferral("tx-ref-" + std::to_string(i), TestNhsNumber(i)));
  }
  return out;
}

// One engine instance over the Kafka bus, wired as pathway-engine's main() wires it.
class Instance {
 public:
  Instance(const std::string& bootstrap, const std::string& data_dir,
           const std::string& transactional_id, const std::string& group_prefix,
           TransactionFaults& faults, const TimeSource& time, const engine::SubjectKeyer& keyer) {
    bus::KafkaConfig consumer_config;
    consumer_config.bootstrap_servers = bootstrap;
    consumer_config.settings = {
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "500"},
        // A member that stops polling is evicted after this long (it is also how long a
        // rebalance waits for it).
        {"max.poll.interval.ms", "8000"},
        {"topic.metadata.refresh.interval.ms", "1000"},
    };
    bus::KafkaConfig producer_config;
    producer_config.bootstrap_servers = bootstrap;
    producer_config.settings = {
        {"transactional.id", transactional_id},
        // The coordinator aborts a transaction left open this long.
        {"transaction.timeout.ms", "10000"},
        {"message.timeout.ms", "10000"},  // librdkafka: at most transaction.timeout.ms
    };
    stores_ = std::make_unique<state::StoreSet>(data_dir, std::string(topics::kChangelog));
    auto producer = bus::NewKafkaProducer(producer_config, [this](const bus::Delivery& d) {
      if (engine_) engine_->OnDelivery(d);
    });
    auto intake = bus::NewKafkaConsumer(consumer_config, group_prefix + ".intake");
    auto processor = bus::NewKafkaConsumer(consumer_config, group_prefix + ".commands");
    bus::KafkaConfig restore_config = consumer_config;
    auto restore = bus::NewKafkaConsumer(restore_config, "");
    for (const Status& s : {producer.ok() ? Status() : Status(producer.error()),
                            intake.ok() ? Status() : Status(intake.error()),
                            processor.ok() ? Status() : Status(processor.error()),
                            restore.ok() ? Status() : Status(restore.error())}) {
      if (!s.ok()) throw std::runtime_error("kafka clients: " + s.error().ToString());
    }
    producer_ = std::make_unique<FaultyTransactionalProducer>(std::move(*producer), faults);
    intake_ = std::move(*intake);
    processor_ = std::move(*processor);
    restore_ = std::move(*restore);
    engine::EngineOptions options;
    options.transactions = true;
    options.max_batch = 64;
    engine_ = std::make_unique<engine::Engine>(options, *stores_, keyer, time, *producer_, *intake_,
                                               *processor_, *restore_);
    Status s = engine_->Start();
    if (!s.ok()) throw std::runtime_error(s.error().ToString());
  }

  ~Instance() {
    intake_->Close();
    processor_->Close();
    engine_.reset();
  }

  engine::Engine& engine() { return *engine_; }

 private:
  std::unique_ptr<state::StoreSet> stores_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  std::unique_ptr<bus::Consumer> restore_;
  std::unique_ptr<engine::Engine> engine_;
};

// Copies of each output id ("topic/id" -> count) as a reader with `isolation` sees them.
std::map<std::string, int> ReadCopies(const std::string& bootstrap, const std::string& isolation) {
  bus::KafkaConfig config;
  config.bootstrap_servers = bootstrap;
  config.settings["isolation.level"] = isolation;
  auto consumer = bus::NewKafkaConsumer(config, "");
  if (!consumer.ok()) throw std::runtime_error(consumer.error().ToString());
  std::vector<bus::TopicPartition> all;
  for (auto topic : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
    for (int32_t p = 0; p < kTestPartitions; ++p) {
      all.push_back({std::string(topic), p, bus::kOffsetBeginning});
    }
  }
  if (auto s = (*consumer)->Assign(all); !s) throw std::runtime_error(s.error().ToString());
  std::map<std::string, int> copies;
  // Everything is written and decided before this runs: read until the topics stay
  // quiet for 3 s (bounded).
  auto deadline = Clock::now() + 60s;
  auto quiet_since = Clock::now();
  while (Clock::now() < deadline && Clock::now() - quiet_since < 3s) {
    auto polled = (*consumer)->Poll(200ms);
    if (!polled.ok()) throw std::runtime_error(polled.error().ToString());
    if (!polled->has_value()) continue;
    quiet_since = Clock::now();
    Envelope e;
    if (e.ParseFromString((*polled)->value)) ++copies[(*polled)->topic + "/" + e.event_id()];
  }
  (*consumer)->Close();
  return copies;
}

TEST(TransactionsOnRealKafka, AStalledInstanceIsFencedAndReadCommittedSeesEachOutputOnce) {
  if (!TestCluster::RealRequested()) GTEST_SKIP() << "PATHWAY_TEST_KAFKA_BOOTSTRAP is not set";
  auto cluster = TestCluster::Real();
  WorkDir dir("transactions");
  const std::vector<Envelope> input = Input(240);

  // The crash-free reference: the same input through the memory bus.
  std::map<std::string, int> reference;
  {
    EngineHarness h;
    for (const auto& e : input) h.Publish(e, 0);
    ASSERT_TRUE(h.RunUntilIdle(500).ok());
    for (auto topic : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
      for (const auto& e : h.Read(topic)) ++reference[std::string(topic) + "/" + e.event_id()];
    }
  }
  ASSERT_GE(reference.size(), 480u);

  std::vector<InboundMessage> messages;
  for (size_t i = 0; i < input.size(); ++i) {
    messages.push_back({static_cast<int32_t>(i % kTestPartitions), input[i].event_id(),
                        input[i].SerializeAsString()});
  }
  Publish(cluster->bootstrap(), messages);

  SimulatedTimeSource time(March10th2025());
  const auto keyer = engine::SubjectKeyer::FromSecret(std::string(32, 'k'));
  const std::string groups = UniqueGroupPrefix("transactions");
  TransactionFaults faults_a;
  TransactionFaults faults_b;
  auto a = std::make_unique<Instance>(cluster->bootstrap(), dir.Sub("a"), "pathway-test-a", groups,
                                      faults_a, time, keyer);
  std::unique_ptr<Instance> b;

  // A stalls in the first transaction that carries events, before its offsets go in:
  // meanwhile B starts and takes every partition over.
  bool stalled = false;
  std::string b_failure;
  faults_a.before_send_offsets = [&](const std::map<std::string, int>& sent) {
    if (stalled || !sent.count(std::string(topics::kEvents))) return;
    stalled = true;
    std::cout << "[transactions] A stalls with " << sent.at(std::string(topics::kEvents))
              << " events written and not committed\n";
    auto started = Clock::now();
    b = std::make_unique<Instance>(cluster->bootstrap(), dir.Sub("b"), "pathway-test-b", groups,
                                   faults_b, time, keyer);
    while (b->engine().owned().size() < static_cast<size_t>(kTestPartitions) &&
           Clock::now() - started < kDeadline) {
      if (auto s = b->engine().Step(200ms); !s) {
        b_failure = s.error().ToString();
        return;
      }
    }
    std::cout << "[transactions] B owns " << b->engine().owned().size() << " partitions after "
              << Ms(Clock::now() - started) << " ms (" << b->engine().stats().restores
              << " restored from the changelog)\n";
  };

  Status a_status;
  auto started = Clock::now();
  while (a_status.ok() && Clock::now() - started < kDeadline) {
    a_status = a->engine().Step(200ms);
  }
  ASSERT_TRUE(stalled) << "A never wrote events in a transaction";
  ASSERT_TRUE(b_failure.empty()) << b_failure;
  ASSERT_EQ(b->engine().owned().size(), static_cast<size_t>(kTestPartitions));
  ASSERT_FALSE(a_status.ok()) << "the stalled instance must not commit";
  const auto code = a_status.error().code;
  EXPECT_TRUE(code == make_error_code(bus::errc::kFenced) ||
              code == make_error_code(bus::errc::kTxnAbortable))
      << a_status.error().ToString();
  std::cout << "[transactions] A, on waking: " << a_status.error().ToString() << "\n";
  a.reset();

  // B finishes the stream: until nothing moves for 30 Steps, then drains.
  int quiet = 0;
  started = Clock::now();
  while (quiet < 30 && Clock::now() - started < kDeadline) {
    engine::EngineStats before = b->engine().stats();
    ASSERT_TRUE(b->engine().Step(100ms).ok());
    const engine::EngineStats& after = b->engine().stats();
    quiet = (before.inbound == after.inbound && before.commands == after.commands) ? quiet + 1 : 0;
  }
  ASSERT_TRUE(b->engine().Drain(30s).ok());
  b.reset();

  const auto committed = ReadCopies(cluster->bootstrap(), "read_committed");
  const auto uncommitted = ReadCopies(cluster->bootstrap(), "read_uncommitted");
  int zombie_copies = 0;
  for (const auto& [id, n] : uncommitted) zombie_copies += n > 1 ? n - 1 : 0;
  std::cout << "[transactions] read_committed: " << committed.size()
            << " ids; read_uncommitted: " << zombie_copies
            << " extra copies (the aborted transactions)\n";
  EXPECT_GT(zombie_copies, 0) << "A's uncommitted output is on the log, aborted";
  EXPECT_EQ(committed, reference) << "every output exactly once under read_committed";
}

}  // namespace
}  // namespace pathway::testing
