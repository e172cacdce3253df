// Pathway definitions are well formed, versioned, and drawn from their own data.
#include "workflow/pathway.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/fixtures.h"
#include "tests/workflow/required_fields.h"
#include "workflow/shared_record.h"
#include "workflow/workflow.h"

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

// Implications are data the engine follows: each names a step of the same definition
// that can be recorded as implied, a state it can lead to, and one the later step is
// allowed from (or, with an empty state, a gap the state cannot show).
TEST(Definitions, EveryImplicationNamesARecordableEarlierStep) {
  int implications = 0;
  for (const Definition* d : AllDefinitions()) {
    bool has = false;
    for (const auto& t : d->transitions) {
      for (const Implication& i : t.implies) {
        ++implications;
        has = true;
        const Transition* earlier = d->Find(i.step);
        ASSERT_NE(earlier, nullptr) << d->name << ": " << t.step << " implies " << i.step;
        EXPECT_TRUE(static_cast<bool>(earlier->implied))
            << d->name << ": " << i.step << " has no implied function";
        EXPECT_FALSE(earlier->from.empty()) << d->name << ": a starting step is never implied";
        if (i.state.empty()) {
          EXPECT_NE(i.missing, nullptr) << d->name << ": " << t.step << " implies " << i.step;
          continue;
        }
        std::set<std::string_view> to(earlier->to.begin(), earlier->to.end());
        EXPECT_TRUE(to.count(i.state))
            << d->name << ": " << i.step << " never leads to " << i.state;
        EXPECT_TRUE(std::find(t.from.begin(), t.from.end(), i.state) != t.from.end() ||
                    i.missing != nullptr)
            << d->name << ": " << t.step << " is not allowed from " << i.state;
      }
    }
    EXPECT_TRUE(has) << d->name << " implies nothing";
  }
  EXPECT_GT(implications, 15);
}

// docs/pathways.md lists the implications: in each pathway's section, a table row names
// the step and the earlier step it implies, so the page cannot drift from the data.
TEST(Definitions, EveryImplicationIsListedInTheDocs) {
  std::ifstream in(std::string(PATHWAY_DOCS) + "/pathways.md");
  ASSERT_TRUE(in) << "docs/pathways.md";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  for (const Definition* d : AllDefinitions()) {
    const std::string heading = "(`" + std::string(d->name) + "`)";
    size_t start = doc.find(heading);
    ASSERT_NE(start, std::string::npos) << d->name << " has no section";
    size_t end = doc.find("\n## ", start);
    std::stringstream section(doc.substr(start, end == std::string::npos ? end : end - start));
    std::vector<std::string> rows;
    for (std::string line; std::getline(section, line);) {
      if (line.starts_with("| `")) rows.push_back(line);
    }
    for (const auto& t : d->transitions) {
      for (const Implication& i : t.implies) {
        const std::string later = std::string("`").append(t.step).append("`");
        const std::string earlier = std::string("| `").append(i.step).append("`");
        bool listed = std::any_of(rows.begin(), rows.end(), [&](const std::string& row) {
          size_t bar = row.find(" | ");
          return bar != std::string::npos && row.substr(0, bar).find(later) != std::string::npos &&
                 row.find(earlier, bar) == bar + 1;
        });
        EXPECT_TRUE(listed) << d->name << ": " << t.step << " implies " << i.step
                            << " is not in its table in docs/pathways.md";
      }
    }
  }
}

// Every command (Envelope payload fields 100..399) is owned by exactly one step of one
// pathway, and the definition names a reference field and a business-date field that
// exist on that payload.
TEST(CommandMapping, EveryCommandMapsToExactlyOneStep) {
  const google::protobuf::OneofDescriptor* payload =
      pathway::v1::Envelope::descriptor()->FindOneofByName("payload");
  ASSERT_NE(payload, nullptr);
  std::map<std::string, std::set<std::pair<int, std::string>>> owners;  // payload -> steps
  for (const Definition* d : AllDefinitions()) {
    for (const auto& t : d->transitions) {
      owners[std::string(t.command.payload)].insert({d->kind, std::string(t.step)});
    }
  }
  int commands = 0;
  for (int i = 0; i < payload->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = payload->field(i);
    if (field->number() < 100 || field->number() > 399) continue;
    ++commands;
    const auto& steps = owners[field->name()];
    ASSERT_EQ(steps.size(), 1u) << field->name() << " is recorded by " << steps.size()
                                << " (pathway, step) pairs";
    pathway::v1::Envelope e;
    e.GetReflection()->MutableMessage(&e, field);
    const CommandRoute* route = FindCommandRoute(e);
    ASSERT_NE(route, nullptr) << field->name() << ": its names do not resolve";
    EXPECT_EQ(route->payload, field->name());
    EXPECT_EQ(std::pair(static_cast<int>(route->kind), std::string(route->step)), *steps.begin());
    const google::protobuf::Descriptor* message = field->message_type();
    const auto* reference = message->FindFieldByName(std::string(route->reference_field));
    const auto* date = message->FindFieldByName(std::string(route->date_field));
    ASSERT_NE(reference, nullptr) << field->name() << "." << route->reference_field;
    ASSERT_NE(date, nullptr) << field->name() << "." << route->date_field;
    EXPECT_EQ(date->message_type(), pathway::v1::Date::descriptor()) << field->name();
  }
  EXPECT_EQ(commands, static_cast<int>(AllCommandRoutes().size()));
  // No definition claims a payload that is not a command.
  for (const auto& [name, steps] : owners) {
    const auto* field = pathway::v1::Envelope::descriptor()->FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_TRUE(field->number() >= 100 && field->number() <= 399) << name;
  }
}

// No date means no step: a command whose business-date field is unset is rejected
// naming that field, whatever the pathway (the clocks never run from arrival).
TEST(CommandMapping, ACommandWithoutItsBusinessDateIsRejected) {
  for (const CommandRoute& route : AllCommandRoutes()) {
    pathway::v1::Envelope e;
    if (route.payload == "referral_submitted") {
      e = pathway::testing::ValidReferral("evt-date");
      e.mutable_referral_submitted()->clear_received_on();
    } else {
      e.set_event_id("evt-date");
      e.mutable_occurred_at()->set_seconds(1741598000);  // dated, as every command is
      e.mutable_subject()->set_nhs_number(pathway::testing::kValidNhsNumber);
      auto* message = e.GetReflection()->MutableMessage(&e, route.payload_descriptor);
      pathway::testing::FillRequired(*message);  // every other required field
      message->GetReflection()->SetString(message, route.reference_descriptor, "REF-1");
      message->GetReflection()->ClearField(message, route.date_descriptor);
    }
    e.set_subject_key("subject");
    Decision d = Decide(pathway::store::v1::CaseState(), e, pathway::testing::March10th2025());
    ASSERT_TRUE(d.rejection) << route.payload;
    EXPECT_EQ(d.rejection->field, std::string(route.payload) + "." + std::string(route.date_field));
    EXPECT_EQ(d.rejection->rule, "required") << route.payload;
  }
}

}  // namespace
TEST(StartVersion, APathwayAndOneOfItsVersionsElseWhyNot) {
  std::map<pathway::v1::PathwayKind, uint32_t> versions;
  EXPECT_EQ(AddStartVersion("neurodevelopmental=1", versions), std::nullopt);
  EXPECT_EQ(versions.at(pathway::v1::PATHWAY_KIND_NEURODEVELOPMENTAL), 1u);
  EXPECT_EQ(AddStartVersion("neurodevelopmental=2", versions),
            "pathway neurodevelopmental is given a start version twice");
  const auto refused = [&](std::string_view spec) {
    std::map<pathway::v1::PathwayKind, uint32_t> fresh;
    auto error = AddStartVersion(spec, fresh);
    EXPECT_TRUE(fresh.empty()) << spec;
    return error.value_or("");
  };
  EXPECT_EQ(refused("neurodevelopmental"), "expected PATHWAY=VERSION, e.g. neurodevelopmental=1");
  EXPECT_EQ(refused("nowhere=1"), "no pathway is named 'nowhere'");
  const Definition* latest = LatestDefinition(pathway::v1::PATHWAY_KIND_NEURODEVELOPMENTAL);
  ASSERT_NE(latest, nullptr);
  const std::string beyond = "neurodevelopmental=" + std::to_string(latest->version + 1);
  EXPECT_NE(refused(beyond).find("has no version"), std::string::npos);
  for (std::string_view bad : {"neurodevelopmental=", "neurodevelopmental=1x",
                               "neurodevelopmental=-1", "neurodevelopmental=0"}) {
    EXPECT_NE(refused(bad).find("has no version"), std::string::npos) << bad;
  }
}

}  // namespace pathway::workflow
