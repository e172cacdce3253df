// Pathway definitions are well formed, versioned, and drawn from their own data.
#include "workflow/pathway.h"

#include <gtest/gtest.h>

#include <set>

namespace pathway::workflow {
namespace {

TEST(Definitions, EveryTransitionNamesKnownStatesAndEveryStateIsReachable) {
  for (const Definition* d : AllDefinitions()) {
    std::set<std::string_view> states(d->states.begin(), d->states.end());
    std::set<std::string_view> steps, reached;
    ASSERT_EQ(states.size(), d->states.size()) << d->name << ": duplicate state";
    for (auto t : d->terminal) EXPECT_TRUE(states.count(t)) << d->name << ": terminal " << t;
    bool has_start = false;
    for (const auto& t : d->transitions) {
      EXPECT_TRUE(steps.insert(t.step).second) << d->name << ": step " << t.step << " twice";
      EXPECT_TRUE(static_cast<bool>(t.apply)) << d->name << ": " << t.step << " has no function";
      has_start = has_start || t.from.empty();
      for (auto s : t.from) {
        EXPECT_TRUE(states.count(s)) << d->name << ": " << t.step << " from unknown " << s;
        EXPECT_FALSE(d->IsTerminal(s)) << d->name << ": " << t.step << " leaves terminal " << s;
      }
      for (auto s : t.to) {
        EXPECT_TRUE(states.count(s)) << d->name << ": " << t.step << " to unknown " << s;
        reached.insert(s);
      }
    }
    EXPECT_TRUE(has_start) << d->name << " has no starting step";
    for (auto s : d->states)
      EXPECT_TRUE(reached.count(s)) << d->name << ": " << s << " unreachable";
  }
}

TEST(Definitions, NamesAndVersionsAreUniqueAndLookupsAgree) {
  std::set<std::pair<int, uint32_t>> seen;
  for (const Definition* d : AllDefinitions()) {
    EXPECT_TRUE(seen.insert({d->kind, d->version}).second) << d->name;
    EXPECT_EQ(FindDefinition(d->kind, d->version), d);
    EXPECT_GE(LatestDefinition(d->kind)->version, d->version);
  }
  EXPECT_EQ(FindDefinitionByName("ehc_needs_assessment")->kind,
            pathway::v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT);
  EXPECT_EQ(FindDefinitionByName("no_such_pathway"), nullptr);
  EXPECT_EQ(FindDefinition(pathway::v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT, 999), nullptr);
}

TEST(Describe, MermaidIsDrawnFromTheDefinition) {
  const Definition* d = FindDefinitionByName("ehc_needs_assessment");
  ASSERT_NE(d, nullptr);
  std::string diagram = DescribeMermaid(*d);
  EXPECT_NE(diagram.find("stateDiagram-v2"), std::string::npos);
  EXPECT_NE(diagram.find("[*] --> request_received"), std::string::npos);
  EXPECT_NE(diagram.find("request_received --> refused_to_assess : decide whether to assess"),
            std::string::npos);
  EXPECT_NE(diagram.find("draft_plan_issued --> plan_issued"), std::string::npos);
  EXPECT_NE(diagram.find("plan_issued --> [*]"), std::string::npos);
  // Every transition appears: one line per (from, to) pair at least.
  for (const auto& t : d->transitions) {
    EXPECT_NE(diagram.find(std::string(t.label)), std::string::npos) << t.step;
  }
}

}  // namespace
}  // namespace pathway::workflow
