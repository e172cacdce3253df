#include "state/case_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <set>

#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {
using pathway::testing::TempDir;

const std::string kSubject(64, 'a');

TEST(ColumnFamilies, IdsArePermanentAndNeverReused) {
  // Rule: key prefixes/column family ids are permanent (design.md; Zeebe lesson).
  // Changing this table's existing rows is a data-format break: add, never edit.
  const std::vector<std::pair<int, std::string>> golden = {
      {1, "cf01_meta"},   {2, "cf02_case_state"}, {3, "cf03_history"},
      {4, "cf04_dedupe"}, {5, "cf05_outbox"},     {6, "cf06_offsets"},
      {7, "cf07_timers"}, {8, "cf08_data_keys"},  {9, "cf09_case_index"},
  };
  std::set<int> ids;
  for (const auto& spec : ColumnFamilies()) {
    EXPECT_TRUE(ids.insert(static_cast<int>(spec.id)).second) << "duplicate id " << int(spec.id);
  }
  for (uint8_t retired : RetiredColumnFamilyIds()) {
    EXPECT_FALSE(ids.count(retired)) << "retired id " << int(retired) << " reused";
  }
  for (const auto& [id, name] : golden) {
    bool found = false;
    for (const auto& spec : ColumnFamilies()) {
      if (static_cast<int>(spec.id) == id) {
        found = true;
        EXPECT_EQ(DiskName(spec), name) << "column family " << id << " was renamed";
      }
    }
    bool retired = false;
    for (uint8_t r : RetiredColumnFamilyIds()) retired = retired || r == id;
    EXPECT_TRUE(found || retired) << "column family " << id << " removed without retiring it";
  }
}

Batch SampleBatch(int64_t next_offset, const std::string& event_id) {
  Batch b;
  b.consumed = ConsumedOffset{"pathway.commands.v1", 3, next_offset};
  b.dedupe_event_id = event_id;
  b.subject_key = kSubject;
  pathway::store::v1::CaseState state;
  state.set_history_length(1);
  b.new_state = state;
  pathway::v1::Envelope e;
  e.set_event_id("out-" + event_id);
  b.history.push_back(e);
  pathway::store::v1::OutboxEntry entry;
  entry.set_topic("pathway.events.v1");
  entry.set_key(kSubject);
  entry.set_value(e.SerializeAsString());
  b.outbox.push_back(entry);
  return b;
}

TEST(CaseStore, CommitWritesEverythingInOneBatch) {
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  CaseStore& s = **store;

  ASSERT_TRUE(s.Commit(SampleBatch(18, "evt-1")).ok());
  EXPECT_TRUE(*s.SeenEvent("evt-1"));
  EXPECT_FALSE(*s.SeenEvent("evt-2"));
  auto state = s.LoadCase(kSubject);
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->history_length(), 1u);
  auto history = s.History(kSubject);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].event_id(), "out-evt-1");
  auto offset = s.NextOffset("pathway.commands.v1", 3);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->value_or(-1), 18);
  EXPECT_FALSE(s.NextOffset("pathway.commands.v1", 4)->has_value());
  auto outbox = s.ReadOutbox(0, 10);
  ASSERT_TRUE(outbox.ok());
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ((*outbox)[0].entry.topic(), "pathway.events.v1");
}

TEST(CaseStore, HistoryAppendsInOrderAndStaysPerSubject) {
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch first = SampleBatch(1, "evt-1");
  Batch second = SampleBatch(2, "evt-2");
  second.history_start = 1;
  Batch other = SampleBatch(3, "evt-3");
  other.subject_key = std::string(64, 'b');
  ASSERT_TRUE((*store)->Commit(first).ok());
  ASSERT_TRUE((*store)->Commit(second).ok());
  ASSERT_TRUE((*store)->Commit(other).ok());
  auto history = (*store)->History(kSubject);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].event_id(), "out-evt-1");
  EXPECT_EQ((*history)[1].event_id(), "out-evt-2");
}

TEST(CaseStore, OutboxSequenceSurvivesReopenAndDeletes) {
  TempDir dir;
  {
    auto store = CaseStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Commit(SampleBatch(1, "evt-1")).ok());
    ASSERT_TRUE((*store)->Commit(SampleBatch(2, "evt-2")).ok());
    auto items = (*store)->ReadOutbox(0, 10);
    ASSERT_EQ(items->size(), 2u);
    EXPECT_LT((*items)[0].sequence, (*items)[1].sequence);
    ASSERT_TRUE((*store)->DeleteOutbox((*items)[0].sequence).ok());
    ASSERT_TRUE((*store)->DeleteOutbox((*items)[1].sequence).ok());
    EXPECT_TRUE((*store)->ReadOutbox(0, 10)->empty());
  }
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  EXPECT_TRUE(*(*store)->SeenEvent("evt-2"));
  ASSERT_TRUE((*store)->Commit(SampleBatch(3, "evt-3")).ok());
  auto items = (*store)->ReadOutbox(0, 10);
  ASSERT_EQ(items->size(), 1u);
  // A reused sequence could be deleted by a late delivery report of its namesake.
  EXPECT_EQ((*items)[0].sequence, 2u);
}

TEST(CaseStore, OffsetOnlyBatchAdvancesOffsetAndNothingElse) {
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch b;
  b.consumed = ConsumedOffset{"pathway.commands.v1", 0, 42};
  ASSERT_TRUE((*store)->Commit(b).ok());
  EXPECT_EQ((*store)->NextOffset("pathway.commands.v1", 0)->value_or(-1), 42);
  EXPECT_TRUE((*store)->ReadOutbox(0, 10)->empty());
  int cases = 0;
  ASSERT_TRUE((*store)->Scan(ColumnFamily::kCaseState, [&](auto, auto) { ++cases; }).ok());
  EXPECT_EQ(cases, 0);
}

TEST(CaseStore, RejectsSubjectKeysThatAreNotKeyedHashes) {
  // Keys never hold personal data: only a 64-hex-digit subject key is accepted.
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch b = SampleBatch(1, "evt-1");
  b.subject_key = "9434765919";
  Status s = (*store)->Commit(b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(errc::kInvalidArgument));
  EXPECT_FALSE(*(*store)->SeenEvent("evt-1")) << "a failed batch must leave nothing behind";
  EXPECT_FALSE((*store)->LoadCase("9434765919").ok());
}

TEST(CaseStore, KeysHoldNoEventIdsOrSubjectText) {
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Commit(SampleBatch(1, "partner-event-123")).ok());
  for (const auto& spec : ColumnFamilies()) {
    ASSERT_TRUE((*store)
                    ->Scan(spec.id,
                           [&](std::string_view key, std::string_view) {
                             EXPECT_EQ(key.find("partner-event-123"), std::string_view::npos)
                                 << DiskName(spec);
                           })
                    .ok());
  }
}

pathway::store::v1::Timer MakeTimer(const std::string& deadline, int day,
                                    pathway::store::v1::TimerKind kind) {
  pathway::store::v1::Timer t;
  t.set_subject_key(kSubject);
  t.set_instance_id("i1");
  t.set_deadline(deadline);
  t.set_kind(kind);
  t.mutable_fires_on()->set_year(2025);
  t.mutable_fires_on()->set_month(3);
  t.mutable_fires_on()->set_day(day);
  return t;
}

TEST(CaseStore, TimersAreFiledPerPartitionAndReturnedInFiringOrder) {
  TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch b;
  b.partition = 3;
  b.timers_add = {MakeTimer("late", 20, pathway::store::v1::TIMER_KIND_BREACH),
                  MakeTimer("early", 5, pathway::store::v1::TIMER_KIND_WARNING),
                  MakeTimer("middle", 10, pathway::store::v1::TIMER_KIND_BREACH)};
  ASSERT_TRUE((*store)->Commit(b).ok());
  Batch other;
  other.partition = 4;
  other.timers_add = {MakeTimer("elsewhere", 1, pathway::store::v1::TIMER_KIND_BREACH)};
  ASSERT_TRUE((*store)->Commit(other).ok());

  pathway::v1::Date up_to;
  up_to.set_year(2025);
  up_to.set_month(3);
  up_to.set_day(10);
  auto due = (*store)->DueTimers(3, up_to, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u) << "due on or before 10 March, partition 3 only";
  EXPECT_EQ((*due)[0].deadline(), "early");
  EXPECT_EQ((*due)[1].deadline(), "middle");
  EXPECT_EQ((*store)->DueTimers(3, up_to, 1)->size(), 1u) << "bounded";

  Batch fired;
  fired.partition = 3;
  fired.timers_remove = {MakeTimer("early", 5, pathway::store::v1::TIMER_KIND_WARNING)};
  ASSERT_TRUE((*store)->Commit(fired).ok());
  due = (*store)->DueTimers(3, up_to, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].deadline(), "middle");
  EXPECT_FALSE((*store)->NextOffset("pathway.commands.v1", 3)->has_value())
      << "a timer batch consumes no offset";
}

TEST(CaseStore, RefusesADirectoryWithAnUnknownColumnFamily) {
  // A newer pathway may add column families; an older binary must not open (and
  // silently ignore) data it does not understand.
  TempDir dir;
  { ASSERT_TRUE(CaseStore::Open(dir.path()).ok()); }
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), descriptors, &handles, &raw).ok());
    rocksdb::ColumnFamilyHandle* future = nullptr;
    ASSERT_TRUE(
        raw->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "cf99_future", &future).ok());
    handles.push_back(future);
    for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto store = CaseStore::Open(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, make_error_code(errc::kIncompatible));
  EXPECT_NE(store.error().detail.find("cf99_future"), std::string::npos);
}

TEST(CaseStore, AReadOnlyOpenReadsWhatARunningWriterCommittedAndWritesNothing) {
  // pathwayctl's operations tools read an engine's stores while the engine runs.
  TempDir dir;
  auto writer = CaseStore::Open(dir.path());
  ASSERT_TRUE(writer.ok()) << writer.error().ToString();
  ASSERT_TRUE((*writer)->Commit(SampleBatch(18, "evt-1")).ok());

  auto reader = CaseStore::OpenReadOnly(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  auto state = (*reader)->LoadCase(kSubject);
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_EQ((*state)->history_length(), 1u);
  EXPECT_EQ((*reader)->History(kSubject)->size(), 1u);
  EXPECT_EQ((*reader)->NextOffset("pathway.commands.v1", 3)->value_or(-1), 18);

  // It sees what was committed when it opened, and cannot write.
  ASSERT_TRUE((*writer)->Commit(SampleBatch(19, "evt-2")).ok());
  EXPECT_FALSE((*reader)->SeenEvent("evt-2")->has_value());
  EXPECT_FALSE((*reader)->Commit(SampleBatch(20, "evt-3")).ok());
  EXPECT_FALSE((*reader)->DeleteOutbox(0).ok());
  reader->reset();
  EXPECT_FALSE((*writer)->SeenEvent("evt-3")->has_value());
  EXPECT_EQ((*writer)->ReadOutbox(0, 10)->size(), 2u);

  // No store there: an error, and nothing created.
  const std::string missing = dir.path() + "/none";
  EXPECT_FALSE(CaseStore::OpenReadOnly(missing).ok());
  EXPECT_FALSE(std::filesystem::exists(missing));
}

namespace changelog {
using pathway::store::v1::ChangelogValue;

constexpr std::string_view kChangelogTopic = "pathway.engine.cases.changelog";

std::unique_ptr<CaseStore> OpenWithChangelog(const std::string& dir) {
  auto store = CaseStore::Open(dir, StoreOptions{std::string(kChangelogTopic), 3, {}, nullptr});
  EXPECT_TRUE(store.ok());
  return std::move(*store);
}

// What the engine would send for `store`'s outbox changelog entries: the records as
// they arrive on the topic (offsets from `first_offset`).
std::vector<ChangelogRecord> Sent(CaseStore& store, int64_t first_offset = 0) {
  std::vector<ChangelogRecord> out;
  auto items = store.ReadOutbox(0, 10000);
  EXPECT_TRUE(items.ok());
  for (const auto& item : *items) {
    if (!item.entry.changelog()) continue;
    EXPECT_EQ(item.entry.topic(), kChangelogTopic);
    EXPECT_EQ(item.entry.partition(), 3);
    ChangelogRecord r;
    r.offset = first_offset + static_cast<int64_t>(out.size());
    r.key = item.entry.key();
    if (!item.entry.tombstone()) r.value = item.entry.value();
    out.push_back(std::move(r));
  }
  return out;
}

ChangelogRecord Fence(const std::string& owner, int64_t offset) {
  auto e = CaseStore::FenceRecord(owner);
  return {offset, e.key(), e.value()};
}

// An output as an engine before decision 107 mirrored it: outbox sequence `sequence`.
ChangelogRecord LegacyMirroredOutput(uint64_t sequence, const std::string& value,
                                     int64_t offset = 0) {
  std::string key(1, static_cast<char>(ColumnFamily::kOutbox));
  for (int shift = 56; shift >= 0; shift -= 8) key += static_cast<char>((sequence >> shift) & 0xff);
  pathway::store::v1::OutboxEntry entry;
  entry.set_topic("pathway.events.v1");
  entry.set_key(kSubject);
  entry.set_value(value);
  ChangelogValue v;
  v.set_value(entry.SerializeAsString());
  return {offset, key, v.SerializeAsString()};
}

std::map<std::string, std::string> Contents(CaseStore& store, ColumnFamily family) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(
      store
          .Scan(family, [&](std::string_view k,
                            std::string_view v) { out.emplace(std::string(k), std::string(v)); })
          .ok());
  return out;
}

TEST(Changelog, CommitMirrorsEveryWriteAndARestoreRebuildsTheStore) {
  TempDir dir;
  auto primary = OpenWithChangelog(dir.path() + "/a");
  primary->SetOwner("owner-a");
  Batch b = SampleBatch(8, "evt-1");
  pathway::store::v1::Timer timer;
  timer.set_subject_key(kSubject);
  timer.set_instance_id("ehc-1");
  timer.set_deadline("final_plan");
  timer.set_kind(pathway::store::v1::TIMER_KIND_BREACH);
  timer.mutable_fires_on()->set_year(2025);
  timer.mutable_fires_on()->set_month(7);
  timer.mutable_fires_on()->set_day(1);
  b.timers_add.push_back(timer);
  ASSERT_TRUE(primary->Commit(b).ok());

  std::vector<ChangelogRecord> records = {Fence("owner-a", 0)};
  for (auto& r : Sent(*primary, 1)) records.push_back(std::move(r));
  for (const auto& r : records) {
    if (!r.value || CaseStore::FenceOwner(r.key)) continue;
    ChangelogValue v;
    ASSERT_TRUE(v.ParseFromString(*r.value));
    EXPECT_EQ(v.owner(), "owner-a") << "the sender's owner is written into each record";
  }

  auto replica = OpenWithChangelog(dir.path() + "/b");
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  for (ColumnFamily f : {ColumnFamily::kCaseState, ColumnFamily::kHistory, ColumnFamily::kTimers,
                         ColumnFamily::kOffsets}) {
    EXPECT_EQ(Contents(*replica, f), Contents(*primary, f)) << static_cast<int>(f);
  }
  EXPECT_TRUE(*replica->SeenEvent("evt-1"));
  // Outputs are not mirrored (decision 107): the sender lets these records go only
  // once the outputs before them are delivered, so nothing is left to send.
  auto outputs = replica->ReadOutbox(0, 100);
  ASSERT_TRUE(outputs.ok());
  EXPECT_TRUE(outputs->empty());
  EXPECT_EQ(filter.ignored, 0u);
}

TEST(Changelog, NoOutputIsMirroredAndTheCaseRecordCarriesItsDedupeEntry) {
  // The order that makes any prefix of a batch safe to restore (StoreOptions): the
  // output first in the outbox, not on the changelog; then history, case, offset.
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  ASSERT_TRUE(store->Commit(SampleBatch(8, "evt-1")).ok());
  auto items = store->ReadOutbox(0, 100);
  ASSERT_FALSE(items->empty());
  EXPECT_FALSE(items->front().entry.changelog()) << "the output comes first";
  std::vector<int> families;
  for (const auto& r : Sent(*store)) families.push_back(static_cast<uint8_t>(r.key[0]));
  EXPECT_EQ(families, (std::vector<int>{static_cast<int>(ColumnFamily::kHistory),
                                        static_cast<int>(ColumnFamily::kCaseState),
                                        static_cast<int>(ColumnFamily::kOffsets)}));

  // A restore that stops right after the case record knows the command is done.
  auto records = Sent(*store);
  records.resize(2);
  auto replica = OpenWithChangelog(dir.path() + "-replica");
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  EXPECT_TRUE(replica->LoadCase(kSubject)->has_value());
  EXPECT_TRUE(*replica->SeenEvent("evt-1"));
  EXPECT_FALSE(replica->NextOffset("pathway.commands.v1", 3)->has_value());
}

TEST(Changelog, RecordsOfAReplacedOwnerAfterANewFenceAreIgnored) {
  TempDir dir;
  auto a = OpenWithChangelog(dir.path() + "/a");
  a->SetOwner("owner-a");
  ASSERT_TRUE(a->Commit(SampleBatch(1, "evt-1")).ok());
  auto first = Sent(*a, 1);
  // owner-b fences; owner-a, not yet aware, sends a later batch (a "zombie").
  ASSERT_TRUE(a->DeleteOutbox(0).ok());  // clear to isolate the next batch's records
  auto zombie_store = OpenWithChangelog(dir.path() + "/z");
  zombie_store->SetOwner("owner-a");
  Batch late = SampleBatch(2, "evt-2");
  late.subject_key = std::string(64, 'b');
  ASSERT_TRUE(zombie_store->Commit(late).ok());

  std::vector<ChangelogRecord> log = {Fence("owner-a", 0)};
  for (auto& r : first) log.push_back(r);
  log.push_back(Fence("owner-b", static_cast<int64_t>(log.size())));
  for (auto& r : Sent(*zombie_store, static_cast<int64_t>(log.size()))) log.push_back(r);

  auto replica = OpenWithChangelog(dir.path() + "/r");
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(log, filter).ok());
  EXPECT_TRUE(replica->LoadCase(kSubject)->has_value()) << "written before the fence: kept";
  EXPECT_FALSE(replica->LoadCase(std::string(64, 'b'))->has_value()) << "after it: ignored";
  EXPECT_GT(filter.ignored, 0u);
  EXPECT_EQ(filter.current_owner, "owner-b");
}

TEST(Changelog, ADeliveredOutputQueuesNoTombstone) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  ASSERT_TRUE(store->Commit(SampleBatch(1, "evt-1")).ok());
  auto before = Sent(*store);
  ASSERT_TRUE(store->DeleteOutbox(0).ok());  // the output's delivery is confirmed
  EXPECT_EQ(Sent(*store).size(), before.size()) << "it never was on the changelog";
  // A changelog record's own delivery queues nothing either.
  auto items = store->ReadOutbox(0, 100);
  ASSERT_TRUE(store->DeleteOutbox(items->back().sequence).ok());
  EXPECT_EQ(store->ReadOutbox(0, 100)->size(), items->size() - 1);
}

TEST(Changelog, AnOutputMirroredByAnOlderEngineIsRestoredSentOnceAndTombstoned) {
  // A changelog written before decision 107 carries undelivered outputs: the new
  // owner sends them, and its delivery deletes the mirrored copy from the topic.
  TempDir dir;
  auto replica = OpenWithChangelog(dir.path());
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog({{LegacyMirroredOutput(7, "old-output")}}, filter).ok());
  auto items = replica->ReadOutbox(0, 100);
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->front().sequence, 7u);
  EXPECT_TRUE(items->front().entry.mirrored());
  EXPECT_EQ(items->front().entry.value(), "old-output");

  ASSERT_TRUE(replica->DeleteOutbox(7).ok());
  auto left = replica->ReadOutbox(0, 100);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_TRUE(left->front().entry.tombstone());
  EXPECT_EQ(left->front().entry.key(), LegacyMirroredOutput(7, "").key)
      << "the tombstone deletes the mirrored output";
  EXPECT_GT(left->front().sequence, 7u) << "numbered after the restored entries";

  // Replaced in place (a dead letter), it keeps the mark.
  auto again = OpenWithChangelog(dir.path() + "-again");
  ASSERT_TRUE(again->ApplyChangelog({{LegacyMirroredOutput(3, "refused")}}, filter).ok());
  pathway::store::v1::OutboxEntry dead;
  dead.set_topic("pathway.deadletter.v1");
  dead.set_value("dead letter");
  ASSERT_TRUE(*again->ReplaceOutbox(3, dead));
  EXPECT_FALSE(*again->ReplaceOutbox(4, dead)) << "no entry 4";
  auto replaced = again->ReadOutbox(0, 100);
  ASSERT_EQ(replaced->size(), 1u);
  EXPECT_EQ(replaced->front().sequence, 3u);
  EXPECT_EQ(replaced->front().entry.value(), "dead letter");
  EXPECT_TRUE(replaced->front().entry.mirrored());
}

TEST(Changelog, DeleteDeliveredTombstonesOnlyMirroredOutputsInOneWrite) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  ASSERT_TRUE(store->Commit(SampleBatch(1, "evt-1")).ok());
  auto items = store->ReadOutbox(0, 100);
  ASSERT_TRUE(items.ok());
  ASSERT_GE(items->size(), 2u);
  std::vector<Delivered> delivered;
  for (const auto& item : *items) delivered.push_back({item.sequence, item.entry.mirrored()});
  ASSERT_TRUE(store->DeleteDelivered(delivered).ok());
  EXPECT_TRUE(store->ReadOutbox(0, 100)->empty()) << "nothing mirrored, nothing to tombstone";

  RestoreFilter filter;
  ASSERT_TRUE(store->ApplyChangelog({{LegacyMirroredOutput(100, "old")}}, filter).ok());
  const std::vector<Delivered> legacy = {{100, true}};
  ASSERT_TRUE(store->DeleteDelivered(legacy).ok());
  auto left = store->ReadOutbox(0, 1000);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_TRUE(left->front().entry.tombstone());
  EXPECT_EQ(left->front().entry.key(), LegacyMirroredOutput(100, "").key);
  // A repeated report deletes nothing more than is gone, and only queues a tombstone.
  ASSERT_TRUE(store->DeleteDelivered(legacy).ok());
  EXPECT_EQ(store->ReadOutbox(0, 1000)->size(), 2u);
}

TEST(Changelog, AGroupCommitIsEveryBatchInOrderWithOnlyTheLastOffset) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  Batch first = SampleBatch(5, "evt-1");
  Batch second = SampleBatch(6, "evt-2");
  second.subject_key = std::string(64, 'b');
  std::vector<Batch> group = {first, second};
  ASSERT_TRUE(store->Commit(std::span<const Batch>(group)).ok());
  EXPECT_TRUE(store->LoadCase(kSubject)->has_value());
  EXPECT_TRUE(store->LoadCase(std::string(64, 'b'))->has_value());
  EXPECT_TRUE(store->SeenEvent("evt-1")->has_value());
  EXPECT_TRUE(store->SeenEvent("evt-2")->has_value());
  EXPECT_EQ(store->NextOffset("pathway.commands.v1", 3)->value_or(-1), 6);

  // Outputs in batch order first (so the group's changelog records wait for its
  // outputs once), then each batch's records in batch order; one offset.
  std::vector<int> families;
  for (const auto& r : Sent(*store)) families.push_back(static_cast<uint8_t>(r.key[0]));
  const int history = static_cast<int>(ColumnFamily::kHistory);
  const int cases = static_cast<int>(ColumnFamily::kCaseState);
  const int offsets = static_cast<int>(ColumnFamily::kOffsets);
  EXPECT_EQ(families, (std::vector<int>{history, cases, history, cases, offsets}));
  auto outputs = store->ReadOutbox(0, 2);
  ASSERT_EQ(outputs->size(), 2u);
  EXPECT_EQ(outputs->at(0).entry.topic(), "pathway.events.v1");
  EXPECT_EQ(outputs->at(1).entry.topic(), "pathway.events.v1");

  // Any prefix restores to a state some sequence of single commits would have left:
  // after the first case record the first command is done and the second is not.
  auto records = Sent(*store);
  records.resize(2);
  auto replica = OpenWithChangelog(dir.path() + "-replica");
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  EXPECT_TRUE(replica->SeenEvent("evt-1")->has_value());
  EXPECT_FALSE(replica->SeenEvent("evt-2")->has_value());
  EXPECT_FALSE(replica->LoadCase(std::string(64, 'b'))->has_value());
}

TEST(Changelog, OfOneSubjectsStatesInAGroupOnlyTheLastIsMirroredWithEveryCommandItApplied) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  Batch first = SampleBatch(5, "evt-1");
  first.dedupe_digest = std::string(16, '1');
  Batch second = SampleBatch(6, "evt-2");
  second.dedupe_digest = std::string(16, '2');
  second.history_start = 1;
  second.new_state->set_history_length(2);
  std::vector<Batch> group = {first, second};
  ASSERT_TRUE(store->Commit(std::span<const Batch>(group)).ok());
  EXPECT_EQ((*store->LoadCase(kSubject))->history_length(), 2u) << "the last state is stored";
  EXPECT_EQ(**store->SeenEvent("evt-1"), std::string(16, '1'));
  EXPECT_EQ(**store->SeenEvent("evt-2"), std::string(16, '2'));

  auto records = Sent(*store);
  std::vector<int> families;
  for (const auto& r : records) families.push_back(static_cast<uint8_t>(r.key[0]));
  const int history = static_cast<int>(ColumnFamily::kHistory);
  const int cases = static_cast<int>(ColumnFamily::kCaseState);
  const int offsets = static_cast<int>(ColumnFamily::kOffsets);
  EXPECT_EQ(families, (std::vector<int>{history, history, cases, offsets}));
  ChangelogValue state;
  ASSERT_TRUE(state.ParseFromString(*records[2].value));
  EXPECT_EQ(state.applied_event_id(), "evt-2");
  ASSERT_EQ(state.superseded_applied_size(), 1);
  EXPECT_EQ(state.superseded_applied(0).event_id(), "evt-1");
  EXPECT_EQ(state.superseded_applied(0).digest(), std::string(16, '1'));

  // With the case record, both commands are done; without it, neither.
  auto whole = OpenWithChangelog(dir.path() + "-whole");
  RestoreFilter filter;
  ASSERT_TRUE(whole->ApplyChangelog(records, filter).ok());
  EXPECT_EQ(**whole->SeenEvent("evt-1"), std::string(16, '1'));
  EXPECT_EQ(**whole->SeenEvent("evt-2"), std::string(16, '2'));
  EXPECT_EQ((*whole->LoadCase(kSubject))->history_length(), 2u);
  auto cut = OpenWithChangelog(dir.path() + "-cut");
  RestoreFilter cut_filter;
  records.resize(2);
  ASSERT_TRUE(cut->ApplyChangelog(records, cut_filter).ok());
  EXPECT_FALSE(cut->SeenEvent("evt-1")->has_value());
  EXPECT_FALSE(cut->SeenEvent("evt-2")->has_value());
  EXPECT_FALSE(cut->LoadCase(kSubject)->has_value());
}

TEST(Changelog, AnErasureIsNeverGroupedAndAFailedGroupWritesNothing) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  Batch erase = SampleBatch(2, "evt-2");
  erase.erase_subject = true;
  erase.outbox.clear();
  std::vector<Batch> group = {SampleBatch(1, "evt-1"), erase};
  Status s = store->Commit(std::span<const Batch>(group));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(errc::kInvalidArgument));
  EXPECT_FALSE(store->SeenEvent("evt-1")->has_value());
  EXPECT_TRUE(store->ReadOutbox(0, 10)->empty());
}

TEST(Changelog, ARestoredStoreNumbersNewOutboxEntriesAfterTheRestoredOnes) {
  TempDir dir;
  auto a = OpenWithChangelog(dir.path() + "/a");
  ASSERT_TRUE(a->Commit(SampleBatch(1, "evt-1")).ok());
  auto replica = OpenWithChangelog(dir.path() + "/b");
  RestoreFilter filter;
  auto records = Sent(*a);
  records.insert(records.begin(),
                 LegacyMirroredOutput(0, SampleBatch(1, "evt-1").outbox[0].value()));
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  Batch next = SampleBatch(2, "evt-2");
  ASSERT_TRUE(replica->Commit(next).ok());
  auto items = replica->ReadOutbox(0, 100);
  std::set<uint64_t> sequences;
  for (const auto& item : *items) EXPECT_TRUE(sequences.insert(item.sequence).second);
  EXPECT_EQ(items->front().entry.value(), SampleBatch(1, "evt-1").outbox[0].value());
}

TEST(Changelog, NotedOwnersLastUntilAFenceIsSavedOrCleared) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  ASSERT_TRUE(store->NoteOwner("owner-1").ok());
  ASSERT_TRUE(store->NoteOwner("owner-2").ok());
  EXPECT_EQ(*store->NotedOwners(), (std::vector<std::string>{"owner-1", "owner-2"}));
  store.reset();
  store = OpenWithChangelog(dir.path());
  EXPECT_EQ(store->NotedOwners()->size(), 2u) << "durable";
  ASSERT_TRUE(store->SaveLocalFence({"owner-2", 9}).ok());
  EXPECT_TRUE(store->NotedOwners()->empty());
  EXPECT_EQ((*store->LocalFence())->owner, "owner-2");

  ASSERT_TRUE(store->NoteOwner("owner-3").ok());
  ASSERT_TRUE(store->ClearLocalFence().ok());
  EXPECT_TRUE(store->NotedOwners()->empty());
  EXPECT_FALSE(store->LocalFence()->has_value());

  ASSERT_TRUE(store->SaveLocalFence({"owner-4", 12}).ok());
  ASSERT_TRUE(store->NoteOwner("owner-5").ok());
  ASSERT_TRUE(store->ForgetNotedOwners().ok());
  EXPECT_TRUE(store->NotedOwners()->empty());
  EXPECT_EQ((*store->LocalFence())->owner, "owner-4") << "the fence stays";
}

TEST(Changelog, LocalFenceRoundTripsAndAnUnknownFamilyIsCorruption) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  EXPECT_FALSE(store->LocalFence()->has_value());
  ASSERT_TRUE(store->SaveLocalFence({"owner-x", 42}).ok());
  auto fence = store->LocalFence();
  ASSERT_TRUE(fence.ok() && fence->has_value());
  EXPECT_EQ((*fence)->owner, "owner-x");
  EXPECT_EQ((*fence)->offset, 42);

  RestoreFilter filter;
  std::vector<ChangelogRecord> bad = {{7, std::string(1, '\x63') + "k", std::string("v")}};
  auto s = store->ApplyChangelog(bad, filter);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(errc::kCorruption));
  EXPECT_NE(s.error().detail.find("offset 7"), std::string::npos);
}

// A store whose changelog was lost, with cases of three subjects (sealed under their
// own data keys), timers, dedupe entries and an offset, every output delivered.
std::unique_ptr<CaseStore> OpenSealedWithChangelog(const std::string& dir) {
  auto store = CaseStore::Open(
      dir, StoreOptions{std::string(kChangelogTopic), 3, std::string(32, 'K'), nullptr});
  EXPECT_TRUE(store.ok());
  return std::move(*store);
}

std::unique_ptr<CaseStore> ThreeChildren(const std::string& dir) {
  auto store = OpenSealedWithChangelog(dir);
  int64_t offset = 0;
  for (char c : {'a', 'b', 'c'}) {
    for (int n = 0; n < 2; ++n) {
      Batch b = SampleBatch(++offset, std::string("evt-") + c + std::to_string(n));
      b.subject_key = std::string(64, c);
      b.outbox[0].set_sealed_subject_key(b.subject_key);
      pathway::store::v1::Timer timer;
      timer.set_subject_key(b.subject_key);
      timer.set_instance_id(std::string("ehc-") + c);
      timer.set_deadline("final_plan" + std::to_string(n));
      timer.set_kind(pathway::store::v1::TIMER_KIND_BREACH);
      timer.mutable_fires_on()->set_year(2025);
      timer.mutable_fires_on()->set_month(7);
      timer.mutable_fires_on()->set_day(1 + n);
      b.timers_add.push_back(timer);
      EXPECT_TRUE(store->Commit(b).ok());
    }
  }
  // Delivered: nothing of this is waiting in the outbox any more.
  auto items = store->ReadOutbox(0, 10000);
  EXPECT_TRUE(items.ok());
  for (const auto& item : *items) EXPECT_TRUE(store->DeleteOutbox(item.sequence).ok());
  EXPECT_TRUE(store->ReadOutbox(0, 10)->empty());
  return store;
}

constexpr std::array<ColumnFamily, 6> kMirrored = {
    ColumnFamily::kDataKeys,  ColumnFamily::kTimers, ColumnFamily::kHistory,
    ColumnFamily::kCaseState, ColumnFamily::kDedupe, ColumnFamily::kOffsets};

size_t MirroredKeys(CaseStore& store) {
  size_t n = 0;
  for (ColumnFamily f : kMirrored) n += Contents(store, f).size();
  return n;
}

TEST(ChangelogReseed, QueuesEveryMirroredKeyInASafeOrderAndRestoresTheStoreAlone) {
  TempDir dir;
  auto store = ThreeChildren(dir.path() + "/kept");
  const size_t keys = MirroredKeys(*store);
  ASSERT_GT(keys, 20u);
  store->SetOwner("owner-b");

  ASSERT_TRUE(store->StartReseed().ok());
  std::vector<size_t> calls;
  for (int i = 0; i < 100; ++i) {
    auto step = store->ReseedSome(4);
    ASSERT_TRUE(step.ok()) << step.error().ToString();
    if (step->queued > 0) calls.push_back(step->queued);
    if (step->done) break;
  }
  size_t queued = 0;
  for (size_t n : calls) {
    EXPECT_LE(n, 4u);
    queued += n;
  }
  EXPECT_EQ(queued, keys) << "every key once";
  auto again = store->ReseedSome(4);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->queued, 0u) << "the mark is gone once done";
  EXPECT_TRUE(again->done);

  // Each call's last record, and only it, holds back what follows.
  auto items = store->ReadOutbox(0, 10000);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), keys);
  size_t at = 0;
  for (size_t n : calls) {
    for (size_t i = 0; i < n; ++i, ++at) {
      EXPECT_EQ((*items)[at].entry.confirm_before_later(), i + 1 == n) << "record " << at;
      EXPECT_TRUE((*items)[at].entry.changelog());
    }
  }

  // Families in the order that keeps any prefix safe.
  std::vector<ChangelogRecord> records = {Fence("owner-b", 0)};
  for (auto& r : Sent(*store, 1)) records.push_back(std::move(r));
  size_t rank = 0;
  for (size_t i = 1; i < records.size(); ++i) {
    auto family = static_cast<ColumnFamily>(static_cast<uint8_t>(records[i].key[0]));
    size_t r = std::find(kMirrored.begin(), kMirrored.end(), family) - kMirrored.begin();
    ASSERT_LT(r, kMirrored.size()) << "only mirrored families";
    EXPECT_GE(r, rank) << "record " << i << " goes back to an earlier family";
    rank = r;
  }

  // The changelog it re-seeded alone rebuilds the store, data keys included.
  auto replica = OpenSealedWithChangelog(dir.path() + "/replica");
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  EXPECT_EQ(filter.ignored, 0u);
  for (ColumnFamily f : kMirrored) {
    EXPECT_EQ(Contents(*replica, f), Contents(*store, f)) << static_cast<int>(f);
  }
  for (char c : {'a', 'b', 'c'}) {
    const std::string subject(64, c);
    auto history = replica->History(subject);
    ASSERT_TRUE(history.ok()) << history.error().ToString();
    EXPECT_FALSE(history->empty());
    EXPECT_EQ(history->size(), store->History(subject)->size());
    EXPECT_TRUE(*replica->SeenEvent(std::string("evt-") + c + "1"));
  }
  EXPECT_EQ(*replica->NextOffset("pathway.commands.v1", 3), 6);
}

TEST(ChangelogReseed, AReseedCutShortByACrashGoesOnWhereItStopped) {
  TempDir dir;
  const std::string path = dir.path() + "/kept";
  size_t keys = 0;
  size_t first = 0;
  {
    auto store = ThreeChildren(path);
    keys = MirroredKeys(*store);
    ASSERT_TRUE(store->StartReseed().ok());
    auto step = store->ReseedSome(5);
    ASSERT_TRUE(step.ok());
    EXPECT_FALSE(step->done);
    first = step->queued;
    EXPECT_EQ(first, 5u);
  }
  auto store = OpenSealedWithChangelog(path);
  size_t rest = 0;
  for (int i = 0; i < 100; ++i) {
    auto step = store->ReseedSome(1000);
    ASSERT_TRUE(step.ok());
    rest += step->queued;
    if (step->done) break;
  }
  EXPECT_EQ(first + rest, keys);
  std::set<std::string> distinct;
  for (const auto& r : Sent(*store)) EXPECT_TRUE(distinct.insert(r.key).second) << "queued twice";
  EXPECT_EQ(distinct.size(), keys);
}

TEST(ChangelogReseed, WithoutAChangelogOrAMarkNothingIsQueued) {
  TempDir dir;
  auto plain = CaseStore::Open(dir.path() + "/plain");
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE((*plain)->Commit(SampleBatch(1, "evt-1")).ok());
  const uint64_t next = (*plain)->NextOutboxSequence();
  ASSERT_TRUE((*plain)->StartReseed().ok());
  auto step = (*plain)->ReseedSome(100);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->queued, 0u);
  EXPECT_TRUE(step->done);
  EXPECT_EQ((*plain)->NextOutboxSequence(), next);

  auto unmarked = ThreeChildren(dir.path() + "/unmarked");
  auto none = unmarked->ReseedSome(100);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->queued, 0u);
  EXPECT_TRUE(unmarked->ReadOutbox(0, 10)->empty());
}

}  // namespace changelog

}  // namespace
}  // namespace pathway::state
