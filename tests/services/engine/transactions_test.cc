// The transactions mode over the in-memory bus (issue 4, "Deliver" 6): each Step's
// output and both stages' offsets commit as one transaction, and the commands group's
// offsets carry the last outbox sequence committed. Whatever the point of failure
// around a commit (an abortable error, or a process that died after the broker
// committed but before it deleted its outbox entries), and whoever carries on (the
// same instance restarted, or a new owner restoring from the changelog), every output
// reaches its topic exactly once, not merely once per id. The real-Kafka side (read_committed,
// fencing of a replaced instance) is tests/integration/transactions_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::TransactionFaults;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

EngineOptions Transactional() {
  EngineOptions options;
  options.transactions = true;
  options.max_batch = 4;  // several Steps, so several commits, for a small input
  return options;
}

// Referrals (each emits events) and a few commands that are rejected, on two partitions.
std::vector<Envelope> Input() {
  std::vector<Envelope> out;
  for (int i = 0; i < 10; ++i) {
    out.push_back(ValidReferral("ref-" + std::to_string(i), pathway::testing::TestNhsNumber(i)));
  }
  Envelope bad = ValidReferral("", pathway::testing::TestNhsNumber(20));  // no event id
  out.push_back(bad);
  out.push_back(ValidReferral("ref-3", pathway::testing::TestNhsNumber(3)));  // a duplicate
  return out;
}

void PublishInput(EngineHarness& h) {
  int i = 0;
  for (const auto& e : Input()) h.Publish(e, i++ % 2);
}

// Every copy of every output id, per topic: "exactly once" means each count is 1.
std::map<std::string, int> Copies(EngineHarness& h) {
  std::map<std::string, int> copies;
  for (auto topic : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
    for (const auto& e : h.Read(topic)) ++copies[std::string(topic) + "/" + e.event_id()];
  }
  return copies;
}

struct Reference {
  std::map<std::string, int> copies;
  std::map<std::string, std::string> cases;
  int commits = 0;  // transactions committed while processing the input
};

Reference RunWithoutFaults(EngineOptions options) {
  EngineHarness h(options);
  const int before = h.faults().commits;
  PublishInput(h);
  EXPECT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.PendingOutputs(), 0u);
  return {Copies(h), h.Cases(), h.faults().commits - before};
}

void ExpectExactlyOnce(EngineHarness& h, const Reference& reference, const std::string& label) {
  EXPECT_EQ(Copies(h), reference.copies) << label;
  EXPECT_EQ(h.Cases(), reference.cases) << label;
  EXPECT_EQ(h.PendingOutputs(), 0u) << label;
}

TEST(Transactions, TheModeChangesNeitherTheOutputsNorTheState) {
  const Reference plain = RunWithoutFaults({});
  const Reference transactional = RunWithoutFaults(Transactional());
  EXPECT_EQ(transactional.copies, plain.copies);
  EXPECT_EQ(transactional.cases, plain.cases);
  ASSERT_GT(transactional.copies.size(), 10u);
  // Input()[10] has no event id: the intake stage rejects it.
  const std::string rejections = std::string(topics::kRejections) + "/";
  EXPECT_EQ(std::count_if(transactional.copies.begin(), transactional.copies.end(),
                          [&](const auto& c) { return c.first.starts_with(rejections); }),
            1)
      << "the intake stage's own output is in the transaction too";
  for (const auto& [id, n] : transactional.copies) EXPECT_EQ(n, 1) << id;
}

TEST(Transactions, OffsetsAndTheLastOutboxSequenceCommitWithTheOutput) {
  EngineHarness h(Transactional());
  PublishInput(h);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto& committed = h.broker().CommittedOffsets();
  auto& metadata = h.broker().CommittedMetadata();
  int64_t inbound = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::string key =
        "pathway-engine.intake/" + std::string(topics::kInbound) + "/" + std::to_string(p);
    if (committed.count(key)) inbound += committed[key];
  }
  EXPECT_EQ(inbound, static_cast<int64_t>(Input().size())) << "every inbound message committed";
  int with_sequence = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::string key =
        "pathway-engine.commands/" + std::string(topics::kCommands) + "/" + std::to_string(p);
    if (h.broker().Log(std::string(topics::kCommands), p).empty()) continue;
    ASSERT_TRUE(committed.count(key)) << "partition " << p;
    EXPECT_EQ(committed[key],
              static_cast<int64_t>(h.broker().Log(std::string(topics::kCommands), p).size()))
        << "partition " << p;
    EXPECT_TRUE(metadata[key].starts_with("pathway.outbox.v1:")) << metadata[key];
    ++with_sequence;
  }
  EXPECT_GT(with_sequence, 0);
}

// The heart of it: fail at each commit in turn, both ways, then restart.
TEST(Transactions, AFailureAroundAnyCommitSendsEveryOutputExactlyOnce) {
  const Reference reference = RunWithoutFaults(Transactional());
  ASSERT_GE(reference.commits, 3);
  int faults_hit = 0;
  for (auto kind :
       {TransactionFaults::Kind::kFailBeforeCommit, TransactionFaults::Kind::kFailAfterCommit}) {
    for (int k = 1; k <= reference.commits; ++k) {
      const std::string label =
          std::string(kind == TransactionFaults::Kind::kFailAfterCommit ? "after" : "before") +
          " commit " + std::to_string(k);
      EngineHarness h(Transactional());
      PublishInput(h);
      h.faults().kind = kind;
      h.faults().at_commit = h.faults().commits + k;
      Status s = h.RunUntilIdle();
      if (!s.ok()) {
        ++faults_hit;
        // Sticky: a failed transaction stops the engine until the process restarts.
        EXPECT_FALSE(h.engine().Step(std::chrono::milliseconds(0)).ok()) << label;
      }
      h.faults().at_commit = 0;
      h.Restart();
      ASSERT_TRUE(h.RunUntilIdle().ok()) << label;
      ExpectExactlyOnce(h, reference, label);
    }
  }
  EXPECT_EQ(faults_hit, 2 * reference.commits) << "every fault lands inside the run";
}

TEST(Transactions, ANewOwnerSkipsWhatThePreviousOwnerCommitted) {
  const Reference reference = RunWithoutFaults(Transactional());
  for (int k = 1; k <= reference.commits; ++k) {
    const std::string label = "died after commit " + std::to_string(k);
    EngineHarness a(Transactional());
    PublishInput(a);
    a.faults().at_commit = a.faults().commits + k;
    (void)a.RunUntilIdle();
    a.Stop();
    // Another instance, with an empty data directory, restores from the changelog.
    EngineHarness b(a.broker(), "", Transactional());
    ASSERT_TRUE(b.RunUntilIdle().ok()) << label;
    ExpectExactlyOnce(b, reference, label);
  }
}

}  // namespace
}  // namespace pathway::engine
