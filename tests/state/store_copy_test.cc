// Backup and restore in the case store (pathwayctl backup and restore): CopyTo copies
// every column family byte for byte as of one point in time (a read-only store while its
// engine writes on), with a digest that tells equal stores; an interrupted copy stops;
// a restored copy can forget its local fence; and a store set refuses stores a restore
// has not finished.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "state/case_store.h"
#include "state/store_set.h"
#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {

const std::string kSubjectA(64, 'a');
const std::string kSubjectB(64, 'b');
const std::string kKek(32, 'K');
constexpr std::string_view kTopic = "pathway.engine.cases.changelog";

std::unique_ptr<CaseStore> Open(const std::string& dir, std::string kek = kKek) {
  auto store = CaseStore::Open(dir, StoreOptions{std::string(kTopic), 0, std::move(kek), nullptr});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return std::move(*store);
}

std::unique_ptr<CaseStore> OpenReadOnly(const std::string& dir, std::string kek = kKek) {
  auto store = CaseStore::OpenReadOnly(dir, StoreOptions{"", 0, std::move(kek), nullptr});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return std::move(*store);
}

Batch Story(const std::string& subject, const std::string& id, int64_t offset) {
  Batch b;
  b.consumed = ConsumedOffset{"pathway.commands.v1", 0, offset};
  b.dedupe_event_id = id;
  b.subject_key = subject;
  pathway::v1::Envelope e;
  e.set_event_id("fact-" + id);
  e.set_subject_key(subject);
  e.mutable_fact_recorded()->set_type(pathway::v1::FACT_TYPE_ALL_ABOUT_ME);
  e.mutable_fact_recorded()->set_content("a story told once");
  pathway::store::v1::CaseState state;
  state.set_history_length(1);
  *state.add_record_facts() = e.fact_recorded();
  b.new_state = state;
  b.history.push_back(e);
  return b;
}

// Every key and value of every family.
std::map<std::string, std::string> Everything(CaseStore& store) {
  std::map<std::string, std::string> out;
  for (const auto& spec : ColumnFamilies()) {
    Status s = store.Scan(spec.id, [&](std::string_view key, std::string_view value) {
      out[DiskName(spec) + "/" + std::string(key)] = std::string(value);
    });
    EXPECT_TRUE(s.ok());
  }
  return out;
}

TEST(StoreCopy, ACopyOfARunningStoreIsEveryFamilyByteForByteAsOfItsOpen) {
  testing::TempDir dir;
  const std::string source = dir.path() + "/source";
  auto engine = Open(source);
  ASSERT_TRUE(engine->Commit(Story(kSubjectA, "a1", 1)).ok());
  ASSERT_TRUE(engine->SaveLocalFence({"owner-1", 7}).ok());
  auto reader = OpenReadOnly(source);
  // Committed after the reader opened: not in its copy.
  ASSERT_TRUE(engine->Commit(Story(kSubjectB, "b1", 2)).ok());

  auto copy = reader->CopyTo(dir.path() + "/copy", nullptr);
  ASSERT_TRUE(copy.ok()) << copy.error().ToString();
  EXPECT_EQ(copy->families.size(), ColumnFamilies().size());
  EXPECT_EQ(copy->families["case_state"], 1u);
  EXPECT_EQ(copy->families["data_keys"], 1u);
  EXPECT_GT(copy->families["outbox"], 0u) << "the changelog records not yet sent come along";
  EXPECT_EQ(copy->digest.size(), 64u);
  uint64_t sum = 0;
  for (const auto& [name, n] : copy->families) sum += n;
  EXPECT_EQ(copy->records, sum);

  auto copied = OpenReadOnly(dir.path() + "/copy");
  EXPECT_EQ(Everything(*copied), Everything(*reader));
  auto fence = copied->LocalFence();
  ASSERT_TRUE(fence.ok() && fence->has_value());
  EXPECT_EQ((*fence)->owner, "owner-1");
  auto next = copied->NextOffset("pathway.commands.v1", 0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->value_or(-1), 1);
  // Sealed as before: the same KEK opens it, another does not.
  auto a = copied->LoadCase(kSubjectA);
  ASSERT_TRUE(a.ok() && a->has_value());
  auto b = copied->LoadCase(kSubjectB);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());
  auto other = OpenReadOnly(dir.path() + "/copy", std::string(32, 'X'));
  EXPECT_EQ(other->LoadCase(kSubjectA).error().code, make_error_code(errc::kKeyMismatch));

  // A copy of the copy has the same digest; a copy of the store now does not.
  auto again = copied->CopyTo(dir.path() + "/copy2", nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->digest, copy->digest);
  EXPECT_EQ(again->records, copy->records);
  auto now = OpenReadOnly(source)->CopyTo(dir.path() + "/copy3", nullptr);
  ASSERT_TRUE(now.ok());
  EXPECT_NE(now->digest, copy->digest);
  EXPECT_EQ(now->families["case_state"], 2u);
}

TEST(StoreCopy, ACopyNeedsANewDirectory) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/source");
  std::filesystem::create_directories(dir.path() + "/taken");
  auto copy = store->CopyTo(dir.path() + "/taken", nullptr);
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.error().code, make_error_code(errc::kInvalidArgument));
}

TEST(StoreCopy, ProgressIsToldAndCanStopTheCopy) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/source");
  std::vector<Batch> batches;
  for (int i = 0; i < 5000; ++i) {
    Batch b;
    b.consumed = ConsumedOffset{"pathway.commands.v1", 0, i + 1};
    b.dedupe_event_id = "event-" + std::to_string(i);
    batches.push_back(std::move(b));
  }
  ASSERT_TRUE(store->Commit(batches).ok());
  std::vector<uint64_t> told;
  auto whole = store->CopyTo(dir.path() + "/whole", [&](uint64_t n) {
    told.push_back(n);
    return true;
  });
  ASSERT_TRUE(whole.ok());
  ASSERT_GE(told.size(), 2u);
  EXPECT_EQ(told.back(), whole->records);
  auto stopped = store->CopyTo(dir.path() + "/stopped", [](uint64_t) { return false; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, std::make_error_code(std::errc::operation_canceled));
}

TEST(StoreCopy, ARestoredCopyCanForgetItsLocalFence) {
  testing::TempDir dir;
  auto store = Open(dir.path() + "/source");
  ASSERT_TRUE(store->SaveLocalFence({"owner-1", 7}).ok());
  ASSERT_TRUE(store->ClearLocalFence().ok());
  auto fence = store->LocalFence();
  ASSERT_TRUE(fence.ok());
  EXPECT_FALSE(fence->has_value());
}

TEST(StoreCopy, AStoreSetRefusesEveryPartitionWhileARestoreIsUnfinished) {
  testing::TempDir dir;
  StoreSet stores(dir.path() + "/state", std::string(kTopic), kKek);
  ASSERT_TRUE(stores.Open(0).ok());
  std::ofstream(dir.path() + "/state/" + std::string(StoreSet::kRestoreMark)) << "backup x\n";
  auto refused = stores.Open(1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, make_error_code(errc::kIncompatible));
  EXPECT_NE(refused.error().detail.find("restore"), std::string::npos);
  EXPECT_NE(stores.Find(0), nullptr) << "a store already open stays open";
  std::filesystem::remove(dir.path() + "/state/" + std::string(StoreSet::kRestoreMark));
  EXPECT_TRUE(stores.Open(1).ok());
}

}  // namespace
}  // namespace pathway::state
