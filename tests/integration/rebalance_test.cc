// Issue 4, rebalance test: two pathway-engine processes in one consumer group, each with
// its own data directory, share a stream of more than 10,000 inbound events; one is
// SIGKILLed mid-stream and not restarted. The survivor takes its partitions over,
// restores their state from the changelog (it logs `partition_restored` for each) and
// finishes with what a crash-free single-instance reference run produced.
//
// The second instance joins while the first is running (scale-out), so partitions move
// before the kill: whichever dies, the survivor ends up owning partitions it either
// never had or had an outdated copy of (a resumes partitions b worked on meanwhile).
//
// Which state counts at the end: the survivor's data directory alone. A partition's
// store belongs to whoever owns the partition, and at the end the survivor owns them all:
// it must hold every subject, restored from the changelog for the partitions it took
// over. The killed instance's directory is stale by construction (the survivor went on
// after it died), so taking "the survivor's copy where both have one, else the killed
// one's" would hide exactly the failure this test is for: a restore that misses
// subjects. The killed instance's copies are still checked: each must be a prefix of
// the survivor's history for that subject (it never recorded anything the survivor
// does not have, i.e. no split brain).
//
// On the mock (label mock) or the real Kafka of PATHWAY_TEST_KAFKA_BOOTSTRAP (label
// kafka); the reference always runs on a fresh mock.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "services/topics.h"
#include "tests/common/state_dump.h"
#include "tests/integration/engine_process.h"

namespace pathway::testing {
namespace {

// Partitions of pathway.commands.v1 an instance owns according to its log
// (partition_assigned / partition_revoked, in order).
std::set<int> OwnedPartitions(const std::string& log) {
  std::set<int> owned;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    // A new process of the same instance starts with nothing.
    if (line.starts_with("=== harness: start")) owned.clear();
    if (line.find(" event=partition_") == std::string::npos) continue;
    for (const char* event : {"partition_assigned", "partition_revoked"}) {
      auto fields = LogEvents(line, event);
      if (fields.empty()) continue;
      auto& f = fields.front();
      if (f.count("topic") && f["topic"] != topics::kCommands) continue;
      if (!f.count("partition")) continue;
      int p = std::stoi(f["partition"]);
      if (std::string(event) == "partition_assigned") {
        owned.insert(p);
      } else {
        owned.erase(p);
      }
    }
  }
  return owned;
}

// a starts, b joins, then `victim` (0: a, 1: b) is SIGKILLed.
void RunRebalance(size_t victim_index, uint64_t default_seed) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", default_seed);
  WorkDir dir("rebalance");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  // 8,000 messages: two instances write each partition's changelog here, and it must
  // fit in what the development broker keeps per partition (about 5 MB, docs/devbroker.md)
  // now that every pathway command is kept in its case's history (decision 81). Past
  // that the survivor finds no fence and rebuilds from the commands, which is another
  // test's subject.
  const InboundStream stream = GenerateInboundStream(seed, 8000, kTestPartitions);
  std::cout << "[rebalance] seed " << seed << ": " << stream.Summary() << "\n";
  const RunOutcome reference = ReferenceRun(stream, key_file, dir);
  ExpectSoundReference(stream, reference);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "the reference run itself is wrong";

  auto started = Clock::now();
  auto cluster = TestCluster::FromEnvironment(1);
  Publish(cluster->bootstrap(), stream);
  KafkaProbe probe(cluster->bootstrap());
  const std::string group = UniqueGroupPrefix("rebalance");
  std::vector<std::unique_ptr<EngineProcess>> engines;
  for (const char* name : {"a", "b"}) {
    engines.push_back(
        std::make_unique<EngineProcess>(NamedEngineConfig(*cluster, dir, name, key_file, group)));
  }
  auto supervise = [&] {
    for (auto& e : engines) {
      if (e->RestartIfExited()) {
        std::cout << "[rebalance] " << e->config().log_file << ": exited by itself (status "
                  << e->own_exits().back() << "), restarted\n";
      }
    }
  };
  std::mt19937_64 rng(seed * 31337 + 11);
  auto share = [&](double lo, double hi) {
    return static_cast<int64_t>(std::uniform_real_distribution<double>(lo, hi)(rng) *
                                static_cast<double>(reference.progress));
  };

  // Scale-out: a starts alone and owns every partition for a while; b joins and takes
  // some over (a's copies of those become stale); then one of them dies. If b dies, a
  // gets back partitions it has an old copy of and must not trust it; if a dies, b takes
  // over partitions it never had.
  EngineProcess& a = *engines[0];
  EngineProcess& b = *engines[1];
  a.Start();
  ASSERT_TRUE(WaitForProgress(probe, share(0.1, 0.2), std::chrono::seconds(120), supervise))
      << a.LogTail();
  b.Start();
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (OwnedPartitions(a.Log()).empty() || OwnedPartitions(b.Log()).empty()) {
    ASSERT_LT(Clock::now(), deadline) << "the two instances did not share the partitions\n"
                                      << a.LogTail() << b.LogTail();
    supervise();
    std::this_thread::sleep_for(milliseconds(50));
  }
  EngineProcess& victim = *engines[victim_index];
  EngineProcess& survivor = *engines[1 - victim_index];
  const int64_t progress_at_join = Progress(probe).value_or(0);
  ASSERT_TRUE(WaitForProgress(probe, progress_at_join + share(0.2, 0.4), std::chrono::seconds(180),
                              supervise))
      << victim.LogTail() << survivor.LogTail();
  const std::set<int> taken_over = OwnedPartitions(victim.Log());
  const size_t survivor_log_at_kill = survivor.Log().size();
  victim.Kill();
  std::string owned;
  for (int p : taken_over) {
    owned += ' ';
    owned += std::to_string(p);
  }
  std::cout << "[rebalance] SIGKILL " << victim.config().log_file << " at "
            << Progress(probe).value_or(-1) << " of about " << reference.progress
            << " progress; it owned partitions" << owned << "\n";
  ASSERT_FALSE(taken_over.empty());

  // The group's offsets of the victim's partitions may be ahead of the changelog the
  // survivor restores from; it commits where it restarts (commands_offset_published),
  // and only after that do the group's offsets say how far it has come.
  auto published = [&] {
    std::set<int> seen;
    for (auto& f :
         LogEvents(survivor.Log().substr(survivor_log_at_kill), "commands_offset_published")) {
      if (f.count("partition")) seen.insert(std::stoi(f["partition"]));
    }
    return std::includes(seen.begin(), seen.end(), taken_over.begin(), taken_over.end());
  };
  const auto publish_deadline = Clock::now() + std::chrono::seconds(180);
  while (!published()) {
    ASSERT_LT(Clock::now(), publish_deadline)
        << "the survivor did not take over the victim's partitions\n"
        << survivor.LogTail();
    survivor.RestartIfExited();
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::string detail;
  ASSERT_TRUE(WaitUntilCaughtUp(
      probe, group, std::chrono::seconds(300), [&] { survivor.RestartIfExited(); }, &detail))
      << "the survivor did not finish the stream (" << detail << ")\n"
      << survivor.LogTail();
  auto status = survivor.Terminate(std::chrono::seconds(40));
  ASSERT_EQ(status, std::optional<int>(0)) << "SIGTERM: a graceful exit\n" << survivor.LogTail();
  // A rebalance is routine (issue 4: revoke, flush, hand over cleanly): neither
  // instance should have ended by itself on the way, before or after the kill.
  for (auto& e : engines) {
    std::string why;
    for (auto& f : LogEvents(e->Log(), "engine_step_failed")) why += "  " + f["error"] + "\n";
    EXPECT_TRUE(e->own_exits().empty())
        << e->config().log_file << ": the engine ended by itself " << e->own_exits().size()
        << " times (the test restarted it as a supervisor would); its engine_step_failed "
           "errors:\n"
        << why;
  }

  // The survivor restored every partition it took over from the changelog.
  std::set<int> restored;
  for (auto& f : LogEvents(survivor.Log().substr(survivor_log_at_kill), "partition_restored")) {
    if (f.count("partition")) restored.insert(std::stoi(f["partition"]));
  }
  for (int p : taken_over) {
    EXPECT_TRUE(restored.count(p))
        << "no partition_restored for partition " << p << " in the survivor's log after the kill";
  }
  EXPECT_TRUE(LogEvents(survivor.Log(), "changelog_incomplete").empty())
      << "the survivor restored from a changelog that had lost records";

  RunOutcome outcome;
  ReadOutputs(cluster->bootstrap(), outcome, std::chrono::seconds(60));
  outcome.state = DumpCaseState(survivor.config().data_dir, ReadKek(key_file));
  outcome.outbox_left = OutboxEntries(survivor.config().data_dir);
  std::cout << "[rebalance] done in " << Ms(Clock::now() - started)
            << " ms: " << outcome.wire_messages << " output messages for " << outcome.outputs.size()
            << " distinct ids (" << outcome.wire_duplicates << " duplicates on the wire)\n";
  ExpectSameOutcome(reference, outcome);

  // The killed instance's copies: stale prefixes of the survivor's, never a fork.
  std::map<std::string, std::string> stale =
      DumpCaseState(victim.config().data_dir, ReadKek(key_file));
  size_t forks = 0, only_stale = 0;
  std::string example;
  for (const auto& [subject, dump] : stale) {
    auto it = outcome.state.find(subject);
    if (it == outcome.state.end()) {
      ++only_stale;
      if (example.empty()) example = subject + " only in the killed instance's store";
      continue;
    }
    auto old_history = ParseCaseDump(dump).history;
    auto new_history = ParseCaseDump(it->second).history;
    bool prefix = old_history.size() <= new_history.size();
    for (size_t i = 0; prefix && i < old_history.size(); ++i) {
      prefix = old_history[i].SerializeAsString() == new_history[i].SerializeAsString();
    }
    if (!prefix) {
      ++forks;
      if (example.empty()) example = subject + " has a history the survivor does not continue";
    }
  }
  EXPECT_EQ(only_stale + forks, 0u)
      << only_stale << " subjects only in the killed instance's "
      << "store, " << forks << " with a forked history; e.g. " << example;
}

// b dies: a gets back partitions it worked on before b joined. Its local copies of them
// are outdated (b went on with them) and must be replaced from the changelog.
TEST(RebalanceTest, SurvivorWithAnOutdatedCopyRestoresFromTheChangelog) { RunRebalance(1, 7); }

// a dies: b takes over partitions it never had and restores them from the changelog.
TEST(RebalanceTest, NewOwnerRestoresFromTheChangelog) { RunRebalance(0, 8); }

}  // namespace
}  // namespace pathway::testing
