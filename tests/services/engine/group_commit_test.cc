#include "services/engine/group_commit.h"

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace pathway::engine {
namespace {
using pathway::testing::TempDir;

const std::string kChild(64, 'c');

state::Batch Step(int64_t next_offset, const std::string& event_id, uint64_t history_start) {
  state::Batch b;
  b.consumed = state::ConsumedOffset{"pathway.commands.v1", 0, next_offset};
  b.dedupe_event_id = event_id;
  b.dedupe_digest = std::string(16, 'd');
  b.subject_key = kChild;
  pathway::store::v1::CaseState state;
  state.set_history_length(history_start + 1);
  b.new_state = state;
  b.history_start = history_start;
  pathway::v1::Envelope e;
  e.set_event_id("event-of-" + event_id);
  b.history.push_back(e);
  return b;
}

TEST(GroupCommit, ReadsSeeWhatIsStagedAndTheStoreSeesNothingUntilFlush) {
  TempDir dir;
  auto store = state::CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Commit(Step(1, "first", 0)).ok());

  GroupCommit group(**store);
  ASSERT_TRUE(group.Add(Step(2, "second", 1)).ok());
  ASSERT_TRUE(group.Add(Step(3, "third", 2)).ok());
  EXPECT_EQ(group.size(), 2u);
  EXPECT_GT(group.StagedOutboxEntries(), 0u);

  // The group's view: the third command's state, three events, every dedupe entry.
  EXPECT_EQ((*group.LoadCase(kChild))->history_length(), 3u);
  auto history = group.History(kChild);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].event_id(), "event-of-first");
  EXPECT_EQ((*history)[2].event_id(), "event-of-third");
  EXPECT_TRUE(group.SeenEvent("second")->has_value());
  EXPECT_TRUE(group.SeenEvent("first")->has_value()) << "the store's entries show through";

  // The store's view is unchanged until the group is committed.
  EXPECT_EQ((*(*store)->LoadCase(kChild))->history_length(), 1u);
  EXPECT_FALSE((*store)->SeenEvent("second")->has_value());
  EXPECT_EQ((*store)->NextOffset("pathway.commands.v1", 0)->value_or(-1), 1);

  ASSERT_TRUE(group.Flush().ok());
  EXPECT_EQ(group.size(), 0u);
  EXPECT_EQ((*(*store)->LoadCase(kChild))->history_length(), 3u);
  EXPECT_EQ((*store)->History(kChild)->size(), 3u);
  EXPECT_TRUE((*store)->SeenEvent("third")->has_value());
  EXPECT_EQ((*store)->NextOffset("pathway.commands.v1", 0)->value_or(-1), 3);
}

TEST(GroupCommit, AnErasureCommitsWhatIsStagedFirstThenItselfAlone) {
  TempDir dir;
  auto store = state::CaseStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  GroupCommit group(**store);
  ASSERT_TRUE(group.Add(Step(1, "first", 0)).ok());
  state::Batch erase = Step(2, "erase", 1);
  erase.erase_subject = true;
  erase.new_state->set_erased(true);
  ASSERT_TRUE(group.Add(erase).ok()) << "a grouped erasure would be refused by the store";
  EXPECT_EQ(group.size(), 0u);
  EXPECT_TRUE((*store)->SeenEvent("first")->has_value());
  EXPECT_TRUE((*(*store)->LoadCase(kChild))->erased());
}

}  // namespace
}  // namespace pathway::engine
