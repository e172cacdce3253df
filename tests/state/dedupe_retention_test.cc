// Retention of the dedupe table (CaseStore::PruneDedupe; docs/operations.md,
// "Retention of the engine's bookkeeping"): entries past the window go, with their
// own changelog records; undated ones are dated, not deleted; a pass runs in slices.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "state/case_store.h"
#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {
using pathway::testing::TempDir;

const std::string kSubject(64, 'b');
constexpr std::string_view kChangelog = "pathway.engine.cases.changelog";

std::unique_ptr<CaseStore> OpenWithChangelog(const std::string& dir) {
  auto store = CaseStore::Open(dir, StoreOptions{std::string(kChangelog), 0, {}, nullptr});
  EXPECT_TRUE(store.ok());
  return store.ok() ? std::move(*store) : nullptr;
}

std::string Digest(char c) { return std::string(16, c); }

// A command that changed its case (the dedupe entry travels in the case's record).
Batch Changed(const std::string& event_id, uint32_t day, char digest) {
  Batch b;
  b.dedupe_event_id = event_id;
  b.dedupe_digest = Digest(digest);
  b.dedupe_day = day;
  b.subject_key = kSubject;
  pathway::store::v1::CaseState state;
  state.set_history_length(0);
  b.new_state = state;
  return b;
}

// A command that changed nothing (refused): its dedupe entry is a record of its own.
Batch Refused(const std::string& event_id, uint32_t day, char digest) {
  Batch b;
  b.dedupe_event_id = event_id;
  b.dedupe_digest = Digest(digest);
  b.dedupe_day = day;
  return b;
}

// The changelog records the store queued from outbox sequence `from` on.
std::vector<ChangelogRecord> Queued(CaseStore& store, uint64_t from) {
  std::vector<ChangelogRecord> out;
  auto items = store.ReadOutbox(from, 10000);
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

size_t DedupeEntries(CaseStore& store) {
  size_t n = 0;
  EXPECT_TRUE(
      store.Scan(ColumnFamily::kDedupe, [&](std::string_view, std::string_view) { ++n; }).ok());
  return n;
}

TEST(DedupeRetention, EntriesMadeBeforeTheWindowGoAndNewerOnesStayWithTheirDigests) {
  TempDir dir;
  auto opened = CaseStore::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  CaseStore& store = **opened;
  ASSERT_TRUE(store.Commit(Changed("old", 100, 'o')).ok());
  ASSERT_TRUE(store.Commit(Changed("edge", 150, 'e')).ok());
  ASSERT_TRUE(store.Commit(Changed("new", 200, 'n')).ok());

  auto pruned =
      store.PruneDedupe({.expire_before = 150, .today = 210, .after = {}, .max_read = 100});
  ASSERT_TRUE(pruned.ok()) << pruned.error().ToString();
  EXPECT_EQ(pruned->read, 3u);
  EXPECT_EQ(pruned->deleted, 1u);
  EXPECT_EQ(pruned->dated, 0u);
  EXPECT_TRUE(pruned->next.empty()) << "one slice read the whole table";

  EXPECT_FALSE(store.SeenEvent("old")->has_value()) << "made before the window";
  EXPECT_EQ(store.SeenEvent("edge")->value_or("none"), Digest('e')) << "made on its first day";
  EXPECT_EQ(store.SeenEvent("new")->value_or("none"), Digest('n'));

  // Run again: nothing more to do.
  auto again =
      store.PruneDedupe({.expire_before = 150, .today = 210, .after = {}, .max_read = 100});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->deleted, 0u);
}

TEST(DedupeRetention, OnlyAnEntryThatIsAChangelogRecordOfItsOwnIsTombstonedThere) {
  TempDir dir;
  auto store = OpenWithChangelog(dir.path() + "/a");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Commit(Changed("in-case-record", 100, 'c')).ok());
  ASSERT_TRUE(store->Commit(Refused("own-record", 100, 'r')).ok());
  std::vector<ChangelogRecord> before = Queued(*store, 0);
  const uint64_t next = store->NextOutboxSequence();

  auto pruned =
      store->PruneDedupe({.expire_before = 101, .today = 140, .after = {}, .max_read = 10});
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->deleted, 2u);
  EXPECT_EQ(DedupeEntries(*store), 0u);
  std::vector<ChangelogRecord> tombstones = Queued(*store, next);
  ASSERT_EQ(tombstones.size(), 1u)
      << "the entry carried by its case record has no record to delete";
  EXPECT_FALSE(tombstones[0].value.has_value());
  EXPECT_EQ(static_cast<uint8_t>(tombstones[0].key[0]),
            static_cast<uint8_t>(ColumnFamily::kDedupe));

  // A new owner restoring the whole changelog, tombstone included, holds the case's
  // entry (from its case record, undated) and not the refused command's.
  std::vector<ChangelogRecord> log = before;
  for (auto& r : tombstones) {
    r.offset = static_cast<int64_t>(log.size());
    log.push_back(std::move(r));
  }
  auto replica = OpenWithChangelog(dir.path() + "/b");
  ASSERT_TRUE(replica);
  RestoreFilter filter;
  ASSERT_TRUE(replica->ApplyChangelog(log, filter).ok());
  EXPECT_EQ(replica->SeenEvent("in-case-record")->value_or("none"), Digest('c'));
  EXPECT_FALSE(replica->SeenEvent("own-record")->has_value());

  // Restored undated, it is dated on the first sweep (its window starts then), not
  // deleted, and goes a window later.
  auto first =
      replica->PruneDedupe({.expire_before = 101, .today = 140, .after = {}, .max_read = 10});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->dated, 1u);
  EXPECT_EQ(first->deleted, 0u);
  EXPECT_EQ(replica->SeenEvent("in-case-record")->value_or("none"), Digest('c'));
  const uint64_t after_dating = replica->NextOutboxSequence();
  EXPECT_TRUE(Queued(*replica, 0).empty()) << "dating is local: nothing goes to the changelog";
  auto later =
      replica->PruneDedupe({.expire_before = 141, .today = 180, .after = {}, .max_read = 10});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->deleted, 1u);
  EXPECT_FALSE(replica->SeenEvent("in-case-record")->has_value());
  EXPECT_TRUE(Queued(*replica, after_dating).empty()) << "and so is its deletion";
}

TEST(DedupeRetention, EntriesFromBeforeRetentionReadAsBeforeAndAreDatedThenTombstoned) {
  // An older engine mirrored a refused command's entry as its digest alone, and older
  // still as an offset: both restore, read as they did, and are dated on the first
  // sweep; whether they were records of their own was not kept, so they are tombstoned.
  TempDir dir;
  auto store = OpenWithChangelog(dir.path());
  ASSERT_TRUE(store);
  auto record = [](const std::string& event_id, const std::string& value, int64_t offset) {
    // The changelog key of a dedupe entry: the family byte, then the store's key (the
    // first 16 bytes of the event id's SHA-256), which the restore writes as it comes.
    // Taken from a real store so the test does not repeat the hashing.
    TempDir scratch;
    auto s = CaseStore::Open(scratch.path(), StoreOptions{std::string(kChangelog), 0, {}, nullptr});
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE((*s)->Commit(Refused(event_id, 1, 'x')).ok());
    auto queued = Queued(**s, 0);
    EXPECT_EQ(queued.size(), 1u);
    pathway::store::v1::ChangelogValue v;
    v.set_value(value);
    return ChangelogRecord{offset, queued.empty() ? std::string() : queued[0].key,
                           v.SerializeAsString()};
  };
  RestoreFilter filter;
  const std::vector<ChangelogRecord> older = {record("digest-only", Digest('d'), 0),
                                              record("offset-only", std::string(8, '\x07'), 1)};
  ASSERT_TRUE(store->ApplyChangelog(older, filter).ok());
  EXPECT_EQ(store->SeenEvent("digest-only")->value_or("none"), Digest('d'));
  EXPECT_EQ(store->SeenEvent("offset-only")->value_or("none"), "")
      << "an entry from before digests is a repeat whatever its content";

  auto dated = store->PruneDedupe({.expire_before = 50, .today = 60, .after = {}, .max_read = 10});
  ASSERT_TRUE(dated.ok());
  EXPECT_EQ(dated->dated, 2u);
  EXPECT_EQ(store->SeenEvent("digest-only")->value_or("none"), Digest('d'));
  EXPECT_EQ(store->SeenEvent("offset-only")->value_or("none"), "");

  const uint64_t next = store->NextOutboxSequence();
  auto gone = store->PruneDedupe({.expire_before = 61, .today = 90, .after = {}, .max_read = 10});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->deleted, 2u);
  EXPECT_EQ(Queued(*store, next).size(), 2u);
}

TEST(DedupeRetention, APassRunsInBoundedSlicesThatResumeWhereTheLastStopped) {
  TempDir dir;
  auto opened = CaseStore::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  CaseStore& store = **opened;
  for (int i = 0; i < 7; ++i) {
    std::string id = "evt-";
    id += std::to_string(i);
    ASSERT_TRUE(store.Commit(Refused(id, i % 2 == 0 ? 10 : 90, 'a')).ok());
  }
  DedupePrune slice{.expire_before = 50, .today = 100, .after = {}, .max_read = 3};
  uint64_t read = 0, deleted = 0;
  std::set<std::string> cursors;
  for (int i = 0; i < 10; ++i) {  // bounded: 7 entries in slices of 3
    auto pruned = store.PruneDedupe(slice);
    ASSERT_TRUE(pruned.ok());
    EXPECT_LE(pruned->read, 3u);
    read += pruned->read;
    deleted += pruned->deleted;
    if (pruned->next.empty()) break;
    EXPECT_EQ(pruned->next.size(), 16u) << "a cursor is a hash, never an event id";
    EXPECT_TRUE(cursors.insert(pruned->next).second) << "every slice moves on";
    slice.after = pruned->next;
  }
  EXPECT_EQ(read, 7u);
  EXPECT_EQ(deleted, 4u);
  EXPECT_EQ(DedupeEntries(store), 3u);
}

TEST(DedupeRetention, AReadOnlyStoreRefusesToPrune) {
  TempDir dir;
  {
    auto writer = CaseStore::Open(dir.path());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Commit(Refused("evt", 1, 'a')).ok());
  }
  auto reader = CaseStore::OpenReadOnly(dir.path());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE(
      (*reader)->PruneDedupe({.expire_before = 50, .today = 60, .after = {}, .max_read = 10}).ok());
}

}  // namespace
}  // namespace pathway::state
