// Pathway definitions are well formed, versioned, and drawn from their own data.
#include "workflow/pathway.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "workflow/shared_record.h"

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

TEST(Definitions, EveryDeclaredNeedNamesAStepAKnownFactAndWhoIsAsked) {
  for (const Definition* d : AllDefinitions()) {
    std::set<std::string_view> steps;
    for (const auto& step : d->needs) {
      EXPECT_NE(d->Find(step.step), nullptr) << d->name << ": needs of unknown " << step.step;
      EXPECT_TRUE(steps.insert(step.step).second) << d->name << ": " << step.step << " twice";
      EXPECT_FALSE(step.needs.empty()) << d->name << ": " << step.step;
      std::set<int> facts;
      for (const Need& n : step.needs) {
        EXPECT_TRUE(pathway::v1::FactType_IsValid(n.fact) &&
                    n.fact != pathway::v1::FACT_TYPE_UNSPECIFIED)
            << d->name << ": " << step.step;
        EXPECT_TRUE(facts.insert(n.fact).second) << d->name << ": " << step.step << " twice";
        EXPECT_NE(n.asked, pathway::v1::RESPONDENT_UNSPECIFIED) << d->name << ": " << step.step;
      }
    }
  }
}

TEST(Definitions, EveryPathwayThatAsksAFamilyOrAgencyDeclaresIt) {
  // Issue 12: the steps the law or guidance asks information for go through the record.
  auto needs = [](std::string_view pathway, std::string_view step) {
    std::set<std::string> out;
    for (const Need& n : FindDefinitionByName(pathway)->NeedsOf(step)) {
      out.insert(FactTypeName(n.fact) + ":" + RespondentName(n.asked));
    }
    return out;
  };
  using Set = std::set<std::string>;
  EXPECT_EQ(needs("ehc_needs_assessment", "decision_to_assess"),
            (Set{"family_views:family", "all_about_me:family", "diagnoses:family",
                 "current_setting:family", "existing_advice:family"}));
  EXPECT_EQ(needs("neurodevelopmental", "referral_accepted"),
            (Set{"developmental_history:family", "school_observations:current_setting",
                 "all_about_me:family"}));
  EXPECT_EQ(needs("annual_review", "meeting_scheduled"),
            (Set{"family_views:family", "all_about_me:family", "current_setting:family",
                 "school_observations:current_setting"}));
  EXPECT_EQ(needs("preparing_for_adulthood", "started"),
            (Set{"aspirations:young_person", "all_about_me:young_person"}));
  EXPECT_EQ(needs("exceptional_needs_grant", "applied"), (Set{"costed_provision:current_setting"}));
  EXPECT_TRUE(needs("ehc_needs_assessment", "request_received").empty());
}

TEST(Describe, NeedsAreListedFromTheDefinition) {
  const Definition* d = FindDefinitionByName("neurodevelopmental");
  ASSERT_NE(d, nullptr);
  std::string table = DescribeNeeds(*d);
  EXPECT_NE(table.find("| `referral_accepted` | `school_observations` | the current setting | "
                       "182 days |"),
            std::string::npos)
      << table;
  size_t rows = 0;
  for (const auto& step : d->needs) rows += step.needs.size();
  EXPECT_EQ(static_cast<size_t>(std::count(table.begin(), table.end(), '\n')), rows + 2);
  EXPECT_EQ(DescribeNeeds(*FindDefinitionByName("disagreement")),
            "No step needs facts from the family or another agency.\n");
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
