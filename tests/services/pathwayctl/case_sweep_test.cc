// The case walk of pathwayctl's store-wide operations (services/pathwayctl/case_sweep.h)
// over stores larger than one slice of keys: every case once, in order, resumable.
#include "services/pathwayctl/case_sweep.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/crypto.h"
#include "state/store_set.h"
#include "tests/common/temp_dir.h"

namespace pathway::ctl {
namespace {

constexpr int kCases = 2600;  // more than two slices of 1024 over two partitions

class CaseSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string kek(32, 'K');
    std::ofstream(dir_.path() + "/subject-key") << HexEncode(std::string(32, 'k')) << "\n";
    std::ofstream(dir_.path() + "/key-encryption-key") << HexEncode(kek) << "\n";
    state::StoreSet stores(dir_.path() + "/state", "", kek);
    for (int p = 0; p < 2; ++p) {
      auto store = stores.Open(p);
      ASSERT_TRUE(store.ok());
      std::vector<state::Batch> batches;
      for (int i = p; i < kCases; i += 2) {
        state::Batch b;
        b.subject_key = HexEncode(Sha256("child " + std::to_string(i)));
        b.new_state.emplace().set_history_length(0);
        batches.push_back(std::move(b));
      }
      ASSERT_TRUE((*store)->Commit(std::span<const state::Batch>(batches)).ok());
    }
  }
  EngineData Data() {
    EngineDataFlags flags;
    flags.data_dir = dir_.path();
    auto data = EngineData::Load(flags);
    EXPECT_TRUE(data.ok()) << data.error().ToString();
    return *data;
  }
  std::vector<Place> Walk(const Scope& scope) {
    std::vector<Place> seen;
    auto end = Sweep(
        Data(), scope, true,
        [&](const SweptCase& c) -> Status {
          seen.push_back(c.place);
          return {};
        },
        [](const Place&, const Error& e) { ADD_FAILURE() << e.ToString(); });
    EXPECT_TRUE(end.ok());
    if (end.ok()) {
      EXPECT_EQ(end->cases, seen.size());
    }
    return seen;
  }

  testing::TempDir dir_;
};

TEST_F(CaseSweep, EveryCaseOnceInPartitionAndKeyOrderAcrossSlices) {
  Scope all;
  all.text = "all";
  const auto seen = Walk(all);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kCases));
  for (size_t i = 1; i < seen.size(); ++i) {
    const bool ordered =
        seen[i - 1].partition < seen[i].partition ||
        (seen[i - 1].partition == seen[i].partition && seen[i - 1].subject < seen[i].subject);
    ASSERT_TRUE(ordered) << "at " << i;
  }

  // Resumed after any place: exactly the rest, also from inside a slice.
  for (size_t at : {size_t{0}, size_t{1023}, size_t{1024}, size_t{1500}, seen.size() - 1}) {
    Scope resumed = all;
    resumed.resume_after = seen[at];
    const auto rest = Walk(resumed);
    ASSERT_EQ(rest.size(), seen.size() - at - 1) << at;
    if (!rest.empty()) {
      EXPECT_EQ(rest.front().subject, seen[at + 1].subject);
    }
  }

  // One partition; one case; a case that is not there.
  Scope one;
  one.partition = 1;
  EXPECT_EQ(Walk(one).size(), static_cast<size_t>(kCases / 2));
  Scope single;
  single.subject = seen[7].subject;
  ASSERT_EQ(Walk(single).size(), 1u);
  Scope missing;
  missing.subject = std::string(64, 'f');
  EXPECT_TRUE(Walk(missing).empty());
}

}  // namespace
}  // namespace pathway::ctl
