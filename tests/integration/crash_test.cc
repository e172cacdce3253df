// Issue 4, crash test: pathway-engine is SIGKILLed at random points (at least 20 times)
// and restarted on the same data directory while it works through a stream of more
// than 10,000 inbound events; in the end the distinct output ids, their bytes and the
// stored case of every subject equal those of a crash-free reference run.
//
// Against the in-process mock cluster (label mock), or the real Kafka named by
// PATHWAY_TEST_KAFKA_BOOTSTRAP (label kafka). The reference always runs on a fresh mock.
// PATHWAY_TEST_SEED picks another stream and other kill points; PATHWAY_TEST_KILLS
// another number of kills.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "services/topics.h"
#include "tests/common/state_dump.h"
#include "tests/integration/engine_process.h"

namespace pathway::testing {
namespace {

// With `transactions`, the engine runs with --transactional-id and the outputs must
// also be on the wire exactly once (read_committed).
void SigkillAtRandomPoints(bool transactions) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 4);
  const int kills = static_cast<int>(EnvNumber("PATHWAY_TEST_KILLS", 24));
  std::cout << "[crash] seed " << seed << ", " << kills << " kills"
            << (transactions ? ", transactions mode" : "") << "\n";
  WorkDir dir("crash");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  const InboundStream stream = GenerateInboundStream(seed, 10000, kTestPartitions);
  std::cout << "[crash] " << stream.Summary() << "\n";
  ASSERT_GE(stream.messages.size(), 10000u);

  const RunOutcome reference = ReferenceRun(stream, key_file, dir);
  ExpectSoundReference(stream, reference);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "the reference run itself is wrong";

  auto started = Clock::now();
  auto cluster = TestCluster::FromEnvironment(1);
  Publish(cluster->bootstrap(), stream);
  KafkaProbe probe(cluster->bootstrap());
  EngineConfig config =
      NamedEngineConfig(*cluster, dir, "crash", key_file, UniqueGroupPrefix("crash"));
  if (transactions) {
    // The same id across restarts: each start aborts what the killed one left open.
    config.extra_args.push_back("--transactional-id");
    config.extra_args.push_back(config.group_prefix + "-engine");
  }
  EngineProcess engine(config);

  // Kill points: a random delay after start (start-up, group join), a random amount of
  // progress (mid-stream), or a SIGKILL during the graceful shutdown a SIGTERM began
  // (mid-drain). On average the kills leave half of the work for the last run.
  std::mt19937_64 rng(seed * 7919 + 1);
  const int64_t budget = std::max<int64_t>(2, reference.progress / kills);
  std::map<std::string, int> modes;
  int64_t alive_ms = 0;
  int bounded_out = 0;
  std::vector<int> term_exits;
  auto supervise = [&] { engine.RestartIfExited(); };
  for (int k = 0; k < kills; ++k) {
    engine.Start();
    auto start = Clock::now();
    const int mode = std::uniform_int_distribution<int>(0, 99)(rng);
    if (mode < 20) {
      ++modes["after a random delay"];
      auto until = start + milliseconds(std::uniform_int_distribution<int>(0, 2500)(rng));
      while (Clock::now() < until) {
        supervise();
        std::this_thread::sleep_for(milliseconds(10));
      }
    } else {
      const int64_t target =
          Progress(probe).value_or(0) + std::uniform_int_distribution<int64_t>(1, budget)(rng);
      if (!WaitForProgress(probe, target, std::chrono::seconds(30), supervise)) ++bounded_out;
      if (mode >= 85) {
        ++modes["mid-shutdown (SIGTERM, then SIGKILL)"];
        engine.SignalTerm();
        auto wait = milliseconds(std::uniform_int_distribution<int>(0, 400)(rng));
        if (auto status = engine.WaitExit(wait); status && *status != 0) {
          term_exits.push_back(*status);
        }
      } else {
        ++modes["after random progress"];
      }
    }
    engine.Kill();
    alive_ms += Ms(Clock::now() - start);
  }
  std::cout << "[crash] " << kills << " kills in " << Ms(Clock::now() - started)
            << " ms (mean life " << alive_ms / std::max(kills, 1) << " ms; " << bounded_out
            << " waited the 30 s bound for progress):";
  for (const auto& [mode, n] : modes) std::cout << " " << n << " " << mode << ";";
  std::cout << " progress at the last kill " << Progress(probe).value_or(-1) << " of about "
            << reference.progress << "\n";

  // The last run: to the end, then SIGTERM.
  engine.Start();
  std::string detail;
  ASSERT_TRUE(
      WaitUntilCaughtUp(probe, config.group_prefix, std::chrono::seconds(240), supervise, &detail))
      << "the engine did not finish the stream (" << detail << ")\n"
      << engine.LogTail();
  auto status = engine.Terminate(std::chrono::seconds(40));
  ASSERT_EQ(status, std::optional<int>(0)) << "SIGTERM: a graceful exit\n" << engine.LogTail();
  std::string why;
  for (int code : engine.own_exits()) {
    why += "  ended by itself with status " + std::to_string(code) + "\n";
  }
  for (int code : term_exits) {
    why += "  ended with status " + std::to_string(code) + " after SIGTERM (134: SIGABRT)\n";
  }
  for (auto& f : LogEvents(engine.Log(), "engine_step_failed")) {
    why += "  engine_step_failed: " + f["error"] + "\n";
  }
  const std::string log = engine.Log();
  for (size_t at = log.find("Assertion"); at != std::string::npos;
       at = log.find("Assertion", at + 1)) {
    size_t begin = log.rfind('\n', at) + 1;
    why += "  " + log.substr(begin, log.find('\n', at) - begin) + "\n";
  }
  EXPECT_TRUE(engine.own_exits().empty() && term_exits.empty())
      << "with a healthy broker the engine should end only when killed, and with status 0 "
         "on SIGTERM:\n"
      << why;

  RunOutcome crashed;
  ReadOutputs(cluster->bootstrap(), crashed, std::chrono::seconds(60));
  crashed.state = DumpCaseState(config.data_dir, ReadKek(config.key_file));
  crashed.outbox_left = OutboxEntries(config.data_dir);
  std::cout << "[crash] " << engine.starts() << " engine starts, " << crashed.wire_messages
            << " output messages on the wire for " << crashed.outputs.size()
            << " distinct ids: " << crashed.wire_duplicates << " duplicates on the wire ("
            << (transactions ? "read_committed: none allowed" : "allowed: consumers dedupe by id")
            << "; the reference had " << reference.wire_duplicates << "), total "
            << Ms(Clock::now() - started) << " ms\n";
  ExpectSameOutcome(reference, crashed);
  if (transactions) {
    EXPECT_EQ(crashed.wire_duplicates, 0u)
        << "in the transactions mode a read_committed reader sees each output once";
  }
}

TEST(CrashTest, SigkillAtRandomPointsChangesNoOutputAndNoState) { SigkillAtRandomPoints(false); }

// Real Kafka only: the mock does not implement transactions.
TEST(CrashTest, TransactionsModeSigkillAtRandomPointsPutsEachOutputOnTheWireOnce) {
  if (!TestCluster::RealRequested()) GTEST_SKIP() << "transactions need a real Kafka";
  SigkillAtRandomPoints(true);
}

// The setup step of the real-Kafka ctest fixture (integration.kafka.topics): every
// pathway topic, empty, replicated as the cluster allows, before any kafka test runs.
TEST(RealKafka, RecreatePathwayTopics) {
  if (!TestCluster::RealRequested()) GTEST_SKIP() << "PATHWAY_TEST_KAFKA_BOOTSTRAP is not set";
  RecreatePathwayTopics(std::getenv("PATHWAY_TEST_KAFKA_BOOTSTRAP"), kTestPartitions);
}

}  // namespace
}  // namespace pathway::testing
