// What pathwayctl restore reads and does (services/pathwayctl/restore_support.h), in
// process over the memory bus and a real Engine: its account of what the engine will do
// with a restored store agrees with what the engine then does, in every case of the
// changelog; erasures are found on the changelog and on pathway.events.v1; the commands
// an erasure's purge removed are counted; and a child erased by restore is erased as
// the engine erases.
#include "services/pathwayctl/restore_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/bus/memory_bus.h"
#include "services/topics.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/common/two_children.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::EngineHarness;
using pathway::testing::Erase;
using pathway::testing::kStoryA;
using pathway::testing::kValidNhsNumber;
using pathway::testing::Story;
using pathway::testing::TestNhsNumber;
using pathway::testing::ValidReferral;

const std::string kKek(32, 'K');

void Feed(EngineHarness& h, const std::vector<v1::Envelope>& commands) {
  for (const auto& c : commands) h.Publish(c);
  Status s = h.RunUntilIdle();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
}

std::vector<v1::Envelope> Referrals(int from, int to) {
  std::vector<v1::Envelope> out;
  for (int i = from; i < to; ++i)
    out.push_back(ValidReferral("ref-" + std::to_string(i), TestNhsNumber(i)));
  return out;
}

Consumers MemoryConsumers(bus::MemoryBroker& broker) {
  return [&broker]() -> Result<std::unique_ptr<bus::Consumer>> {
    return bus::NewMemoryConsumer(broker, "");
  };
}

// A backup of every partition of a running engine, as pathwayctl backup takes it:
// the stores copied, and what the manifest says of each.
struct Backup {
  testing::TempDir dir;
  std::map<int32_t, store::BackupPartition> partitions;
};

std::unique_ptr<Backup> TakeBackup(EngineHarness& h) {
  auto backup = std::make_unique<Backup>();
  for (int32_t p = 0; p < 4; ++p) {
    auto source = state::CaseStore::OpenReadOnly(h.stores().PartitionDir(p),
                                                 state::StoreOptions{"", p, kKek, nullptr});
    EXPECT_TRUE(source.ok());
    auto copy =
        (*source)->CopyTo(backup->dir.path() + "/state/partition-" + std::to_string(p), nullptr);
    EXPECT_TRUE(copy.ok());
    store::BackupPartition& part = backup->partitions[p];
    part.set_partition(p);
    part.set_records(copy->records);
    part.set_digest(copy->digest);
    auto fence = (*source)->LocalFence();
    EXPECT_TRUE(fence.ok() && fence->has_value());
    part.set_fence_owner((*fence)->owner);
    part.set_fence_offset((*fence)->offset);
    auto next = (*source)->NextOffset(std::string(topics::kCommands), p);
    part.set_commands_next_offset(next.ok() ? next->value_or(-1) : -1);
  }
  return backup;
}

// Restores `backup` into a new data directory as pathwayctl restore does with the
// store (the fence forgotten where the changelog will replace it), starts an engine on
// it over `broker`, and says what the engine did with each partition.
std::map<int32_t, Continuation> WhatTheEngineDoes(const Backup& backup, bus::MemoryBroker& broker,
                                                  std::map<int32_t, Continuation>& predicted) {
  testing::TempDir target;
  for (const auto& [p, part] : backup.partitions) {
    ReadLimits limits;
    limits.idle = std::chrono::milliseconds(500);
    auto read = ReadChangelog(MemoryConsumers(broker), part, limits);
    EXPECT_TRUE(read.ok()) << read.error().ToString();
    predicted[p] = Continues(part, read->facts);
    auto source =
        state::CaseStore::OpenReadOnly(backup.dir.path() + "/state/partition-" + std::to_string(p),
                                       state::StoreOptions{"", p, kKek, nullptr});
    EXPECT_TRUE(source.ok());
    const std::string dir = target.path() + "/state/partition-" + std::to_string(p);
    EXPECT_TRUE((*source)->CopyTo(dir, nullptr).ok());
    if (predicted[p] == Continuation::kChangelog) {
      auto restored = state::CaseStore::Open(dir, state::StoreOptions{"", p, kKek, nullptr});
      EXPECT_TRUE(restored.ok() && (*restored)->ClearLocalFence().ok());
    }
  }
  // The engine's account: a store kept is not restored; a restore that applies records
  // came from the changelog; one that applies none fell back to the commands topic.
  std::map<int32_t, Continuation> out;
  EngineHarness next(broker, target.path());
  for (int32_t p = 0; p < 4; ++p) {
    auto fence = next.stores().Find(p)->LocalFence();
    EXPECT_TRUE(fence.ok() && fence->has_value());
    (void)fence;
  }
  const auto& stats = next.engine().stats();
  // Every partition is handled alike in these cases, so the totals tell.
  if (stats.restores == 0) {
    for (int32_t p = 0; p < 4; ++p) out[p] = Continuation::kBackup;
  } else {
    for (int32_t p = 0; p < 4; ++p) {
      out[p] = stats.restored_records > 0 ? Continuation::kChangelog : Continuation::kCommands;
    }
  }
  return out;
}

TEST(RestoreSupport, WithItsChangelogWholeThePartitionIsRebuiltFromIt) {
  EngineHarness h;
  Feed(h, Referrals(0, 8));
  auto backup = TakeBackup(h);
  Feed(h, Referrals(8, 12));
  h.Stop();
  bus::MemoryBroker broker = h.broker();
  std::map<int32_t, Continuation> predicted;
  const auto done = WhatTheEngineDoes(*backup, broker, predicted);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(predicted[p], Continuation::kChangelog) << p;
    EXPECT_EQ(done.at(p), predicted[p]) << p;
  }
}

TEST(RestoreSupport, WithItsChangelogLostTheEngineKeepsTheBackup) {
  EngineHarness h;
  Feed(h, Referrals(0, 8));
  auto backup = TakeBackup(h);
  h.Stop();
  bus::MemoryBroker broker = h.broker();
  for (int32_t p = 0; p < 4; ++p) broker.Truncate(std::string(topics::kChangelog), p, 0);
  std::map<int32_t, Continuation> predicted;
  const auto done = WhatTheEngineDoes(*backup, broker, predicted);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(predicted[p], Continuation::kBackup) << p;
    EXPECT_EQ(done.at(p), predicted[p]) << p;
  }
}

TEST(RestoreSupport, WithTheChangelogsStartLostAndAnotherOwnerSinceTheCommandsTopicRebuildsIt) {
  EngineHarness h;
  Feed(h, Referrals(0, 8));
  auto backup = TakeBackup(h);
  // The engine restarts (a new fence: another owner since the backup), then the
  // changelog loses its start (the dev broker's 5 MB, a retention set by mistake).
  h.Restart();
  Feed(h, Referrals(8, 12));
  h.Stop();
  bus::MemoryBroker broker = h.broker();
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(broker.DeleteRecordsBefore(std::string(topics::kChangelog), p, 1).ok());
  }
  std::map<int32_t, Continuation> predicted;
  const auto done = WhatTheEngineDoes(*backup, broker, predicted);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(predicted[p], Continuation::kCommands) << p;
    EXPECT_EQ(done.at(p), predicted[p]) << p;
  }
}

TEST(RestoreSupport, WithTheChangelogsStartLostAndNoOwnerSinceTheEngineKeepsTheBackup) {
  EngineHarness h;
  Feed(h, Referrals(0, 8));
  auto backup = TakeBackup(h);
  h.Stop();
  bus::MemoryBroker broker = h.broker();
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(broker.DeleteRecordsBefore(std::string(topics::kChangelog), p, 1).ok());
  }
  std::map<int32_t, Continuation> predicted;
  const auto done = WhatTheEngineDoes(*backup, broker, predicted);
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(predicted[p], Continuation::kBackup) << p;
    EXPECT_EQ(done.at(p), predicted[p]) << p;
  }
}

TEST(RestoreSupport, ErasuresAreFoundOnTheChangelogAndOnTheEventsTopic) {
  EngineHarness h;
  Feed(h, {pathway::testing::ReferralA(true), Story("story-a", kValidNhsNumber, kStoryA)});
  Feed(h, Referrals(0, 4));
  auto backup = TakeBackup(h);
  Feed(h, {Erase("erase-a", kValidNhsNumber)});
  h.Stop();
  const std::string a = h.SubjectOf(kValidNhsNumber);
  const int32_t pa = h.broker().PartitionFor(std::string(topics::kCommands), a);
  bus::MemoryBroker broker = h.broker();
  ReadLimits limits;
  limits.idle = std::chrono::milliseconds(500);
  auto read = ReadChangelog(MemoryConsumers(broker), backup->partitions[pa], limits);
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  ASSERT_EQ(read->erasures.count(a), 1u);
  ASSERT_TRUE(read->erasures.at(a).has_value()) << "the erasure event kept in A's history";
  EXPECT_TRUE(read->erasures.at(a)->has_erasure_completed());
  auto events = ReadErasureEvents(MemoryConsumers(broker), 4, limits);
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ASSERT_EQ(events->size(), 1u);
  ASSERT_EQ(events->at(pa).count(a), 1u);
  EXPECT_EQ(events->at(pa).at(a)->event_id(), read->erasures.at(a)->event_id());

  // The erasure's purge removed A's partition's commands up to it (the memory broker,
  // like a real one, deletes records): those after the backup's offset are gone.
  auto consumer = bus::NewMemoryConsumer(broker, "");
  auto commands = ReadCommandsFacts(*consumer, pa, backup->partitions[pa].commands_next_offset(),
                                    std::chrono::milliseconds(100));
  ASSERT_TRUE(commands.ok());
  EXPECT_GT(commands->start, commands->next);
  EXPECT_EQ(commands->missing(), commands->start - commands->next);
}

TEST(RestoreSupport, AChildErasedByRestoreIsErasedAsTheEngineErasesIt) {
  EngineHarness h;
  Feed(h, {pathway::testing::ReferralA(true), Story("story-a", kValidNhsNumber, kStoryA)});
  auto backup = TakeBackup(h);
  Feed(h, {Erase("erase-a", kValidNhsNumber)});
  const std::string a = h.SubjectOf(kValidNhsNumber);
  const int32_t pa = h.broker().PartitionFor(std::string(topics::kCommands), a);
  v1::Envelope completed;
  for (const auto& e : h.Read(topics::kEvents)) {
    if (e.has_erasure_completed()) completed = e;
  }
  ASSERT_TRUE(completed.has_erasure_completed());

  testing::TempDir copy;
  auto source =
      state::CaseStore::OpenReadOnly(backup->dir.path() + "/state/partition-" + std::to_string(pa),
                                     state::StoreOptions{"", pa, kKek, nullptr});
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->CopyTo(copy.path() + "/p", nullptr).ok());
  auto restored =
      state::CaseStore::Open(copy.path() + "/p", state::StoreOptions{"", pa, kKek, nullptr});
  ASSERT_TRUE(restored.ok());
  auto erased = EraseSubject(**restored, pa, a, completed);
  ASSERT_TRUE(erased.ok()) << erased.error().ToString();
  EXPECT_TRUE(*erased);
  auto again = EraseSubject(**restored, pa, a, completed);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again) << "erased already";

  // The same case, history and data key as the engine's own erasure left.
  state::CaseStore& engine = h.StoreFor(a);
  auto mine = (*restored)->LoadCase(a);
  auto theirs = engine.LoadCase(a);
  ASSERT_TRUE(mine.ok() && theirs.ok() && mine->has_value() && theirs->has_value());
  EXPECT_EQ((*mine)->SerializeAsString(), (*theirs)->SerializeAsString());
  auto my_history = (*restored)->History(a);
  auto their_history = engine.History(a);
  ASSERT_TRUE(my_history.ok() && their_history.ok());
  ASSERT_EQ(my_history->size(), their_history->size());
  EXPECT_EQ((*my_history)[0].event_id(), (*their_history)[0].event_id());
  EXPECT_TRUE(*(*restored)->Erased(a));
  size_t timers = 0;
  ASSERT_TRUE((*restored)
                  ->Scan(state::ColumnFamily::kTimers,
                         [&](std::string_view, std::string_view value) {
                           store::Timer t;
                           if (t.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
                               t.subject_key() == a) {
                             ++timers;
                           }
                         })
                  .ok());
  EXPECT_EQ(timers, 0u);
  // A child the backup never knew is marked erased too, so it cannot come back.
  const std::string unknown(64, 'e');
  auto marked = EraseSubject(**restored, pa, unknown, std::nullopt);
  ASSERT_TRUE(marked.ok()) << marked.error().ToString();
  EXPECT_TRUE(*marked);
  EXPECT_TRUE(*(*restored)->Erased(unknown));
}

}  // namespace
}  // namespace pathway::ctl
