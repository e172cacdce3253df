// Preparing for adulthood (SEND Code of Practice ch. 8; SEND Regulations 2014 regs 20(6)
// and 46; Children and Families Act 2014 s46; Care Act 2014 s58): one test per rule, with
// real dates, through the Simulator (the engine's decide/apply/timers).
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/clock.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
using pathway::testing::ReadHistory;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::SubjectKey;

constexpr const char* kPlan = "PFA-2025-0019";

class Pfa : public pathway::testing::PathwayFixture {
 protected:
  Pfa()
      : PathwayFixture(v1::PATHWAY_KIND_PREPARING_FOR_ADULTHOOD,
                       "no preparing for adulthood instance") {}

  void Start(const std::string& id, const std::string& date, const std::string& dob) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_started();
      c->set_plan_id(kPlan);
      *c->mutable_date_of_birth() = Day(dob);
      *c->mutable_started_on() = Day(date);
    }));
  }
  void CareActNeeded(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_care_act_assessment_needed();
      c->set_plan_id(kPlan);
      *c->mutable_decided_on() = Day(date);
    }));
  }
  void CareActCompleted(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_care_act_assessment_completed();
      c->set_plan_id(kPlan);
      *c->mutable_completed_on() = Day(date);
    }));
  }
  void Worker(const std::string& id, const std::string& date, const std::string& worker) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_named_worker_assigned();
      c->set_plan_id(kPlan);
      *c->mutable_assigned_on() = Day(date);
      c->set_worker_id(worker);
    }));
  }
  void PlanHandover(const std::string& id, const std::string& date, v1::AdultService service,
                    const std::string& by) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_handover_planned();
      c->set_plan_id(kPlan);
      c->set_service(service);
      *c->mutable_planned_on() = Day(date);
      if (!by.empty()) *c->mutable_handover_by() = Day(by);
    }));
  }
  void Handover(const std::string& id, const std::string& date, v1::AdultService service) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_handover_completed();
      c->set_plan_id(kPlan);
      c->set_service(service);
      *c->mutable_completed_on() = Day(date);
    }));
  }
  void End(const std::string& id, const std::string& date, const std::string& reason) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_pfa_plan_ended();
      c->set_plan_id(kPlan);
      *c->mutable_ended_on() = Day(date);
      c->set_reason(reason);
    }));
  }
};

// ---- Starting: Year 9 and the derived dates ----------------------------------------------

TEST_F(Pfa, BornThirtyFirstAugustIsInYearNineOnFirstSeptember2025) {
  // SEND Regulations 2014 reg 20(6), CoP ch. 8: planning from Year 9. Born 31 Aug 2012:
  // the oldest in the 2012/13 cohort, Year 9 in 2025/26.
  Start("s", "2025-09-01", "2012-08-31");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "planning");
}

TEST_F(Pfa, BornFirstSeptemberIsStillInYearEightAndCannotStart) {
  // One day younger: the youngest of the next cohort, Year 8 in 2025/26, Year 9 from
  // 1 September 2026.
  Start("s1", "2025-09-01", "2012-09-01");
  EXPECT_EQ(LastRejectionRule(), "start.before_year_9");
  EXPECT_EQ(LastRejection().field(), "pfa_started.started_on");
  EXPECT_EQ(LastRejection().reason().find("2012"), std::string::npos)
      << "the reason never repeats the date of birth";
  EXPECT_EQ(Find(), nullptr);
  Start("s2", "2026-08-31", "2012-09-01");
  EXPECT_EQ(LastRejectionRule(), "start.before_year_9") << "the last day of Year 8";
  Start("s3", "2026-09-01", "2012-09-01");
  EXPECT_EQ(Instance().state(), "planning");
}

TEST_F(Pfa, OnlyDatesDerivedFromTheDateOfBirthAreStored) {
  // Data minimisation: the instance keeps turns_18_on and plan_may_run_to, never the
  // date of birth.
  Start("s", "2025-09-01", "2011-05-14");
  EXPECT_EQ(Fact("turns_18_on"), "2029-05-14");
  EXPECT_EQ(Fact("plan_may_run_to"), "2036-07-31");
  for (const auto& f : Instance().facts()) {
    EXPECT_EQ(f.value().find("2011"), std::string::npos) << f.key();
  }
  for (const auto& e : Child().events) {
    if (e.has_pathway_step_recorded()) {
      for (const auto& f : e.pathway_step_recorded().facts()) {
        EXPECT_EQ(f.value().find("2011"), std::string::npos) << f.key();
      }
    }
  }
}

TEST_F(Pfa, DateOfBirthIsRequiredAndMustBeARealDate) {
  Run(Command("s1", "2025-09-01", [](v1::Envelope& e) {
    e.mutable_pfa_started()->set_plan_id(kPlan);
    *e.mutable_pfa_started()->mutable_started_on() = Day("2025-09-01");
  }));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "pfa_started.date_of_birth");
  Run(Command("s2", "2025-09-01", [](v1::Envelope& e) {
    e.mutable_pfa_started()->set_plan_id(kPlan);
    *e.mutable_pfa_started()->mutable_started_on() = Day("2025-09-01");
    auto* dob = e.mutable_pfa_started()->mutable_date_of_birth();
    dob->set_year(2011);
    dob->set_month(2);
    dob->set_day(29);  // 2011 is not a leap year
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "pfa_started.date_of_birth");
  EXPECT_EQ(Find(), nullptr);
}

struct RunTo {
  const char* dob;
  const char* plan_may_run_to;
  const char* why;
};

TEST_F(Pfa, PlanMayRunToTheThirtyFirstJulyEndingTheAcademicYearOfTheTwentyFifthBirthday) {
  // Children and Families Act 2014 s46; SEND Regulations 2014 reg 46(1)(a): for further
  // education the academic year is the twelve months ending on 31 July.
  const RunTo cases[] = {
      {"2001-06-15", "2026-07-31", "June birthday: the 31 July after it"},
      {"2001-07-31", "2026-07-31", "31 July birthday: that very day"},
      {"2001-08-01", "2027-07-31", "1 August: the year ending the next 31 July"},
      {"2001-08-15", "2027-07-31",
       "August birthday: the 31 July after it, not the 31 July a fortnight before they turn 25"},
      {"2001-09-01", "2027-07-31", "September birthday"},
      {"2002-01-01", "2027-07-31", "New Year's Day birthday"},
      {"2004-02-29", "2029-07-31", "leap-day birth turns 25 on 1 March 2029"},
  };
  int i = 0;
  for (const auto& c : cases) {
    Simulator fresh(SubjectKey);
    std::string id = std::string("s").append(std::to_string(i++));
    fresh.Process(Command(id, "2026-01-05",
                          [&](v1::Envelope& e) {
                            auto* p = e.mutable_pfa_started();
                            p->set_plan_id(kPlan);
                            *p->mutable_date_of_birth() = Day(c.dob);
                            *p->mutable_started_on() = Day("2026-01-05");
                          }),
                  pathway::testing::At("2026-01-05"));
    const auto& child = fresh.subjects().at(SubjectKey(pathway::testing::kValidNhsNumber));
    ASSERT_TRUE(child.rejections.empty()) << c.why;
    EXPECT_EQ(FactValue(child.state.pathways(0), "plan_may_run_to"), c.plan_may_run_to) << c.why;
  }
}

TEST(PfaAgeLimit, TheTwentySixthBirthdayCapCannotBindUnderTheThirtyFirstJulyYear) {
  // reg 46(1)(b),(c) stop a plan the day before the 26th birthday. With the 31 July
  // academic year the first 31 July on or after the 25th birthday is always less than a
  // year after it, so the cap never binds: checked for every birth date over a leap cycle.
  // Each birth date is a plan of its own case: one case holding 1461 plans started on one
  // day would be re-decided whenever a start sorted (by content, on the same day) before
  // those already decided, and would hold its plans in that order, not by birth date.
  for (CivilDate dob = *ParseDate("2000-01-01"); dob != *ParseDate("2004-01-01");
       dob = AddDays(dob, 1)) {
    Simulator sim(SubjectKey);
    sim.Process(Command("s-" + FormatDate(dob), "2024-09-02",
                        [&](v1::Envelope& e) {
                          auto* p = e.mutable_pfa_started();
                          p->set_plan_id("P-" + FormatDate(dob));
                          *p->mutable_date_of_birth() = ToProto(dob);
                          *p->mutable_started_on() = Day("2024-09-02");
                        }),
                pathway::testing::At("2024-09-02"));
    const auto& child = sim.subjects().at(SubjectKey(pathway::testing::kValidNhsNumber));
    ASSERT_TRUE(child.rejections.empty()) << FormatDate(dob);
    ASSERT_EQ(child.state.pathways_size(), 1) << FormatDate(dob);
    CivilDate run_to = *ParseDate(FactValue(child.state.pathways(0), "plan_may_run_to"));
    EXPECT_EQ(run_to.month(), std::chrono::July) << FormatDate(dob);
    EXPECT_EQ(run_to.day(), std::chrono::day{31}) << FormatDate(dob);
    EXPECT_GE(std::chrono::sys_days{run_to}, std::chrono::sys_days{Birthday(dob, 25)})
        << FormatDate(dob);
    EXPECT_LT(std::chrono::sys_days{run_to}, std::chrono::sys_days{Birthday(dob, 26)})
        << FormatDate(dob);
  }
}

TEST_F(Pfa, CannotStartAfterTheEndOfTheAcademicYearOfTheTwentyFifthBirthday) {
  // Children and Families Act 2014 s46: nothing to plan for once a plan can no longer run.
  Start("s1", "2026-08-01", "2001-06-15");
  EXPECT_EQ(LastRejectionRule(), "start.past_age_limit");
  EXPECT_EQ(LastRejection().reason().find("2001"), std::string::npos);
  Start("s2", "2026-07-31", "2001-06-15");
  EXPECT_EQ(Instance().state(), "planning");
}

// ---- Care Act 2014 s58 -------------------------------------------------------------------

TEST_F(Pfa, CareActAssessmentIsDueTheDayBeforeTheEighteenthBirthday) {
  // s58(1): a child's needs assessment, before 18, where the child is likely to have
  // needs as an adult.
  Start("s", "2023-09-04", "2009-11-30");
  EXPECT_EQ(Fact("turns_18_on"), "2027-11-30");
  CareActNeeded("n", "2026-11-02");
  EXPECT_EQ(Due("care_act_assessment"), "2027-11-29");
  EXPECT_EQ(Deadline("care_act_assessment").rule(), "Care Act 2014 s58(1)");
  EXPECT_FALSE(Deadline("care_act_assessment").exceptable());
  EXPECT_EQ(Instance().state(), "planning");
}

TEST_F(Pfa, ALeapDayBirthTurnsEighteenOnFirstMarch2026) {
  // Family Law Reform Act 1969 s9: born 29 Feb 2008, 18 on 1 March 2026 (2026 is not a
  // leap year), so the s58 assessment is due on 28 February 2026.
  Start("s", "2022-01-10", "2008-02-29");
  EXPECT_EQ(Fact("turns_18_on"), "2026-03-01");
  CareActNeeded("n", "2026-02-28");  // the last day they are a child
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Due("care_act_assessment"), "2026-02-28");
}

TEST_F(Pfa, CareActAssessmentCannotBeFoundNeededOnOrAfterTheEighteenthBirthday) {
  // s58 is for a child; an adult is assessed under s9.
  Start("s", "2022-01-10", "2008-02-29");
  CareActNeeded("n", "2026-03-01");
  EXPECT_EQ(LastRejectionRule(), "care_act.after_18");
  EXPECT_EQ(LastRejection().field(), "pfa_care_act_assessment_needed.decided_on");
  EXPECT_EQ(LastRejection().reason().find("2008"), std::string::npos);
  EXPECT_EQ(FindDeadline(Instance(), "care_act_assessment"), nullptr);
}

TEST_F(Pfa, CompletedCareActAssessmentMeetsTheDeadline) {
  Start("s", "2023-09-04", "2009-11-30");
  CareActNeeded("n", "2026-11-02");
  CareActCompleted("c", "2027-06-14");
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("care_act_assessment"), "2027-06-14");
}

TEST_F(Pfa, MissedCareActAssessmentIsWarnedThenBreachedOnTheEighteenthBirthday) {
  Start("s", "2022-01-10", "2008-02-29");
  CareActNeeded("n", "2025-06-02");
  EXPECT_EQ(Due("care_act_assessment"), "2026-02-28");
  sim.AdvanceTo(*ParseDate("2026-02-13"));
  EXPECT_FALSE(Deadline("care_act_assessment").warned());
  sim.AdvanceTo(*ParseDate("2026-02-14"));  // 14 days before
  EXPECT_TRUE(Deadline("care_act_assessment").warned());
  sim.AdvanceTo(*ParseDate("2026-02-28"));
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2026-03-01"));
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_BREACHED);
  // Completed late, at 18: recorded with its date, still a breach.
  CareActCompleted("c", "2026-04-20");
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("care_act_assessment"), "2026-04-20");
  CareActCompleted("c2", "2026-04-21");
  EXPECT_EQ(LastRejectionRule(), "care_act.already_completed");
}

TEST_F(Pfa, CareActAssessmentIsNotFoundNeededTwice) {
  Start("s", "2023-09-04", "2009-11-30");
  CareActNeeded("n1", "2026-11-02");
  CareActNeeded("n2", "2026-11-09");
  EXPECT_EQ(LastRejectionRule(), "care_act.already_needed");
  CareActCompleted("c", "2027-06-14");
  CareActNeeded("n3", "2027-06-21");
  EXPECT_EQ(LastRejectionRule(), "care_act.already_completed");
}

TEST_F(Pfa, ACareActAssessmentCompletedWithNoNeedRecordedImpliesTheNeed) {
  // An s58 assessment completed shows it was found needed: implied, and the deadline (the
  // day before the 18th birthday) is met on the day it was completed.
  Start("s", "2023-09-04", "2009-11-30");
  CareActCompleted("c", "2026-06-14");
  EXPECT_EQ(Rejections(), 0u);
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "care_act_assessment_needed");
  EXPECT_EQ(Instance().data_quality(0).missing(), "pfa_care_act_assessment_needed");
  EXPECT_EQ(Due("care_act_assessment"), "2027-11-29");
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_MET);
  CareActCompleted("c2", "2026-06-15");
  EXPECT_EQ(LastRejectionRule(), "care_act.already_completed");
}

TEST_F(Pfa, ACareActAssessmentCompletedAt18WithNoNeedRecordedSetsNoDeadline) {
  // When it was found needed is unknown, so whether it was late is too: no deadline.
  Start("s", "2023-09-04", "2009-11-30");
  CareActCompleted("c", "2028-01-10");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().deadlines_size(), 0);
  ASSERT_EQ(Instance().data_quality_size(), 1);
  CareActCompleted("c2", "2028-01-11");
  EXPECT_EQ(LastRejectionRule(), "care_act.already_completed");
}

// ---- Named worker -------------------------------------------------------------------------

TEST_F(Pfa, NamedWorkerNeedsAnIdAndTheLatestAssignmentWins) {
  Start("s", "2023-09-04", "2009-11-30");
  Worker("w0", "2023-10-02", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "pfa_named_worker_assigned.worker_id");
  Worker("w1", "2023-10-02", "staff-4107");
  Worker("w2", "2024-04-15", "staff-5120");
  EXPECT_EQ(Fact("named_worker"), "staff-5120");
  EXPECT_EQ(Instance().state(), "planning");
  EXPECT_EQ(Instance().deadlines_size(), 0);
}

// ---- Handover to adult services ----------------------------------------------------------

TEST_F(Pfa, HandoverPlanSetsADeadlineForThatServiceAndStartsTheTransition) {
  // CoP ch. 8, NICE NG43: a planned, dated handover from children's to adult services.
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h", "2026-05-11", v1::ADULT_SERVICE_MENTAL_HEALTH, "2027-11-30");
  EXPECT_EQ(Instance().state(), "transitioning");
  EXPECT_EQ(Due("handover_mental_health"), "2027-11-30");
  EXPECT_FALSE(Deadline("handover_mental_health").exceptable());
  EXPECT_EQ(Fact("handover_planned"), "mental_health");
  Handover("c", "2027-11-22", v1::ADULT_SERVICE_MENTAL_HEALTH);
  EXPECT_EQ(Deadline("handover_mental_health").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("handover_mental_health"), "2027-11-22");
  EXPECT_EQ(Instance().state(), "transitioning");
}

TEST_F(Pfa, EachServiceHasItsOwnHandoverAndASecondPlanForAPendingOneIsRejected) {
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h1", "2026-05-11", v1::ADULT_SERVICE_LEARNING_DISABILITY, "2027-09-30");
  PlanHandover("h2", "2026-05-11", v1::ADULT_SERVICE_SOCIAL_CARE, "2027-11-30");
  EXPECT_EQ(Due("handover_learning_disability"), "2027-09-30");
  EXPECT_EQ(Due("handover_social_care"), "2027-11-30");
  PlanHandover("h3", "2026-06-01", v1::ADULT_SERVICE_LEARNING_DISABILITY, "2027-12-31");
  EXPECT_EQ(LastRejectionRule(), "handover.already_planned");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.service");
  EXPECT_EQ(Due("handover_learning_disability"), "2027-09-30") << "the first plan stands";
}

TEST_F(Pfa, AnOverdueHandoverIsStillOutstandingAndCanBeCompletedLate) {
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h1", "2026-05-11", v1::ADULT_SERVICE_LEARNING_DISABILITY, "2026-09-30");
  sim.AdvanceTo(*ParseDate("2026-10-01"));
  EXPECT_EQ(Deadline("handover_learning_disability").status(), v1::DEADLINE_STATUS_BREACHED);
  PlanHandover("h2", "2026-10-05", v1::ADULT_SERVICE_LEARNING_DISABILITY, "2026-12-31");
  EXPECT_EQ(LastRejectionRule(), "handover.already_planned") << "a breach is never re-planned away";
  Handover("c", "2026-10-19", v1::ADULT_SERVICE_LEARNING_DISABILITY);
  EXPECT_EQ(Deadline("handover_learning_disability").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("handover_learning_disability"), "2026-10-19");
  Handover("c2", "2026-10-20", v1::ADULT_SERVICE_LEARNING_DISABILITY);
  EXPECT_EQ(LastRejectionRule(), "handover.already_completed");
}

TEST_F(Pfa, ACompletedHandoverIsNotPlannedOrCompletedAgain) {
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h1", "2026-05-11", v1::ADULT_SERVICE_SOCIAL_CARE, "2026-09-30");
  Handover("c1", "2026-09-01", v1::ADULT_SERVICE_SOCIAL_CARE);
  Handover("c2", "2026-09-02", v1::ADULT_SERVICE_SOCIAL_CARE);
  EXPECT_EQ(LastRejectionRule(), "handover.already_completed");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_completed.service");
  PlanHandover("h2", "2026-09-03", v1::ADULT_SERVICE_SOCIAL_CARE, "2026-12-31");
  EXPECT_EQ(LastRejectionRule(), "handover.already_completed");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.service");
}

TEST_F(Pfa, AHandoverCompletedToAServiceWithNoneRecordedImpliesItsPlan) {
  // Another service's handover is planned, so the state allows completions: only the
  // missing plan for this service shows the gap.
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h", "2026-05-11", v1::ADULT_SERVICE_SOCIAL_CARE, "2026-09-30");
  Handover("c", "2026-06-01", v1::ADULT_SERVICE_MENTAL_HEALTH);
  EXPECT_EQ(Rejections(), 0u);
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "handover_planned");
  EXPECT_EQ(Deadline("handover_mental_health").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Deadline("handover_social_care").status(), v1::DEADLINE_STATUS_PENDING);
}

TEST_F(Pfa, AHandoverCompletedBeforeAnyIsPlannedImpliesThePlan) {
  Start("s", "2023-09-04", "2009-11-30");
  Handover("c", "2026-06-01", v1::ADULT_SERVICE_MENTAL_HEALTH);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "transitioning");
  EXPECT_EQ(Instance().data_quality(0).missing(), "pfa_handover_planned");
  EXPECT_EQ(Due("handover_mental_health"), "2026-06-01");
  EXPECT_EQ(MetOn("handover_mental_health"), "2026-06-01");
  AdvanceTo("2026-12-31");
  EXPECT_EQ(Deadline("handover_mental_health").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Pfa, HandoverDateCannotBeBeforeTheDayItIsPlanned) {
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h1", "2026-05-11", v1::ADULT_SERVICE_MENTAL_HEALTH, "2026-05-10");
  EXPECT_EQ(LastRejectionRule(), "handover.before_planned");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.handover_by");
  EXPECT_EQ(Instance().state(), "planning");
  PlanHandover("h2", "2026-05-11", v1::ADULT_SERVICE_MENTAL_HEALTH, "2026-05-11");
  EXPECT_EQ(Due("handover_mental_health"), "2026-05-11");
}

TEST_F(Pfa, HandoverNeedsAServiceAndARealDate) {
  Start("s", "2023-09-04", "2009-11-30");
  PlanHandover("h1", "2026-05-11", v1::ADULT_SERVICE_UNSPECIFIED, "2026-09-30");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.service");
  EXPECT_EQ(LastRejectionRule(), "required");
  PlanHandover("h2", "2026-05-11", v1::ADULT_SERVICE_MENTAL_HEALTH, "");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.handover_by");
  EXPECT_EQ(LastRejectionRule(), "required");
  Run(Command("h3", "2026-05-11", [](v1::Envelope& e) {
    *e.mutable_pfa_handover_planned()->mutable_planned_on() = Day("2026-05-11");
    auto* c = e.mutable_pfa_handover_planned();
    c->set_plan_id(kPlan);
    c->set_service(v1::ADULT_SERVICE_MENTAL_HEALTH);
    c->mutable_handover_by()->set_year(2026);
    c->mutable_handover_by()->set_month(9);
    c->mutable_handover_by()->set_day(31);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "pfa_handover_planned.handover_by");
  PlanHandover("h4", "2026-05-11", v1::ADULT_SERVICE_MENTAL_HEALTH, "2026-09-30");
  Handover("c", "2026-06-01", v1::ADULT_SERVICE_UNSPECIFIED);
  EXPECT_EQ(LastRejection().field(), "pfa_handover_completed.service");
  EXPECT_EQ(LastRejectionRule(), "required");
}

// ---- Ending the plan ---------------------------------------------------------------------

TEST_F(Pfa, EndingThePlanNeedsAReasonAndCancelsWhatIsPending) {
  // Children and Families Act 2014 s45: a plan ends for a reason.
  Start("s", "2023-09-04", "2009-11-30");
  CareActNeeded("n", "2026-11-02");
  PlanHandover("h", "2026-11-02", v1::ADULT_SERVICE_SOCIAL_CARE, "2027-11-30");
  End("e1", "2026-11-16", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "pfa_plan_ended.reason");
  End("e2", "2026-11-16", "moved to another local authority");
  EXPECT_EQ(Instance().state(), "ended");
  EXPECT_EQ(Fact("end_reason"), "moved to another local authority");
  EXPECT_EQ(Deadline("care_act_assessment").status(), v1::DEADLINE_STATUS_CANCELLED);
  EXPECT_EQ(Deadline("handover_social_care").status(), v1::DEADLINE_STATUS_CANCELLED);
  sim.AdvanceTo(*ParseDate("2028-01-31"));
  EXPECT_EQ(Deadline("handover_social_care").status(), v1::DEADLINE_STATUS_CANCELLED);
  Worker("w", "2026-11-17", "staff-4107");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Pfa, APlanCannotBeRecordedAsEndingAfterTheAcademicYearOfTheTwentyFifthBirthday) {
  // Children and Families Act 2014 s46; SEND Regulations 2014 reg 46(1)(a).
  Start("s", "2025-01-06", "2001-06-15");
  EXPECT_EQ(Fact("plan_may_run_to"), "2026-07-31");
  End("e1", "2026-08-01", "completed college course");
  EXPECT_EQ(LastRejectionRule(), "plan_end.after_age_limit");
  EXPECT_EQ(LastRejection().field(), "pfa_plan_ended.ended_on");
  EXPECT_EQ(LastRejection().reason().find("2001"), std::string::npos);
  End("e2", "2026-07-31", "completed college course");
  EXPECT_EQ(Instance().state(), "ended");
}

TEST_F(Pfa, GenericRejections) {
  Start("s1", "2023-09-04", "2009-11-30");
  Start("s2", "2023-09-05", "2009-11-30");
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate");
  // Dated before the plan started: in business-date order there was no plan with this
  // reference yet.
  Worker("w1", "2023-09-01", "staff-4107");
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "pfa_named_worker_assigned.plan_id");
  ASSERT_NE(CorrectionBy("w1"), nullptr);
  EXPECT_TRUE(SameAsInDateOrder());
  Run(Command("u", "2023-09-06", [](v1::Envelope& e) {
    *e.mutable_pfa_named_worker_assigned()->mutable_assigned_on() = Day("2023-09-06");
    e.mutable_pfa_named_worker_assigned()->set_plan_id("PFA-UNKNOWN");
    e.mutable_pfa_named_worker_assigned()->set_worker_id("staff-4107");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
}

// ---- A realistic history -----------------------------------------------------------------

class PfaHistory : public Pfa {};

TEST_F(PfaHistory, FromYearNineToAdultServices) {
  // A young person born 2 October 2007 (Year 9 in 2021/22): planning starts at the Year 9
  // review, a named worker, a Care Act s58 assessment found needed at 17 and done before
  // 18, handovers from CAMHS to adult mental health (on time) and to the learning
  // disability service (late), a second mental health plan rejected, and an adult social
  // care handover still to come on the as-of date.
  for (const auto& e : ReadHistory("preparing_for_adulthood.jsonl")) Run(e);
  sim.AdvanceTo(*ParseDate("2026-03-20"));

  const auto& child = Child();
  const store::PathwayInstance* pfa = nullptr;
  for (const auto& p : child.state.pathways()) {
    if (p.pathway() == v1::PATHWAY_KIND_PREPARING_FOR_ADULTHOOD) pfa = &p;
  }
  ASSERT_NE(pfa, nullptr);
  EXPECT_EQ(pfa->state(), "transitioning");
  EXPECT_EQ(FormatDate(*ToCivil(pfa->started_on())), "2021-11-15");
  EXPECT_EQ(FactValue(*pfa, "turns_18_on"), "2025-10-02");
  EXPECT_EQ(FactValue(*pfa, "plan_may_run_to"), "2033-07-31");
  EXPECT_EQ(FactValue(*pfa, "named_worker"), "staff-4107");

  struct Expected {
    const char* name;
    const char* due;
    v1::DeadlineStatus status;
    const char* met_on;  // "" when not met
    bool warned;
  };
  const Expected expected[] = {
      {"care_act_assessment", "2025-10-01", v1::DEADLINE_STATUS_MET, "2025-07-21", false},
      {"handover_mental_health", "2025-10-31", v1::DEADLINE_STATUS_MET, "2025-10-27", true},
      {"handover_learning_disability", "2025-09-30", v1::DEADLINE_STATUS_BREACHED, "2025-10-20",
       true},
      {"handover_social_care", "2026-03-31", v1::DEADLINE_STATUS_PENDING, "", true},
  };
  ASSERT_EQ(pfa->deadlines_size(), 4);
  for (const auto& x : expected) {
    const store::Deadline* d = FindDeadline(*pfa, x.name);
    ASSERT_NE(d, nullptr) << x.name;
    EXPECT_EQ(FormatDate(*ToCivil(d->due())), x.due) << x.name;
    EXPECT_EQ(d->status(), x.status) << x.name;
    EXPECT_EQ(d->has_met_on() ? FormatDate(*ToCivil(d->met_on())) : "", x.met_on) << x.name;
    EXPECT_EQ(d->warned(), x.warned) << x.name;
  }
  ASSERT_EQ(child.rejections.size(), 1u);
  EXPECT_EQ(child.rejections[0].command_rejected().rule(), "handover.already_planned");

  int warnings = 0, breaches = 0;
  for (const auto& e : child.events) {
    warnings += e.has_deadline_warning();
    breaches += e.has_deadline_breached();
  }
  EXPECT_EQ(warnings, 3);
  EXPECT_EQ(breaches, 1);
  // Planning starts from the young person's own aspirations and story, asked of them
  // once; no other step asks anything.
  ASSERT_EQ(child.state.information_requests_size(), 2);
  for (const auto& r : child.state.information_requests()) {
    EXPECT_EQ(r.asked(), v1::RESPONDENT_YOUNG_PERSON) << r.fact();
  }
  EXPECT_EQ(child.state.information_requests(0).fact(), "aspirations");
  EXPECT_EQ(child.state.information_requests(1).fact(), "all_about_me");
}

}  // namespace
}  // namespace pathway::workflow
