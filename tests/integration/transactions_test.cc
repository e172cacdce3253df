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
#include "services/topics.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/transaction_faults.h"
#include "tests/integration/engine_process.h"
#include "tests/integration/kafka_engine.h"

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

// An engine instance in transactions mode, with short group timings.
std::unique_ptr<KafkaEngine> NewInstance(const std::string& bootstrap, const std::string& data_dir,
                                         const std::string& transactional_id,
                                         const std::string& group_prefix, TransactionFaults& faults,
                                         const TimeSource& time,
                                         const engine::SubjectKeyer& keyer) {
  KafkaEngineConfig config;
  config.consumers.bootstrap_servers = bootstrap;
  config.consumers.settings = {
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "500"},
      // A member that stops polling is evicted after this long (it is also how long a
      // rebalance waits for it).
      {"max.poll.interval.ms", "8000"},
      {"topic.metadata.refresh.interval.ms", "1000"},
  };
  config.producer.bootstrap_servers = bootstrap;
  config.producer.settings = {
      {"transactional.id", transactional_id},
      // The coordinator aborts a transaction left open this long.
      {"transaction.timeout.ms", "10000"},
      {"message.timeout.ms", "10000"},  // librdkafka: at most transaction.timeout.ms
  };
  config.data_dir = data_dir;
  config.group_prefix = group_prefix;
  config.options.transactions = true;
  config.options.max_batch = 64;
  config.faults = &faults;
  return std::make_unique<KafkaEngine>(config, time, keyer);
}

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
  // Unbuffered: if a step ever hangs until ctest's timeout, the log says which.
  std::cout << std::unitbuf;
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
  auto a = NewInstance(cluster->bootstrap(), dir.Sub("a"), "pathway-test-a", groups, faults_a, time,
                       keyer);
  std::unique_ptr<KafkaEngine> b;

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
    b = NewInstance(cluster->bootstrap(), dir.Sub("b"), "pathway-test-b", groups, faults_b, time,
                    keyer);
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
  std::cout << "[transactions] A closed; B finishes the stream\n";

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

  // Both groups commit past the last commit marker, so lag tools read 0 at rest.
  KafkaProbe probe(cluster->bootstrap());
  std::string lag;
  started = Clock::now();
  while (Clock::now() - started < 60s) {
    lag.clear();
    for (auto [group, topic] : {std::pair{groups + ".intake", topics::kInbound},
                                std::pair{groups + ".commands", topics::kCommands}}) {
      auto high = probe.HighWatermarks(std::string(topic));
      auto committed = probe.Committed(group, std::string(topic));
      if (!high || !committed) {
        lag += " (no answer)";
        continue;
      }
      for (size_t p = 0; p < high->size(); ++p) {
        if ((*committed)[p] != (*high)[p]) {
          lag += " " + std::string(topic) + "/" + std::to_string(p) + ": " +
                 std::to_string((*high)[p] - (*committed)[p]);
        }
      }
    }
    if (lag.empty()) break;
    ASSERT_TRUE(b->engine().Step(100ms).ok());
  }
  EXPECT_TRUE(lag.empty()) << "lag at rest:" << lag;
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
