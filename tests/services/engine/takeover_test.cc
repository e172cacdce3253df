// Scale-out over the in-memory bus (issue 4, "Deliver" 2): a partition's state moves
// to another instance through the changelog, a stale local copy is replaced, and a
// restore cut at any point of the changelog (an owner that died mid-send) still ends
// in exactly the state and the outputs of a run without the cut.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

std::string NhsNumber(int i) { return pathway::testing::TestNhsNumber(i); }

// Referrals for `children` children, half of them with an EHC needs assessment
// request on the harness's day (no deadline falls due, so timers stay out of it).
std::vector<Envelope> Input(int children) {
  std::vector<Envelope> out;
  for (int i = 0; i < children; ++i) {
    std::string nhs = NhsNumber(i);
    out.push_back(ValidReferral("ref-" + std::to_string(i), nhs));
    if (i % 2 == 0) {
      Envelope e;
      e.set_event_id("ehc-" + std::to_string(i));
      e.mutable_occurred_at()->set_seconds(1741599000);
      e.mutable_source()->set_agency("209");
      e.mutable_source()->set_system("sen-case-management");
      e.mutable_subject()->set_nhs_number(nhs);
      auto* r = e.mutable_ehc_assessment_requested();
      r->set_request_id("EHC-" + std::to_string(i));
      r->set_requested_by(pathway::v1::EHC_REQUESTER_PARENT);
      r->mutable_received_on()->set_year(2025);
      r->mutable_received_on()->set_month(3);
      r->mutable_received_on()->set_day(10);
      out.push_back(e);
    }
  }
  return out;
}

std::set<std::string> Ids(const std::vector<Envelope>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.event_id());
  return ids;
}

size_t Size(bus::MemoryBroker& broker, std::string_view topic) {
  return broker.ReadAll(std::string(topic)).size();
}

TEST(Takeover, ANewOwnerRestoresEveryPartitionFromTheChangelogWithoutReprocessing) {
  EngineHarness a;
  for (const auto& e : Input(12)) a.Publish(e, 0);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  ASSERT_EQ(a.PendingOutputs(), 0u);
  const auto reference = a.Cases();
  ASSERT_EQ(reference.size(), 12u);

  EngineHarness b(a.broker());
  EXPECT_EQ(b.engine().stats().restores, 4u);
  EXPECT_GT(b.engine().stats().restored_records, 0u);
  size_t events_before = Size(b.broker(), topics::kEvents);
  ASSERT_TRUE(b.RunUntilIdle().ok());
  EXPECT_EQ(b.engine().stats().commands, 0u) << "resumed at the restored offsets";
  EXPECT_EQ(Size(b.broker(), topics::kEvents), events_before) << "nothing sent again";
  EXPECT_EQ(b.Cases(), reference);

  // And it carries on: a new command for a restored child is decided on its state.
  b.Publish(ValidReferral("ref-0", NhsNumber(0)), 1);  // a partner's duplicate
  b.Publish(ValidReferral("ref-new", NhsNumber(40)), 1);
  ASSERT_TRUE(b.RunUntilIdle().ok());
  EXPECT_EQ(b.engine().stats().duplicates, 1u) << "the restored dedupe entry";
  EXPECT_EQ(b.Cases().size(), 13u);
}

TEST(Takeover, AStaleLocalStoreIsReplacedWhenAnotherOwnerHadThePartitionSince) {
  EngineHarness a;
  auto input = Input(8);
  for (size_t i = 0; i < input.size() / 2; ++i) a.Publish(input[i], 0);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  a.Stop();

  // b takes over and moves on; then a comes back against b's log with its old copy.
  EngineHarness b(a.broker());
  for (size_t i = input.size() / 2; i < input.size(); ++i) b.Publish(input[i], 0);
  ASSERT_TRUE(b.RunUntilIdle().ok());
  b.Stop();
  EngineHarness a_again(b.broker(), a.data_dir());
  EXPECT_EQ(a_again.engine().stats().restores, 4u) << "every local copy was stale";
  ASSERT_TRUE(a_again.RunUntilIdle().ok());
  EXPECT_EQ(a_again.engine().stats().commands, 0u);

  EngineHarness reference;
  for (const auto& e : input) reference.Publish(e, 0);
  ASSERT_TRUE(reference.RunUntilIdle().ok());
  EXPECT_EQ(a_again.Cases(), reference.Cases());
}

TEST(Takeover, ARestartWithNoOtherOwnerKeepsItsLocalStore) {
  EngineHarness a;
  for (const auto& e : Input(4)) a.Publish(e, 0);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  auto before = a.Cases();
  a.Restart();
  EXPECT_EQ(a.engine().stats().restores, 0u);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  EXPECT_EQ(a.engine().stats().commands, 0u);
  EXPECT_EQ(a.Cases(), before);
}

TEST(Takeover, ANewOwnerCommitsWhereItRestartsSoTheGroupDoesNotLookCaughtUp) {
  // An owner commits the group's offsets before its changelog is delivered, so a new
  // owner may restart behind them. Unless it says so, Kafka's lag tools (and anyone
  // waiting for the group to catch up) count the commands it redoes as done.
  EngineHarness a;
  for (const auto& e : Input(6)) a.Publish(e, 0);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  const auto reference = a.Cases();
  bus::MemoryBroker crashed = a.broker();
  auto committed = [](bus::MemoryBroker& broker, int32_t p) {
    auto it = broker.CommittedOffsets().find(
        "pathway-engine.commands/" + std::string(topics::kCommands) + "/" + std::to_string(p));
    return it == broker.CommittedOffsets().end() ? int64_t{-1} : it->second;
  };
  std::vector<int64_t> end(4);
  for (int32_t p = 0; p < 4; ++p) {
    end[p] = static_cast<int64_t>(crashed.Log(std::string(topics::kCommands), p).size());
    ASSERT_EQ(committed(crashed, p), end[p]) << "the old owner committed everything";
    // Its changelog ends after its fence: the new owner starts from the beginning.
    crashed.Truncate(std::string(topics::kChangelog), p, 1);
  }

  engine::EngineOptions one_at_a_time;
  one_at_a_time.max_batch = 1;
  EngineHarness b(crashed, "", one_at_a_time);
  ASSERT_TRUE(b.engine().Step(std::chrono::milliseconds(0)).ok());
  for (int32_t p = 0; p < 4; ++p) {
    if (end[p] > 1) {
      EXPECT_LT(committed(b.broker(), p), end[p]) << "partition " << p << " looks caught up";
    }
  }
  ASSERT_TRUE(b.RunUntilIdle().ok());
  EXPECT_EQ(b.Cases(), reference);
  for (int32_t p = 0; p < 4; ++p) EXPECT_EQ(committed(b.broker(), p), end[p]);
}

TEST(Takeover, RestoringAnyPrefixOfTheChangelogEndsInTheReferenceStateAndIds) {
  // The owner dies having delivered only part of its changelog (any cut, even inside
  // one command's records). The next owner restores what is there, processes the
  // rest again, and ends exactly where a run without the crash ends.
  EngineHarness a;
  for (const auto& e : Input(6)) a.Publish(e, 0);
  ASSERT_TRUE(a.RunUntilIdle().ok());
  const auto reference = a.Cases();
  const auto reference_ids = Ids(a.Read(topics::kEvents));
  const auto reference_rejections = Ids(a.Read(topics::kRejections));
  size_t longest = 0;
  for (int32_t p = 0; p < 4; ++p) {
    longest = std::max(longest, a.broker().Log(std::string(topics::kChangelog), p).size());
  }
  std::cout << "longest changelog partition: " << longest << " records\n";
  ASSERT_GT(longest, 20u);
  ASSERT_LT(longest, 80u) << "keep every cut affordable";

  // Where each partition's last new data key is on its changelog: an event sealed
  // under a key is only sent once the key's record is confirmed there, so cuts before
  // it are deaths the engine never lets happen with that event already out.
  std::vector<size_t> keys_end(4, 0);
  for (int32_t p = 0; p < 4; ++p) {
    const auto& log = a.broker().Log(std::string(topics::kChangelog), p);
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].key && !log[i].key->empty() &&
          (*log[i].key)[0] == static_cast<char>(state::ColumnFamily::kDataKeys)) {
        keys_end[p] = i + 1;
      }
    }
  }
  ASSERT_GT(*std::max_element(keys_end.begin(), keys_end.end()), 0u) << "no data key made";

  // Every other cut (each restore costs four RocksDB opens; under ASan that adds up),
  // which still lands inside, before and after each batch's records.
  for (size_t cut = 0; cut <= longest; cut += 2) {
    SCOPED_TRACE("changelog cut after " + std::to_string(cut) + " records");
    bus::MemoryBroker crashed = a.broker();
    for (int32_t p = 0; p < 4; ++p) crashed.Truncate(std::string(topics::kChangelog), p, cut);
    EngineHarness b(crashed);
    ASSERT_TRUE(b.RunUntilIdle().ok());
    EXPECT_EQ(b.Cases(), reference);
    EXPECT_EQ(Ids(b.Read(topics::kEvents)), reference_ids);
    EXPECT_EQ(Ids(b.Read(topics::kRejections)), reference_rejections) << "nothing decided twice";
    EXPECT_EQ(b.PendingOutputs(), 0u);
    if (std::all_of(keys_end.begin(), keys_end.end(), [&](size_t end) { return cut >= end; })) {
      // A re-decided event is the same bytes as the first copy, sealed fields included.
      std::map<std::string, std::string> first_copy;
      size_t repeats = 0;
      for (const auto& m : b.broker().ReadAll(std::string(topics::kEvents))) {
        Envelope e;
        if (!e.ParseFromString(m.value)) {
          ADD_FAILURE() << "an event that is no Envelope";
          continue;
        }
        auto [it, inserted] = first_copy.try_emplace(e.event_id(), m.value);
        if (inserted) continue;
        ++repeats;
        EXPECT_TRUE(it->second == m.value) << "two copies of " << e.event_id() << " differ";
      }
      // A cut that drops a case record makes the new owner decide its command again;
      // one that drops only later records (removed timers, the consumed offset) does
      // not, since the case record carries its command's dedupe entry.
      bool state_cut = false;
      for (int32_t p = 0; p < 4; ++p) {
        const auto& log = a.broker().Log(std::string(topics::kChangelog), p);
        for (size_t i = cut; i < log.size(); ++i) {
          state_cut |= log[i].key && !log[i].key->empty() &&
                       (*log[i].key)[0] == static_cast<char>(state::ColumnFamily::kCaseState);
        }
      }
      if (state_cut) {
        EXPECT_GT(repeats, 0u) << "the cut made the new owner re-decide";
      }
    }
  }
}

}  // namespace
}  // namespace pathway::engine
