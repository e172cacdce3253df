// The secondary index of case states (StoreOptions::indexer): kept in the same write
// as the states it derives from, rebuilt when the indexer's version changes or states
// changed without it, and derived again from the states a restore writes.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "state/case_store.h"
#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {
using pathway::testing::TempDir;

const std::string kChild1(64, 'a');
const std::string kChild2(64, 'b');
constexpr std::string_view kTopic = "pathway.engine.cases.changelog";

// One entry per pathway instance: "<state>/<subject>" -> instance id. An erased case
// has none.
CaseIndexer TestIndexer(uint32_t version = 1, std::string tag = {}) {
  CaseIndexer indexer;
  indexer.version = version;
  indexer.entries = [tag](std::string_view subject, const pathway::store::v1::CaseState& s) {
    std::vector<IndexEntry> out;
    if (s.erased()) return out;
    for (const auto& p : s.pathways()) {
      out.push_back({tag + p.state() + "/" + std::string(subject), p.instance_id()});
    }
    return out;
  };
  return indexer;
}

std::unique_ptr<CaseStore> OpenStore(const std::string& dir, CaseIndexer indexer,
                                     std::string kek = std::string(32, 'K')) {
  auto store = CaseStore::Open(
      dir, StoreOptions{std::string(kTopic), 0, std::move(kek), nullptr, std::move(indexer)});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return store.ok() ? std::move(*store) : nullptr;
}

Batch CaseBatch(const std::string& subject,
                std::vector<std::pair<std::string, std::string>> instances,  // id, state
                std::string event_id) {
  Batch b;
  b.subject_key = subject;
  b.dedupe_event_id = std::move(event_id);
  pathway::store::v1::CaseState state;
  for (const auto& [id, s] : instances) {
    auto* p = state.add_pathways();
    p->set_instance_id(id);
    p->set_state(s);
  }
  b.new_state = state;
  return b;
}

// Every entry under `prefix` after `after`, as "key=value".
std::vector<std::string> Entries(CaseStore& store, std::string_view prefix = {},
                                 std::string_view after = {}, size_t max = 100) {
  std::vector<std::string> out;
  auto s = store.ScanIndex(prefix, after, [&](std::string_view k, std::string_view v) {
    out.push_back(std::string(k) + "=" + std::string(v));
    return out.size() < max;
  });
  EXPECT_TRUE(s.ok());
  return out;
}

// What `store` would send to its changelog, behind a fence of `owner`, as a restore
// reads it back (offsets from 0). The index is derived, never mirrored: no record of
// the case_index family may be among them.
std::vector<ChangelogRecord> Changelog(CaseStore& store, const std::string& owner) {
  std::vector<ChangelogRecord> records;
  auto fence = CaseStore::FenceRecord(owner);
  records.push_back({0, fence.key(), fence.value()});
  auto items = store.ReadOutbox(0, 1000);
  EXPECT_TRUE(items.ok());
  if (!items.ok()) return records;
  for (const auto& item : *items) {
    if (!item.entry.changelog()) continue;
    EXPECT_NE(static_cast<uint8_t>(item.entry.key()[0]),
              static_cast<uint8_t>(ColumnFamily::kCaseIndex));
    ChangelogRecord r{static_cast<int64_t>(records.size()), item.entry.key(), std::nullopt};
    if (!item.entry.tombstone()) r.value = item.entry.value();
    records.push_back(std::move(r));
  }
  return records;
}

TEST(CaseIndex, ACommitWritesTheEntriesOfTheNewStateAndRemovesTheOldOnes) {
  TempDir dir;
  auto store = OpenStore(dir.path(), TestIndexer());
  ASSERT_TRUE(store->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1")).ok());
  EXPECT_EQ(Entries(*store), std::vector<std::string>{"waiting/" + kChild1 + "=nd-1"});

  ASSERT_TRUE(
      store->Commit(CaseBatch(kChild1, {{"nd-1", "assessing"}, {"ehc-1", "waiting"}}, "e2")).ok());
  EXPECT_EQ(Entries(*store), (std::vector<std::string>{"assessing/" + kChild1 + "=nd-1",
                                                       "waiting/" + kChild1 + "=ehc-1"}));
  // A batch that changes no state leaves the entries alone.
  Batch no_state;
  no_state.dedupe_event_id = "e3";
  ASSERT_TRUE(store->Commit(no_state).ok());
  EXPECT_EQ(Entries(*store).size(), 2u);
  // A state with no entries removes them all.
  ASSERT_TRUE(store->Commit(CaseBatch(kChild1, {}, "e4")).ok());
  EXPECT_TRUE(Entries(*store).empty());
}

TEST(CaseIndex, AGroupCommitIndexesEachSubjectsLastState) {
  TempDir dir;
  auto store = OpenStore(dir.path(), TestIndexer());
  std::vector<Batch> group = {CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1"),
                              CaseBatch(kChild2, {{"nd-2", "waiting"}}, "e2"),
                              CaseBatch(kChild1, {{"nd-1", "assessing"}}, "e3")};
  ASSERT_TRUE(store->Commit(group).ok());
  EXPECT_EQ(Entries(*store), (std::vector<std::string>{"assessing/" + kChild1 + "=nd-1",
                                                       "waiting/" + kChild2 + "=nd-2"}));
}

TEST(CaseIndex, AScanReadsOnePrefixInKeyOrderFromAfterAndStopsWhenAsked) {
  TempDir dir;
  auto store = OpenStore(dir.path(), TestIndexer());
  ASSERT_TRUE(store->Commit(CaseBatch(kChild2, {{"nd-2", "waiting"}}, "e1")).ok());
  ASSERT_TRUE(store->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e2")).ok());
  ASSERT_TRUE(store->Commit(CaseBatch(std::string(64, 'c'), {{"nd-3", "assessing"}}, "e3")).ok());
  EXPECT_EQ(
      Entries(*store, "waiting/"),
      (std::vector<std::string>{"waiting/" + kChild1 + "=nd-1", "waiting/" + kChild2 + "=nd-2"}));
  // `after` is the rest of the last key seen: the scan goes on after it, not at it.
  EXPECT_EQ(Entries(*store, "waiting/", kChild1),
            std::vector<std::string>{"waiting/" + kChild2 + "=nd-2"});
  EXPECT_EQ(Entries(*store, "waiting/", kChild2), std::vector<std::string>{});
  EXPECT_EQ(Entries(*store, "waiting/", "", 1).size(), 1u);
  EXPECT_EQ(Entries(*store, "assessing/").size(), 1u);
  EXPECT_TRUE(Entries(*store, "closed/").empty());
}

TEST(CaseIndex, AnErasedSubjectLeavesTheIndex) {
  TempDir dir;
  auto store = OpenStore(dir.path(), TestIndexer());
  ASSERT_TRUE(store->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1")).ok());
  Batch erase;
  erase.subject_key = kChild1;
  erase.erase_subject = true;
  pathway::store::v1::CaseState erased;
  erased.set_erased(true);
  erase.new_state = erased;
  ASSERT_TRUE(store->Commit(erase).ok());
  EXPECT_TRUE(Entries(*store).empty());
}

TEST(CaseIndex, ARestoreDerivesTheEntriesOfTheStatesItWrites) {
  TempDir dir;
  auto primary = OpenStore(dir.path() + "/a", TestIndexer());
  primary->SetOwner("a");
  ASSERT_TRUE(primary->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1")).ok());
  ASSERT_TRUE(primary->Commit(CaseBatch(kChild2, {{"nd-2", "waiting"}}, "e2")).ok());
  ASSERT_TRUE(primary->Commit(CaseBatch(kChild1, {{"nd-1", "assessing"}}, "e3")).ok());

  const std::vector<ChangelogRecord> records = Changelog(*primary, "a");
  auto replica = OpenStore(dir.path() + "/b", TestIndexer());
  RestoreFilter filter;
  // In two calls: each derives the entries of the states it wrote.
  const size_t half = records.size() / 2;
  ASSERT_TRUE(replica->ApplyChangelog(std::span(records).first(half), filter).ok());
  ASSERT_TRUE(replica->ApplyChangelog(std::span(records).subspan(half), filter).ok());
  EXPECT_EQ(Entries(*replica), Entries(*primary));
  EXPECT_EQ(Entries(*replica).size(), 2u);
}

TEST(CaseIndex, ANewIndexerVersionOrStatesCommittedWithoutItRebuildTheIndexOnOpen) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), TestIndexer(1));
    ASSERT_TRUE(store->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1")).ok());
  }
  {
    // Version 2 derives other keys: every state's entries are derived again.
    auto store = OpenStore(dir.path(), TestIndexer(2, "v2:"));
    EXPECT_EQ(Entries(*store), std::vector<std::string>{"v2:waiting/" + kChild1 + "=nd-1"});
  }
  {
    // Reopened at the same version: nothing is derived again (the tag would show it).
    auto store = OpenStore(dir.path(), TestIndexer(2, "other:"));
    EXPECT_EQ(Entries(*store), std::vector<std::string>{"v2:waiting/" + kChild1 + "=nd-1"});
  }
  {
    // A store without an indexer that commits leaves the index behind...
    auto store = OpenStore(dir.path(), CaseIndexer{});
    ASSERT_TRUE(store->Commit(CaseBatch(kChild2, {{"nd-2", "waiting"}}, "e2")).ok());
  }
  // ...so the next open with one derives every state's entries again.
  auto store = OpenStore(dir.path(), TestIndexer(2, "v2:"));
  EXPECT_EQ(Entries(*store), (std::vector<std::string>{"v2:waiting/" + kChild1 + "=nd-1",
                                                       "v2:waiting/" + kChild2 + "=nd-2"}));
}

TEST(CaseIndex, AStoreRestoredWithoutAnIndexerIsIndexedWhenOpenedWithOne) {
  TempDir dir;
  auto primary = OpenStore(dir.path() + "/a", TestIndexer());
  primary->SetOwner("a");
  ASSERT_TRUE(primary->Commit(CaseBatch(kChild1, {{"nd-1", "waiting"}}, "e1")).ok());
  const std::vector<ChangelogRecord> records = Changelog(*primary, "a");
  {
    // Opened first with an indexer (its version recorded), then restored without one.
    OpenStore(dir.path() + "/b", TestIndexer()).reset();
    auto plain = OpenStore(dir.path() + "/b", CaseIndexer{});
    RestoreFilter filter;
    ASSERT_TRUE(plain->ApplyChangelog(records, filter).ok());
  }
  auto replica = OpenStore(dir.path() + "/b", TestIndexer());
  EXPECT_EQ(Entries(*replica), Entries(*primary));
  EXPECT_EQ(Entries(*replica).size(), 1u);
}

}  // namespace
}  // namespace pathway::state
