// The engine's decision settings as pathwayctl takes them (services/pathwayctl/engine_data.h).
#include "services/pathwayctl/engine_data.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/time_source.h"

namespace pathway::ctl {
namespace {

TEST(LoadDecisions, StartVersionsAreTheEnginesFlagAndReachTheDecideOptions) {
  SimulatedTimeSource time(TimePoint{});
  DecisionFlags flags;
  auto none = LoadDecisions(flags, time);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->settings.decide.start_versions, nullptr) << "absent: the latest";

  flags.start_versions = {"neurodevelopmental=1"};
  auto pinned = LoadDecisions(flags, time);
  ASSERT_TRUE(pinned.ok()) << pinned.error().detail;
  ASSERT_NE(pinned->settings.decide.start_versions, nullptr);
  EXPECT_EQ(
      pinned->settings.decide.start_versions->at(pathway::v1::PATHWAY_KIND_NEURODEVELOPMENTAL), 1u);

  for (const std::string bad : {"neurodevelopmental=9", "nowhere=1", "neurodevelopmental"}) {
    flags.start_versions = {bad};
    auto refused = LoadDecisions(flags, time);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().detail.find("--start-version"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace pathway::ctl
