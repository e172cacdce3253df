// Issue 4, broker fault test: pathway-engine works through a stream of more than 10,000
// inbound events while the brokers misbehave, and ends with exactly what a crash-free
// reference run on a healthy broker produced (distinct output ids and their bytes, and
// every subject's stored case).
//
// - On the mock (label mock): a 3-broker mock cluster; brokers set down (with and
//   without moving partition leadership away), request errors on produce, fetch,
//   offset commit and heartbeat, slow responses and leader moves, through librdkafka's
//   mock API (rdkafka_mock.h).
// - On the real Kafka (label kafka; 3 brokers, RF 3, min.insync.replicas=2): one broker
//   process SIGKILLed mid-stream and restarted with scripts/kafka.sh.
//
// The engine may exit on a fault (its design: a fatal error ends the process, and a
// restart resumes from the stored offsets); the test restarts it as a supervisor would
// and reports how often that happened.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <thread>

#include "services/topics.h"
#include "tests/common/state_dump.h"
#include "tests/integration/engine_process.h"

namespace pathway::testing {
namespace {

// Kafka protocol API keys (librdkafka's RD_KAFKAP_* are internal).
constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kOffsetCommit = 8;
constexpr int16_t kHeartbeat = 12;

struct Fault {
  std::string name;
  std::function<void()> begin;
  std::function<void()> end;
};

// Runs the engine against `cluster` until the stream is done, calling `inject` between
// polls until it returns false, and compares with the reference.
class FaultRun {
 public:
  FaultRun(const std::string& name, uint64_t seed)
      : seed_(seed),
        dir_(name),
        key_file_(WriteKeyFile(dir_.Sub("subject-key"), seed)),
        stream_(GenerateInboundStream(seed, 10000, kTestPartitions)) {}

  void Reference() {
    std::cout << "[fault] seed " << seed_ << ": " << stream_.Summary() << "\n";
    reference_ = ReferenceRun(stream_, key_file_, dir_);
    ExpectSoundReference(stream_, reference_);
  }

  void StartEngine(TestCluster& cluster) {
    started_ = Clock::now();
    probe_ = std::make_unique<KafkaProbe>(cluster.bootstrap());
    engine_ = std::make_unique<EngineProcess>(
        NamedEngineConfig(cluster, dir_, "fault", key_file_, UniqueGroupPrefix("fault")));
    engine_->Start();
  }

  // Waits (bounded) until the engine has done `fraction` of the reference's work more.
  bool Advance(double fraction, milliseconds timeout) {
    int64_t target = Progress(*probe_).value_or(0) +
                     static_cast<int64_t>(fraction * static_cast<double>(reference_.progress));
    return WaitForProgress(*probe_, target, timeout, [&] { Supervise(); });
  }

  // Keeps the engine running for `d` (restarting it if it exits).
  void Hold(milliseconds d) {
    auto until = Clock::now() + d;
    while (Clock::now() < until) {
      Supervise();
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  void Supervise() {
    if (engine_->RestartIfExited()) {
      auto failed = LogEvents(engine_->Log(), "engine_step_failed");
      std::cout << "[fault] the engine exited (status " << engine_->own_exits().back() << ", "
                << (failed.empty() ? std::string("no engine_step_failed logged")
                                   : failed.back()["error"])
                << ") and was restarted\n";
    }
  }

  void FinishAndCompare(const std::string& bootstrap) {
    std::string detail;
    ASSERT_TRUE(WaitUntilCaughtUp(
        *probe_, engine_->config().group_prefix, std::chrono::seconds(300), [&] { Supervise(); },
        &detail))
        << "the engine did not finish the stream (" << detail << ")\n"
        << engine_->LogTail();
    auto status = engine_->Terminate(std::chrono::seconds(40));
    ASSERT_EQ(status, std::optional<int>(0)) << "SIGTERM: a graceful exit\n" << engine_->LogTail();
    RunOutcome outcome;
    ReadOutputs(bootstrap, outcome, std::chrono::seconds(60));
    outcome.state = DumpCaseState(engine_->config().data_dir, ReadKek(key_file_));
    outcome.outbox_left = OutboxEntries(engine_->config().data_dir);
    std::cout << "[fault] done in " << Ms(Clock::now() - started_) << " ms: " << engine_->starts()
              << " engine starts (" << engine_->own_exits().size() << " exits by itself), "
              << outcome.wire_messages << " output messages for " << outcome.outputs.size()
              << " distinct ids (" << outcome.wire_duplicates
              << " duplicates on the wire; the reference had " << reference_.wire_duplicates
              << ")\n";
    ExpectSameOutcome(reference_, outcome);
  }

  EngineProcess& engine() { return *engine_; }
  const RunOutcome& reference() const { return reference_; }
  const InboundStream& stream() const { return stream_; }

 private:
  uint64_t seed_;
  WorkDir dir_;
  std::string key_file_;
  InboundStream stream_;
  RunOutcome reference_;
  Clock::time_point started_;
  std::unique_ptr<KafkaProbe> probe_;
  std::unique_ptr<EngineProcess> engine_;
};

TEST(BrokerFaultTest, MockBrokersDownRequestErrorsAndSlowResponses) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 5);
  FaultRun run("fault-mock", seed);
  run.Reference();
  ASSERT_FALSE(HasFailure()) << "the reference run itself is wrong";

  auto cluster = TestCluster::Mock(3);
  rd_kafka_mock_cluster_t* mock = cluster->mock()->Handle();
  const int brokers = cluster->brokers();
  std::mt19937_64 rng(seed * 104729 + 3);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto push = [&](int16_t api, std::vector<rd_kafka_resp_err_t> choices, int lo, int hi) {
    std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(uniform(lo, hi)));
    for (auto& e : errors) e = choices[static_cast<size_t>(uniform(0, int(choices.size()) - 1))];
    rd_kafka_mock_push_request_errors_array(mock, api, errors.size(), errors.data());
  };
  // Moves every partition's leadership off `down` (a failover), round robin over the rest.
  auto move_leaders_off = [&](int down) {
    int next = 0;
    for (auto topic : topics::kAll) {
      for (int p = 0; p < kTestPartitions; ++p) {
        int leader = down;
        while (leader == down) leader = 1 + (next++ % brokers);
        rd_kafka_mock_partition_set_leader(mock, std::string(topic).c_str(), p, leader);
      }
    }
  };
  int down_broker = 1;
  std::vector<Fault> faults = {
      {"slow responses (300-800 ms round trips on every broker)",
       [&] {
         for (int b = 1; b <= brokers; ++b)
           rd_kafka_mock_broker_set_rtt(mock, b, uniform(300, 800));
       },
       [&] {
         for (int b = 1; b <= brokers; ++b) rd_kafka_mock_broker_set_rtt(mock, b, 0);
       }},
      {"produce errors (not leader, timed out, not enough replicas, no leader)",
       [&] {
         push(kProduce,
              {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
               RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE},
              10, 30);
       },
       [&] { rd_kafka_mock_clear_request_errors(mock, kProduce); }},
      {"a broker down, its partition leadership moved to the others",
       [&] {
         down_broker = uniform(1, brokers);
         move_leaders_off(down_broker);
         rd_kafka_mock_broker_set_down(mock, down_broker);
       },
       [&] { rd_kafka_mock_broker_set_up(mock, down_broker); }},
      {"a broker down, no failover (its partitions and groups wait for it)",
       [&] {
         down_broker = uniform(1, brokers);
         rd_kafka_mock_broker_set_down(mock, down_broker);
       },
       [&] { rd_kafka_mock_broker_set_up(mock, down_broker); }},
      {"fetch errors (not leader, timed out)",
       [&] {
         push(kFetch,
              {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
               RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE},
              10, 30);
       },
       [&] { rd_kafka_mock_clear_request_errors(mock, kFetch); }},
      {"offset commit errors (coordinator moving, timed out)",
       [&] {
         push(kOffsetCommit,
              {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
               RD_KAFKA_RESP_ERR_NOT_COORDINATOR},
              2, 6);
       },
       [&] { rd_kafka_mock_clear_request_errors(mock, kOffsetCommit); }},
      {"heartbeat errors (coordinator moving)",
       [&] {
         push(kHeartbeat,
              {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE}, 2,
              5);
       },
       [&] { rd_kafka_mock_clear_request_errors(mock, kHeartbeat); }},
      {"leadership of random partitions moved",
       [&] {
         for (auto topic : topics::kAll) {
           for (int p = 0; p < kTestPartitions; ++p) {
             if (uniform(0, 1)) {
               rd_kafka_mock_partition_set_leader(mock, std::string(topic).c_str(), p,
                                                  uniform(1, brokers));
             }
           }
         }
       },
       [] {}},
  };
  // Two rounds, each fault once per round in a random order. Partners keep publishing:
  // before each fault the next share of the stream goes out, so the engine has work
  // while the fault lasts (1-3 s).
  std::vector<size_t> order;
  for (int round = 0; round < 2; ++round) {
    std::vector<size_t> r(faults.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = i;
    std::shuffle(r.begin(), r.end(), rng);
    order.insert(order.end(), r.begin(), r.end());
  }
  const auto chunks = SplitStream(run.stream(), order.size() + 1);

  run.StartEngine(*cluster);
  for (size_t n = 0; n < order.size(); ++n) {
    Publish(cluster->bootstrap(), chunks[n]);
    const Fault& fault = faults[order[n]];
    const int lasts = uniform(1000, 3000);
    std::cout << "[fault] " << fault.name << " for " << lasts << " ms\n";
    fault.begin();
    run.Hold(milliseconds(lasts));
    fault.end();
  }
  // Everything healthy again; the last share of the stream.
  for (int b = 1; b <= brokers; ++b) {
    rd_kafka_mock_broker_set_up(mock, b);
    rd_kafka_mock_broker_set_rtt(mock, b, 0);
  }
  for (int16_t api : {kProduce, kFetch, kOffsetCommit, kHeartbeat}) {
    rd_kafka_mock_clear_request_errors(mock, api);
  }
  Publish(cluster->bootstrap(), chunks.back());
  run.FinishAndCompare(cluster->bootstrap());
}

// Restarts a killed broker if the test ends early, so later tests find three.
class BrokerRestorer {
 public:
  BrokerRestorer(std::string script, std::string dir) : script_(script), dir_(dir) {}
  ~BrokerRestorer() {
    if (killed_ > 0) Run("restart-broker", killed_);
  }
  bool Run(const std::string& command, int node) {
    std::string cmd = "bash '" + script_ + "' " + command + " --dir '" + dir_ + "' --node " +
                      std::to_string(node) + " >&2";
    int rc = std::system(cmd.c_str());
    if (rc != 0) return false;
    killed_ = command == "kill-broker" ? node : 0;
    return true;
  }

 private:
  std::string script_;
  std::string dir_;
  int killed_ = 0;
};

TEST(BrokerFaultTest, OnRealKafkaABrokerIsKilledAndRestartedMidStream) {
  if (!TestCluster::RealRequested()) GTEST_SKIP() << "PATHWAY_TEST_KAFKA_BOOTSTRAP is not set";
  const char* kafka_dir = std::getenv("PATHWAY_TEST_KAFKA_DIR");
  ASSERT_TRUE(kafka_dir && *kafka_dir) << "PATHWAY_TEST_KAFKA_DIR names the scripts/kafka.sh "
                                          "cluster directory (to kill and restart a broker)";
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 6);
  FaultRun run("fault-real", seed);
  run.Reference();
  ASSERT_FALSE(HasFailure()) << "the reference run itself is wrong";

  auto cluster = TestCluster::Real();
  ASSERT_GE(cluster->brokers(), 3) << "the broker fault test needs three brokers";
  std::mt19937_64 rng(seed * 15485863 + 5);
  const int node = std::uniform_int_distribution<int>(1, cluster->brokers())(rng);
  const double before = std::uniform_real_distribution<double>(0.15, 0.35)(rng);
  BrokerRestorer brokers(PATHWAY_KAFKA_SH, kafka_dir);

  // Partners keep publishing: a share before the kill, one while the broker is dead,
  // one while it restarts and rejoins.
  const auto chunks = SplitStream(run.stream(), 3);
  Publish(cluster->bootstrap(), chunks[0]);
  run.StartEngine(*cluster);
  run.Advance(before, std::chrono::seconds(120));
  std::cout << "[fault] SIGKILL broker node " << node << " at about " << int(before * 100)
            << "% of the work\n";
  auto killed_at = Clock::now();
  ASSERT_TRUE(brokers.Run("kill-broker", node));
  // The engine carries on with two of three brokers (min.insync.replicas=2).
  Publish(cluster->bootstrap(), chunks[1]);
  bool progressed = run.Advance(0.15, std::chrono::seconds(60));
  std::cout << "[fault] with node " << node << " dead for " << Ms(Clock::now() - killed_at)
            << " ms the engine " << (progressed ? "made" : "did NOT make")
            << " 15% more progress; restarting the node\n";
  // restart-broker is bounded itself (stop 30 s, start PATHWAY_KAFKA_START_TIMEOUT).
  bool restarted = false;
  std::atomic<bool> restart_done{false};
  std::thread restart([&] {
    restarted = brokers.Run("restart-broker", node);
    restart_done = true;
  });
  Publish(cluster->bootstrap(), chunks[2]);
  while (!restart_done) run.Hold(milliseconds(200));
  restart.join();
  ASSERT_TRUE(restarted) << "scripts/kafka.sh restart-broker failed";
  std::cout << "[fault] node " << node << " back after " << Ms(Clock::now() - killed_at) << " ms\n";
  run.FinishAndCompare(cluster->bootstrap());
}

}  // namespace
}  // namespace pathway::testing
