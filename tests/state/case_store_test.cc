#include "state/case_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

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
      {1, "cf01_meta"},   {2, "cf02_case_state"}, {3, "cf03_history"}, {4, "cf04_dedupe"},
      {5, "cf05_outbox"}, {6, "cf06_offsets"},    {7, "cf07_timers"},
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

}  // namespace
}  // namespace pathway::state
