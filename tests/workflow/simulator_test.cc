// The simulator over realistic histories, and determinism over random ones.
#include "workflow/simulator.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;

std::string Key(std::string_view nhs) { return "subject-" + std::string(nhs); }

TEST(Simulator, EhcAssessmentHistoryWrittenFromTheCodeOfPractice) {
  // A parent's request on 6 January 2025: assessed, three advice requests (the
  // educational psychologist late), draft on 14 April, an attempt to finalise inside
  // the 15-day comment period, comments, final plan on 19 May, inside 20 weeks.
  Simulator sim(Key);
  for (const auto& e : ReadHistory("ehc_assessment.jsonl")) sim.Process(e, OccurredAt(e));
  sim.AdvanceTo(*ParseDate("2025-06-30"));

  const auto& child = sim.subjects().at(Key("9434765919"));
  const store::PathwayInstance* ehc = nullptr;
  for (const auto& p : child.state.pathways()) {
    if (p.pathway() == v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT) ehc = &p;
  }
  ASSERT_NE(ehc, nullptr);
  EXPECT_EQ(ehc->state(), "plan_issued");
  struct Expected {
    const char* name;
    const char* due;
    v1::DeadlineStatus status;
    const char* met_on;
  };
  const Expected expected[] = {
      {"decision_to_assess", "2025-02-17", v1::DEADLINE_STATUS_MET, "2025-02-10"},
      {"issue_decision", "2025-04-28", v1::DEADLINE_STATUS_MET, "2025-04-14"},
      {"final_plan", "2025-05-26", v1::DEADLINE_STATUS_MET, "2025-05-19"},
      {"advice_health", "2025-03-25", v1::DEADLINE_STATUS_MET, "2025-03-20"},
      {"advice_educational_psychology", "2025-03-25", v1::DEADLINE_STATUS_BREACHED, "2025-04-07"},
      {"advice_education", "2025-03-25", v1::DEADLINE_STATUS_MET, "2025-03-25"},
  };
  ASSERT_EQ(ehc->deadlines_size(), 6);
  for (const auto& x : expected) {
    const store::Deadline* d = FindDeadline(*ehc, x.name);
    ASSERT_NE(d, nullptr) << x.name;
    EXPECT_EQ(FormatDate(*ToCivil(d->due())), x.due) << x.name;
    EXPECT_EQ(d->status(), x.status) << x.name;
    EXPECT_EQ(FormatDate(*ToCivil(d->met_on())), x.met_on) << x.name;
  }
  ASSERT_EQ(child.rejections.size(), 1u);
  EXPECT_EQ(child.rejections[0].command_rejected().rule(), "final_plan.comment_period");
  // What the decision to assess needs from the family (reg 6(1)(a), 6(4), 7): asked once.
  ASSERT_EQ(child.state.information_requests_size(), 5);

  int warnings = 0;
  for (const auto& e : child.events) warnings += e.has_deadline_warning();
  // decision_to_assess (3 Feb), the three advice deadlines (11 Mar), issue_decision
  // (14 Apr, the morning the draft met it) and final_plan (12 May).
  EXPECT_EQ(warnings, 6);
}

TEST(Simulator, OneChildAcrossFivePathwaysAndFourAgencies) {
  // A school's referral for possible ADHD (13 January 2025) is screened with early help
  // and accepted onto the neurodevelopmental and EHC pathways; the trust's first
  // appointment is in time (version 1 made it 8 days late); the council refuses to assess (with
  // appeal rights), the parent disagrees, mediation within 30 days resolves it, a new request is
  // assessed.
  Simulator sim(Key);
  for (const auto& e : ReadHistory("multi_pathway_child.jsonl")) sim.Process(e, OccurredAt(e));
  sim.AdvanceTo(*ParseDate("2025-07-31"));
  const auto& child = sim.subjects().at(Key("6541003238"));
  EXPECT_TRUE(child.rejections.empty());

  std::map<std::string, std::string> states;
  std::map<std::string, std::string> deadlines;  // "reference/name" -> "due status [met_on]"
  for (const auto& p : child.state.pathways()) {
    states[p.reference()] = p.state();
    for (const auto& d : p.deadlines()) {
      std::string text = FormatDate(*ToCivil(d.due()));
      text += ' ';
      text += v1::DeadlineStatus_Name(d.status()).substr(16);
      if (d.has_met_on()) {
        text += ' ';
        text += FormatDate(*ToCivil(d.met_on()));
      }
      deadlines[p.reference() + "/" + d.name()] = text;  // the latest of a name
    }
  }
  EXPECT_EQ(states, (std::map<std::string, std::string>{{"SCH-77-0990", "accepted"},
                                                        {"ND-25-0101", "diagnosed"},
                                                        {"EHC-25-0300", "refused_to_assess"},
                                                        {"DIS-25-0012", "resolved"},
                                                        {"EHC-25-0377", "assessing"}}));
  // An ADHD-only assessment started on version 2: 18 weeks from the referral (NHS
  // Constitution), not from acceptance. Version 1's 13 weeks (QS51 applied locally) would
  // have been breached on 14 April: PlanMigrate's tests move exactly this child.
  EXPECT_EQ(deadlines["ND-25-0101/first_appointment"], "2025-05-19 MET 2025-04-22");
  EXPECT_EQ(deadlines["EHC-25-0300/decision_to_assess"], "2025-03-17 MET 2025-03-17");
  EXPECT_EQ(deadlines["DIS-25-0012/mediation_advice"], "2025-05-17 MET 2025-04-01");
  EXPECT_EQ(deadlines["DIS-25-0012/mediation"], "2025-05-01 MET 2025-04-28");
  EXPECT_EQ(deadlines["DIS-25-0012/certificate"], "2025-05-01 MET 2025-04-30");
  // The later of 2 months from the letter (Sat 17 May -> Mon 19 May) or a month from
  // the certificate (30 May); ended by the resolution.
  EXPECT_EQ(deadlines["DIS-25-0012/tribunal_appeal"], "2025-05-30 CANCELLED");
  EXPECT_EQ(deadlines["EHC-25-0377/issue_decision"], "2025-08-26 PENDING");
  EXPECT_EQ(deadlines["EHC-25-0377/final_plan"], "2025-09-23 PENDING");
  // The trust's acceptance asks for the developmental history, the school's
  // observations and the child's own story; the second EHC request's decision to assess
  // asks for the rest of what it needs, but not the story again. The refused first
  // request asked for nothing.
  std::map<std::string, std::string> asked;  // fact -> "who on date"
  for (const auto& r : child.state.information_requests()) {
    EXPECT_TRUE(asked
                    .emplace(r.fact(), RespondentName(r.asked()) + " on " +
                                           FormatDate(*ToCivil(r.requested_on())))
                    .second)
        << r.fact() << " asked twice";
  }
  EXPECT_EQ(asked, (std::map<std::string, std::string>{
                       {"developmental_history", "family on 2025-01-27"},
                       {"school_observations", "current_setting on 2025-01-27"},
                       {"all_about_me", "family on 2025-01-27"},
                       {"family_views", "family on 2025-06-10"},
                       {"diagnoses", "family on 2025-06-10"},
                       {"current_setting", "family on 2025-06-10"},
                       {"existing_advice", "family on 2025-06-10"}}));
}

TEST(Simulator, RepeatedEventIdIsIgnoredAndUnroutableCommandsAreKept) {
  Simulator sim(Key);
  auto history = ReadHistory("ehc_assessment.jsonl");
  sim.Process(history[0], OccurredAt(history[0]));
  sim.Process(history[0], OccurredAt(history[0]));
  v1::Envelope no_child = history[1];
  no_child.set_event_id("no-child");
  no_child.clear_subject();
  sim.Process(no_child, OccurredAt(no_child));
  EXPECT_EQ(sim.subjects().at(Key("9434765919")).state.referrals_size(), 1);
  ASSERT_EQ(sim.unrouted_rejections().size(), 1u);
  EXPECT_EQ(sim.unrouted_rejections()[0].command_rejected().field(), "subject.nhs_number");
}

// A random but plausible stream of EHC commands for a few children.
std::vector<v1::Envelope> RandomHistory(uint32_t seed) {
  std::mt19937 rng(seed);
  const char* children[] = {"9434765919", "6541003238", "4000000020"};
  const v1::AdviceSource sources[] = {v1::ADVICE_SOURCE_HEALTH, v1::ADVICE_SOURCE_EDUCATION,
                                      v1::ADVICE_SOURCE_EDUCATIONAL_PSYCHOLOGY,
                                      v1::ADVICE_SOURCE_SOCIAL_CARE};
  std::vector<v1::Envelope> out;
  CivilDate day = *ParseDate("2024-09-02");
  for (int i = 0; i < 60; ++i) {
    day = AddDays(day, static_cast<int>(rng() % 9));
    std::string date = FormatDate(day);
    std::string nhs = children[rng() % 3];
    const std::string request = std::string("EHC-").append(std::to_string(rng() % 2));
    const std::string id =
        std::string("r").append(std::to_string(seed)).append("-").append(std::to_string(i));
    int kind = static_cast<int>(rng() % 9);
    out.push_back(Command(
        id, date,
        [&](v1::Envelope& e) {
          switch (kind) {
            case 0: {
              auto* c = e.mutable_ehc_assessment_requested();
              c->set_request_id(request);
              c->set_requested_by(v1::EHC_REQUESTER_PARENT);
              *c->mutable_received_on() = Day(date);
              break;
            }
            case 1: {
              auto* c = e.mutable_ehc_assessment_decided();
              c->set_request_id(request);
              c->set_decision(rng() % 4 ? v1::ASSESSMENT_DECISION_ASSESS
                                        : v1::ASSESSMENT_DECISION_REFUSE);
              c->set_appeal_rights_given(rng() % 2);
              break;
            }
            case 2:
            case 3: {
              auto* c = kind == 2 ? e.mutable_ehc_advice_requested()->mutable_request_id()
                                  : e.mutable_ehc_advice_received()->mutable_request_id();
              *c = request;
              if (kind == 2) e.mutable_ehc_advice_requested()->set_source(sources[rng() % 4]);
              if (kind == 3) e.mutable_ehc_advice_received()->set_source(sources[rng() % 4]);
              break;
            }
            case 4:
              e.mutable_ehc_draft_plan_issued()->set_request_id(request);
              break;
            case 5:
              e.mutable_ehc_final_plan_issued()->set_request_id(request);
              break;
            case 6:
              e.mutable_ehc_draft_plan_comments_received()->set_request_id(request);
              break;
            case 7: {
              auto* c = e.mutable_ehc_exception_recorded();
              c->set_request_id(request);
              c->set_exception(v1::STATUTORY_EXCEPTION_AWAY_FROM_AREA);
              break;
            }
            default:
              e.mutable_ehc_decided_not_to_issue()->set_request_id(request);
              e.mutable_ehc_decided_not_to_issue()->set_appeal_rights_given(true);
          }
        },
        nhs));
  }
  return out;
}

TEST(Determinism, RebuildFromEventsIsByteIdenticalOverRandomHistories) {
  // design.md "Rebuild": re-applying a case's stored events gives the stored state.
  // Seeds 1..200 are the corpus; a failure names its seed.
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    auto history = RandomHistory(seed);
    Simulator a(Key), b(Key);
    for (const auto& e : history) {
      a.Process(e, OccurredAt(e));
      b.Process(e, OccurredAt(e));
    }
    a.AdvanceTo(*ParseDate("2026-12-31"));
    b.AdvanceTo(*ParseDate("2026-12-31"));
    for (const auto& [key, subject] : a.subjects()) {
      store::CaseState rebuilt;
      for (const auto& e : subject.events) Apply(rebuilt, e);
      ASSERT_EQ(rebuilt.SerializeAsString(), subject.state.SerializeAsString()) << "seed " << seed;
      const auto& twin = b.subjects().at(key);
      ASSERT_EQ(twin.events.size(), subject.events.size()) << "seed " << seed;
      for (size_t i = 0; i < subject.events.size(); ++i) {
        ASSERT_EQ(twin.events[i].SerializeAsString(), subject.events[i].SerializeAsString())
            << "seed " << seed;
      }
      // Statutory invariants: no pending deadline is ever left behind the calendar.
      for (const auto& p : subject.state.pathways()) {
        for (const auto& d : p.deadlines()) {
          EXPECT_NE(d.status(), v1::DEADLINE_STATUS_PENDING)
              << "seed " << seed << ": " << d.name() << " still pending after its due date";
        }
      }
    }
  }
}

TEST(Determinism, RebuildIsByteIdenticalOverRandomMixesOfEveryPathwaysCommands) {
  // The same property over all seven pathways: commands drawn at random from the
  // realistic histories, re-addressed to random children and replayed in a random
  // order. Most are rejected; what is accepted must rebuild exactly. Seeds 1..100.
  std::vector<v1::Envelope> pool;
  for (const char* name :
       {"ehc_assessment.jsonl", "annual_review.jsonl", "neurodevelopmental.jsonl",
        "preparing_for_adulthood.jsonl", "disagreement.jsonl", "multi_pathway_child.jsonl",
        "exceptional_needs_grant.jsonl"}) {
    for (auto& e : ReadHistory(name)) pool.push_back(std::move(e));
  }
  ASSERT_GT(pool.size(), 50u);
  const char* children[] = {"9434765919", "6541003238", "4000000020"};
  std::set<int> pathways_moved;
  int steps = 0;
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    Simulator sim(Key);
    TimePoint now = pathway::testing::At("2024-01-01");
    for (int i = 0; i < 80; ++i) {
      v1::Envelope e = pool[rng() % pool.size()];
      e.set_event_id("mix" + std::to_string(seed) + "-" + std::to_string(i));
      std::string nhs = children[rng() % 3];
      if (e.has_referral_submitted()) {
        e.mutable_referral_submitted()->mutable_child()->set_nhs_number(nhs);
      } else {
        e.mutable_subject()->set_nhs_number(nhs);
      }
      now += std::chrono::hours(24 * static_cast<int>(rng() % 20));
      sim.Process(e, now);
    }
    sim.AdvanceTo(LondonDate(now));
    for (const auto& [key, subject] : sim.subjects()) {
      store::CaseState rebuilt;
      for (const auto& e : subject.events) Apply(rebuilt, e);
      ASSERT_EQ(rebuilt.SerializeAsString(), subject.state.SerializeAsString()) << "seed " << seed;
      // Counted on the case as it stands: a command dated before what its case decided
      // re-decides it, and the steps that moves are in a CaseCorrected, not in
      // PathwayStepRecorded events.
      for (const auto& p : subject.state.pathways()) {
        for (const auto& taken : p.steps()) {
          if (taken.implied()) continue;
          ++steps;
          pathways_moved.insert(p.pathway());
        }
      }
    }
  }
  // Not vacuous: the mixes do move every pathway (reported steps only).
  EXPECT_GT(steps, 500);
  EXPECT_EQ(pathways_moved.size(), 7u);
}

}  // namespace
}  // namespace pathway::workflow
