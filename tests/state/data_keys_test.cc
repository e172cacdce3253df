// Crypto-shredding in the case store (issue 5 item 6; docs/tell-it-once.md section 6):
// a subject's case state and history are sealed under their own data key, wrapped by
// the KEK and replicated through the changelog; erasure destroys the key, so no copy
// (local files, changelog records, a restored replica) yields the subject's data,
// while other subjects are untouched.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "state/case_store.h"
#include "tests/common/file_scan.h"
#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {

using testing::AnyFileContains;

const std::string kSubjectA(64, 'a');
const std::string kSubjectB(64, 'b');
const std::string kKek(32, 'K');
constexpr std::string_view kTopic = "pathway.engine.cases.changelog";
constexpr const char* kStoryA = "Amara loves trains and hates loud hand dryers";
constexpr const char* kStoryB = "Ben is happiest in the school garden";

std::unique_ptr<CaseStore> Open(const std::string& dir, std::string kek = kKek) {
  auto store = CaseStore::Open(dir, StoreOptions{std::string(kTopic), 0, std::move(kek), nullptr});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return std::move(*store);
}

// A case whose record holds the family's story, and the event that recorded it.
Batch StoryBatch(const std::string& subject, const std::string& story, int64_t offset) {
  Batch b;
  b.consumed = ConsumedOffset{"pathway.commands.v1", 0, offset};
  b.dedupe_event_id = "cmd-" + subject.substr(0, 1);
  b.subject_key = subject;
  pathway::v1::Envelope e;
  e.set_event_id("fact-" + subject.substr(0, 1));
  e.set_subject_key(subject);
  e.mutable_fact_recorded()->set_type(pathway::v1::FACT_TYPE_ALL_ABOUT_ME);
  e.mutable_fact_recorded()->set_content(story);
  pathway::store::v1::CaseState state;
  state.set_history_length(1);
  *state.add_record_facts() = e.fact_recorded();
  b.new_state = state;
  b.history.push_back(e);
  return b;
}

Batch ErasureBatch(const std::string& subject, uint64_t history_length, int64_t offset) {
  Batch b;
  b.consumed = ConsumedOffset{"pathway.commands.v1", 0, offset};
  b.dedupe_event_id = "erase-" + subject.substr(0, 1);
  b.subject_key = subject;
  b.erase_subject = true;
  pathway::v1::Envelope e;
  e.set_event_id("erased-" + subject.substr(0, 1));
  e.mutable_erasure_completed()->set_events_erased(history_length);
  pathway::store::v1::CaseState state;
  state.set_history_length(history_length + 1);
  state.set_erased(true);
  b.new_state = state;
  b.history_start = history_length;
  b.history.push_back(e);
  return b;
}

// The changelog records the engine would send for the store's outbox.
std::vector<ChangelogRecord> Changelog(CaseStore& store) {
  std::vector<ChangelogRecord> out;
  auto items = store.ReadOutbox(0, 10000);
  EXPECT_TRUE(items.ok());
  for (const auto& item : *items) {
    if (!item.entry.changelog()) continue;
    ChangelogRecord r;
    r.offset = static_cast<int64_t>(out.size());
    r.key = item.entry.key();
    if (!item.entry.tombstone()) r.value = item.entry.value();
    out.push_back(std::move(r));
  }
  return out;
}

bool AnyRecordContains(const std::vector<ChangelogRecord>& records, std::string_view needle) {
  for (const auto& r : records) {
    if (r.value && r.value->find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(DataKeys, CaseStateAndHistoryAreSealedAtRestAndOnTheChangelogAndReadBackInClear) {
  testing::TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store->Commit(StoryBatch(kSubjectA, kStoryA, 1)).ok());

  auto state = store->LoadCase(kSubjectA);
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_EQ((*state)->record_facts(0).content(), kStoryA);
  auto history = store->History(kSubjectA);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].fact_recorded().content(), kStoryA);

  for (const auto& spec : ColumnFamilies()) {
    ASSERT_TRUE(store
                    ->Scan(spec.id,
                           [&](std::string_view, std::string_view value) {
                             EXPECT_EQ(value.find(kStoryA), std::string_view::npos)
                                 << DiskName(spec);
                           })
                    .ok());
  }
  EXPECT_FALSE(AnyFileContains(dir.path(), kStoryA)) << "not even in the write-ahead log";
  EXPECT_FALSE(AnyRecordContains(Changelog(*store), kStoryA));

  // A replica restored from the changelog opens it with the same KEK, and with no
  // other: the wrapped key is useless without the KEK.
  testing::TempDir replica_dir, stranger_dir;
  auto records = Changelog(*store);
  auto replica = Open(replica_dir.path());
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(records, filter).ok());
  auto restored = replica->LoadCase(kSubjectA);
  ASSERT_TRUE(restored.ok() && restored->has_value());
  EXPECT_EQ((*restored)->record_facts(0).content(), kStoryA);
  auto stranger = Open(stranger_dir.path(), std::string(32, 'X'));
  RestoreFilter other_filter;
  ASSERT_TRUE(stranger->ApplyChangelog(records, other_filter).ok());
  auto unopened = stranger->LoadCase(kSubjectA);
  ASSERT_FALSE(unopened.ok());
  EXPECT_EQ(unopened.error().code, make_error_code(errc::kKeyMismatch));
}

TEST(DataKeys, ErasureDestroysTheKeySoNoCopyOpensAndOtherSubjectsAreUntouched) {
  testing::TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store->Commit(StoryBatch(kSubjectA, kStoryA, 1)).ok());
  ASSERT_TRUE(store->Commit(StoryBatch(kSubjectB, kStoryB, 2)).ok());
  auto field = store->SealField(kSubjectA, kStoryA, "fact_recorded.content", "event-1");
  ASSERT_TRUE(field.ok());
  // A re-sent event seals to the same bytes; another event's copy does not.
  EXPECT_EQ(*store->SealField(kSubjectA, kStoryA, "fact_recorded.content", "event-1"), *field);
  EXPECT_NE(*store->SealField(kSubjectA, kStoryA, "fact_recorded.content", "event-2"), *field);
  std::string wrapped_a;
  ASSERT_TRUE(store
                  ->Scan(ColumnFamily::kDataKeys,
                         [&](std::string_view key, std::string_view value) {
                           if (key.starts_with(std::string(32, '\xaa'))) wrapped_a = value;
                         })
                  .ok());
  ASSERT_FALSE(wrapped_a.empty());
  ASSERT_TRUE(AnyFileContains(dir.path(), wrapped_a)) << "the scan sees the key before";
  const auto before = Changelog(*store);

  ASSERT_TRUE(store->Commit(ErasureBatch(kSubjectA, 1, 3)).ok());
  EXPECT_FALSE(AnyFileContains(dir.path(), wrapped_a)) << "no WAL, SST or memtable copy left";
  EXPECT_TRUE(*store->Erased(kSubjectA));
  EXPECT_FALSE(*store->Erased(kSubjectB));

  // What remains of A is the erased mark and the erasure event, readable, personal-free.
  auto state = store->LoadCase(kSubjectA);
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_TRUE((*state)->erased());
  EXPECT_EQ((*state)->record_facts_size(), 0);
  auto history = store->History(kSubjectA);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_TRUE((*history)[0].has_erasure_completed());
  // A field sealed before (say, on pathway.events.v1) no longer opens.
  auto reopened = store->OpenField(kSubjectA, *field, "fact_recorded.content");
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, make_error_code(errc::kErased));
  // Nothing more is written for A: no new key is made behind the erasure's back.
  Status again = store->Commit(StoryBatch(kSubjectA, kStoryA, 4));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, make_error_code(errc::kErased));
  EXPECT_FALSE(store->SealField(kSubjectA, "x", "f", "event-9").ok());

  // B is as it was.
  auto b = store->LoadCase(kSubjectB);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->record_facts(0).content(), kStoryB);

  // A replica restored from the whole changelog (before and after the erasure) holds
  // A's erasure, not A's data; B opens.
  testing::TempDir replica_dir;
  auto replica = Open(replica_dir.path());
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(Changelog(*store), filter).ok());
  EXPECT_TRUE(*replica->Erased(kSubjectA));
  auto replica_a = replica->LoadCase(kSubjectA);
  ASSERT_TRUE(replica_a.ok() && replica_a->has_value());
  EXPECT_TRUE((*replica_a)->erased());
  auto replica_history = replica->History(kSubjectA);
  ASSERT_TRUE(replica_history.ok());
  EXPECT_EQ(replica_history->size(), 1u) << "the history's tombstones reached the changelog";
  auto replica_b = replica->LoadCase(kSubjectB);
  ASSERT_TRUE(replica_b.ok() && replica_b->has_value());
  EXPECT_EQ((*replica_b)->record_facts(0).content(), kStoryB);

  // The changelog records sent before the erasure, kept by an uncompacted topic or a
  // backup, still hold only sealed bytes, and A's no longer open anywhere: restored
  // alone into a fresh store, they now meet the later erasure mark.
  EXPECT_FALSE(AnyRecordContains(before, kStoryA));
  testing::TempDir late_dir;
  auto late = Open(late_dir.path());
  RestoreFilter late_filter;
  ASSERT_TRUE(late->ApplyChangelog(before, late_filter).ok());
  std::vector<ChangelogRecord> erasure_only;
  for (const auto& r : Changelog(*store)) {
    if (static_cast<uint8_t>(r.key[0]) == static_cast<uint8_t>(ColumnFamily::kDataKeys)) {
      erasure_only.push_back(r);
    }
  }
  ASSERT_TRUE(late->ApplyChangelog(erasure_only, late_filter).ok());
  auto late_a = late->LoadCase(kSubjectA);
  ASSERT_FALSE(late_a.ok()) << "A's old sealed state must not open once the key is gone";
  EXPECT_EQ(late_a.error().code, make_error_code(errc::kErased));
}

TEST(DataKeys, WithoutAKekValuesStayInClearAndErasureStillRemovesTheHistory) {
  testing::TempDir dir;
  auto store = CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Commit(StoryBatch(kSubjectA, kStoryA, 1)).ok());
  EXPECT_FALSE((*store)->SealField(kSubjectA, "x", "f", "event-9").ok()) << "sealing needs a KEK";
  ASSERT_TRUE((*store)->Commit(ErasureBatch(kSubjectA, 1, 2)).ok());
  EXPECT_TRUE(*(*store)->Erased(kSubjectA));
  auto history = (*store)->History(kSubjectA);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 1u);
  EXPECT_FALSE(AnyFileContains(dir.path(), kStoryA)) << "deleted and compacted away";
}

}  // namespace
}  // namespace pathway::state
