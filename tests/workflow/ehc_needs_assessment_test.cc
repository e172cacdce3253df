// EHC needs assessment (SEND Regulations 2014, SI 2014/1530): one test per rule,
// with real dates, through the Simulator (the engine's decide/apply/timers).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::At;
using pathway::testing::Command;
using pathway::testing::Day;

constexpr const char* kRequest = "EHC-2025-0042";

class Ehc : public pathway::testing::PathwayFixture {
 protected:
  Ehc() : PathwayFixture(v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT, "no EHC instance") {}

  void Request(const std::string& date) {
    Run(Command("req-" + date, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_ehc_assessment_requested();
      c->set_request_id(kRequest);
      c->set_requested_by(v1::EHC_REQUESTER_PARENT);
      *c->mutable_received_on() = Day(date);
    }));
  }
  void Decide(const std::string& id, const std::string& date, v1::AssessmentDecision decision,
              bool appeal_rights = false) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_ehc_assessment_decided();
      c->set_request_id(kRequest);
      c->set_decision(decision);
      *c->mutable_decided_on() = Day(date);
      c->set_appeal_rights_given(appeal_rights);
    }));
  }
  void Advice(const std::string& id, const std::string& date, v1::AdviceSource source,
              bool received) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      if (received) {
        auto* c = e.mutable_ehc_advice_received();
        c->set_request_id(kRequest);
        c->set_source(source);
        *c->mutable_received_on() = Day(date);
      } else {
        auto* c = e.mutable_ehc_advice_requested();
        c->set_request_id(kRequest);
        c->set_source(source);
        *c->mutable_requested_on() = Day(date);
      }
    }));
  }
  void Draft(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_ehc_draft_plan_issued();
      c->set_request_id(kRequest);
      *c->mutable_served_on() = Day(date);
    }));
  }
  void Final(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_ehc_final_plan_issued();
      c->set_request_id(kRequest);
      *c->mutable_issued_on() = Day(date);
    }));
  }
};

TEST_F(Ehc, DecisionToAssessIsDueSixWeeksFromTheRequest) {
  // reg 5(1): the clock starts on the day the council receives the request.
  Request("2025-01-06");
  EXPECT_EQ(Instance().state(), "request_received");
  EXPECT_EQ(Due("decision_to_assess"), "2025-02-17");
  EXPECT_EQ(Deadline("decision_to_assess").rule(), "SEND Regulations 2014 reg 5(1)");
}

TEST_F(Ehc, SixWeeksAcrossALeapDay) {
  // reg 5(1) over 29 February 2024.
  Request("2024-02-01");
  EXPECT_EQ(Due("decision_to_assess"), "2024-03-14");
}

TEST_F(Ehc, SixteenAndTwentyWeekLimitsRunFromTheRequestNotTheDecision) {
  // reg 10(1) and reg 13(2): both limits count from the request.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(FormatDate(*ToCivil(Deadline("decision_to_assess").met_on())), "2025-02-10");
  EXPECT_EQ(Due("issue_decision"), "2025-04-28");
  EXPECT_EQ(Due("final_plan"), "2025-05-26");
}

TEST_F(Ehc, DecidingToAssessAsksTheFamilyForWhatTheAssessmentNeedsOnce) {
  // reg 6(1)(a) and 7: the family's advice and views and the child's own are part of
  // every assessment; what already exists (reg 6(4)) and the setting are asked for
  // too, once each, of the family.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  std::vector<std::string> asked;
  for (const auto& r : Child().state.information_requests()) {
    EXPECT_EQ(r.asked(), v1::RESPONDENT_FAMILY) << r.fact();
    EXPECT_EQ(FormatDate(*ToCivil(r.requested_on())), "2025-02-10") << r.fact();
    asked.push_back(r.fact());
  }
  EXPECT_EQ(asked, (std::vector<std::string>{"family_views", "all_about_me", "diagnoses",
                                             "current_setting", "existing_advice"}));
}

TEST_F(Ehc, ARefusalToAssessAsksTheFamilyForNothing) {
  // The refusal ends the pathway: nothing is left to use the facts for.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_REFUSE, /*appeal_rights=*/true);
  EXPECT_EQ(Instance().state(), "refused_to_assess");
  EXPECT_EQ(Child().state.information_requests_size(), 0);
  EXPECT_EQ(Child().state.open_needs_size(), 0);
}

TEST_F(Ehc, RefusalWithoutAppealRightsIsRejected) {
  // reg 5(3): a refusal must tell the family of their right to appeal.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_REFUSE, /*appeal_rights=*/false);
  EXPECT_EQ(LastRejectionRule(), "appeal_rights.required");
  EXPECT_EQ(Instance().state(), "request_received");
  Decide("d2", "2025-02-10", v1::ASSESSMENT_DECISION_REFUSE, /*appeal_rights=*/true);
  EXPECT_EQ(Instance().state(), "refused_to_assess");
}

TEST_F(Ehc, MissedDecisionIsBreachedTheDayAfterWithAWarningTwoWeeksBefore) {
  Request("2025-01-06");
  sim.AdvanceTo(*ParseDate("2025-02-02"));
  EXPECT_FALSE(Deadline("decision_to_assess").warned());
  sim.AdvanceTo(*ParseDate("2025-02-03"));  // 14 days before 17 February
  EXPECT_TRUE(Deadline("decision_to_assess").warned());
  sim.AdvanceTo(*ParseDate("2025-02-17"));  // due today: not yet breached
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2025-02-18"));
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_BREACHED);
}

TEST_F(Ehc, DecisionOnTheDueDateIsMet) {
  Request("2025-01-06");
  Decide("d", "2025-02-17", v1::ASSESSMENT_DECISION_ASSESS);
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Ehc, ExceptionIsReportedAsExceptedAndNeverMovesTheDeadline) {
  // reg 10(4)(c): exceptional personal circumstances.
  Request("2025-01-06");
  Run(Command("x", "2025-01-20", [](v1::Envelope& e) {
    auto* c = e.mutable_ehc_exception_recorded();
    c->set_request_id(kRequest);
    c->set_exception(v1::STATUTORY_EXCEPTION_PERSONAL_CIRCUMSTANCES);
    *c->mutable_recorded_on() = Day("2025-01-20");
  }));
  sim.AdvanceTo(*ParseDate("2025-03-01"));
  EXPECT_EQ(Due("decision_to_assess"), "2025-02-17");
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_EXCEPTED);
}

TEST_F(Ehc, AdviceIsDueSixWeeksFromItsOwnRequest) {
  // reg 8(1): each source within 6 weeks of the council's request for advice.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Advice("a1", "2025-02-11", v1::ADVICE_SOURCE_HEALTH, false);
  Advice("a2", "2025-02-14", v1::ADVICE_SOURCE_SOCIAL_CARE, false);
  EXPECT_EQ(Due("advice_health"), "2025-03-25");
  EXPECT_EQ(Due("advice_social_care"), "2025-03-28");
}

TEST_F(Ehc, AdviceAlreadyReceivedIsNotSoughtAgain) {
  // reg 6(4): advice that exists is not sought again.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Advice("a1", "2025-02-11", v1::ADVICE_SOURCE_HEALTH, false);
  Advice("a2", "2025-02-12", v1::ADVICE_SOURCE_HEALTH, false);
  EXPECT_EQ(LastRejectionRule(), "advice.already_requested");
  Advice("a3", "2025-03-01", v1::ADVICE_SOURCE_HEALTH, true);
  Advice("a4", "2025-03-02", v1::ADVICE_SOURCE_HEALTH, false);
  EXPECT_EQ(LastRejectionRule(), "advice.already_received");
}

TEST_F(Ehc, AdviceReceivedWithoutItsRequestImpliesTheRequest) {
  // Advice arrives only because it was sought (reg 8): the missing request is implied,
  // dated the day the advice came, and reported as a data-quality warning.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Advice("a1", "2025-02-11", v1::ADVICE_SOURCE_HEALTH, true);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Deadline("advice_health").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("advice_health"), "2025-02-11");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "advice_requested");
  ASSERT_EQ(Instance().data_quality_size(), 1);
  EXPECT_EQ(Instance().data_quality(0).missing(), "ehc_advice_requested");
  AdvanceTo("2025-06-30");
  EXPECT_EQ(Deadline("advice_health").status(), v1::DEADLINE_STATUS_MET) << "never breached";
}

TEST_F(Ehc, AFinalPlanWithNoDecisionOrDraftRecordedImpliesBoth) {
  // The plan exists, so the council decided to assess and served a draft (regs 5, 12, 13):
  // both implied on the plan's date. The 20 weeks are met.
  Request("2025-01-06");
  Final("f", "2025-05-19");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "plan_issued");
  ASSERT_EQ(Instance().implied_steps_size(), 2);
  EXPECT_EQ(Instance().implied_steps(0), "decision_to_assess");
  EXPECT_EQ(Instance().implied_steps(1), "draft_plan_issued");
  EXPECT_EQ(Instance().data_quality(0).missing(), "ehc_assessment_decided");
  EXPECT_EQ(Instance().data_quality(1).missing(), "ehc_draft_plan_issued");
  EXPECT_EQ(Deadline("final_plan").status(), v1::DEADLINE_STATUS_MET);
  // Implied steps are dated the latest they can have happened (the plan's date): the
  // decision (due 17 February) and the draft (16 weeks, due 28 April) are known only to
  // have happened by 19 May, so they are reported late, with that date.
  EXPECT_EQ(Deadline("decision_to_assess").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("decision_to_assess"), "2025-05-19");
  EXPECT_EQ(Deadline("issue_decision").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("issue_decision"), "2025-05-19");
  // The implied step events say what never came.
  int implied = 0;
  for (const auto& e : Child().events) {
    if (e.has_pathway_step_recorded() && e.pathway_step_recorded().implied()) {
      ++implied;
      ASSERT_EQ(e.pathway_step_recorded().warnings_size(),
                e.pathway_step_recorded().step() == "draft_plan_issued" ? 2 : 1);
      EXPECT_NE(e.pathway_step_recorded().warnings(0).find("message was received"),
                std::string::npos);
    }
  }
  EXPECT_EQ(implied, 2);
}

TEST_F(Ehc, LateAdviceIsBreachedWithTheDateItCame) {
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Advice("a1", "2025-02-11", v1::ADVICE_SOURCE_EDUCATIONAL_PSYCHOLOGY, false);
  Advice("a2", "2025-04-07", v1::ADVICE_SOURCE_EDUCATIONAL_PSYCHOLOGY, true);
  EXPECT_EQ(Deadline("advice_educational_psychology").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(FormatDate(*ToCivil(Deadline("advice_educational_psychology").met_on())), "2025-04-07");
}

TEST_F(Ehc, FinalPlanWaitsFifteenDaysForTheFamilyUnlessTheyHaveResponded) {
  // reg 13(1): at least 15 days from the day the draft is served.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Draft("dr", "2025-04-14");
  EXPECT_EQ(Deadline("issue_decision").status(), v1::DEADLINE_STATUS_MET);
  Final("f1", "2025-04-28");
  EXPECT_EQ(LastRejectionRule(), "final_plan.comment_period");
  Final("f2", "2025-04-29");  // 15 days after 14 April
  EXPECT_EQ(Instance().state(), "plan_issued");
  EXPECT_EQ(Deadline("final_plan").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Ehc, FamilyCommentsAllowAnEarlierFinalPlan) {
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Draft("dr", "2025-04-14");
  Run(Command("c", "2025-04-16", [](v1::Envelope& e) {
    auto* c = e.mutable_ehc_draft_plan_comments_received();
    c->set_request_id(kRequest);
    *c->mutable_received_on() = Day("2025-04-16");
    c->set_school_preference("100123");
  }));
  Final("f", "2025-04-17");
  EXPECT_EQ(Instance().state(), "plan_issued");
  EXPECT_TRUE(HasFact(Instance(), "school_preference", "100123"));
}

TEST_F(Ehc, DecisionNotToIssueNeedsAppealRightsAndEndsTheClocks) {
  // reg 10(1): notify within 16 weeks, with the right to appeal.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Advice("a1", "2025-02-11", v1::ADVICE_SOURCE_HEALTH, false);
  Run(Command("n1", "2025-03-20", [](v1::Envelope& e) {
    e.mutable_ehc_decided_not_to_issue()->set_request_id(kRequest);
    *e.mutable_ehc_decided_not_to_issue()->mutable_decided_on() = Day("2025-03-20");
  }));
  EXPECT_EQ(LastRejectionRule(), "appeal_rights.required");
  Run(Command("n2", "2025-03-20", [](v1::Envelope& e) {
    e.mutable_ehc_decided_not_to_issue()->set_request_id(kRequest);
    e.mutable_ehc_decided_not_to_issue()->set_appeal_rights_given(true);
    *e.mutable_ehc_decided_not_to_issue()->mutable_decided_on() = Day("2025-03-20");
  }));
  EXPECT_EQ(Instance().state(), "not_issued");
  EXPECT_EQ(Deadline("issue_decision").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Deadline("final_plan").status(), v1::DEADLINE_STATUS_CANCELLED);
  EXPECT_EQ(Deadline("advice_health").status(), v1::DEADLINE_STATUS_CANCELLED);
  sim.AdvanceTo(*ParseDate("2025-12-31"));
  EXPECT_EQ(Deadline("final_plan").status(), v1::DEADLINE_STATUS_CANCELLED)
      << "a cancelled deadline's timers never fire";
}

TEST_F(Ehc, ImpossibleStepsAreRejectedNamingFieldAndRule) {
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  // A final plan inside the draft's 15-day comment period (reg 13(1)): impossible in
  // whatever order the two arrive.
  Draft("dr", "2025-04-14");
  Final("f", "2025-04-20");
  EXPECT_EQ(LastRejectionRule(), "final_plan.comment_period");
  EXPECT_EQ(LastRejection().field(), "ehc_final_plan_issued.issued_on");
  ASSERT_NE(RefusalOf("f"), nullptr);
  EXPECT_EQ(RefusalOf("f")->rule(), "final_plan.comment_period");
  EXPECT_EQ(Instance().state(), "draft_plan_issued");
  EXPECT_EQ(Instance().implied_steps_size(), 0);
}

TEST_F(Ehc, AFinalPlanArrivingBeforeItsDraftIsStillInsideTheCommentPeriod) {
  // The same plans, the final one sent first: it implies a draft with no serve date (so
  // no comment period to check, decision 76) until the draft of 14 April arrives. In
  // business-date order the draft comes first, and the final plan of 20 April is then
  // refused for the comment period (reg 13(1)), as a correction caused by the draft.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  Final("f", "2025-04-20");
  EXPECT_EQ(Instance().state(), "plan_issued");
  Draft("dr", "2025-04-14");
  EXPECT_TRUE(SameAsInDateOrder());
  ASSERT_NE(RefusalOf("f"), nullptr);
  EXPECT_EQ(RefusalOf("f")->rule(), "final_plan.comment_period");
  EXPECT_EQ(RefusalOf("f")->field(), "ehc_final_plan_issued.issued_on");
  EXPECT_EQ(RefusalOf("dr"), nullptr);
  const v1::CaseCorrected* corrected = CorrectionBy("dr");
  ASSERT_NE(corrected, nullptr);
  ASSERT_EQ(corrected->rejections_size(), 1);
  EXPECT_EQ(corrected->rejections(0).rejected_event_id(), "f");
  EXPECT_EQ(corrected->rejections(0).rule(), "final_plan.comment_period");
  EXPECT_FALSE(corrected->rejections(0).withdrawn());
  EXPECT_EQ(Instance().state(), "draft_plan_issued");
  EXPECT_EQ(Deadline("final_plan").status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_EQ(Instance().implied_steps_size(), 0);
}

TEST_F(Ehc, ADraftDatedBeforeTheReportedDecisionToAssessIsRefused) {
  // The draft of 7 February arrives after the decision to assess of 10 February. In
  // business-date order the draft comes first, and it could only follow a decision: the
  // decision is reported for 10 February, so the dates conflict and the known date wins
  // over an implied one (decision 83). The draft is refused naming its date; the
  // decision and its clock stand, whatever the arrival order.
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_ASSESS);
  EXPECT_EQ(MetOn("decision_to_assess"), "2025-02-10");
  Draft("dr1", "2025-02-07");
  EXPECT_TRUE(SameAsInDateOrder());
  ASSERT_NE(RefusalOf("dr1"), nullptr);
  EXPECT_EQ(RefusalOf("dr1")->rule(), "date.before_reported_step");
  EXPECT_EQ(RefusalOf("dr1")->field(), "ehc_draft_plan_issued.served_on");
  EXPECT_EQ(RefusalOf("d"), nullptr);
  EXPECT_EQ(Instance().state(), "assessing");
  EXPECT_EQ(MetOn("decision_to_assess"), "2025-02-10");
  for (const auto& step : Instance().steps()) EXPECT_FALSE(step.implied()) << step.step();
}

TEST_F(Ehc, NothingFollowsARefusalToAssess) {
  Request("2025-01-06");
  Decide("d", "2025-02-10", v1::ASSESSMENT_DECISION_REFUSE, true);
  Draft("dr", "2025-03-10");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Ehc, EveryOtherRejection) {
  Request("2025-01-06");
  Request("2025-01-07");
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate") << "one request per reference";
  Run(Command("u", "2025-01-08", [](v1::Envelope& e) {
    e.mutable_ehc_assessment_decided()->set_request_id("EHC-UNKNOWN");
    e.mutable_ehc_assessment_decided()->set_decision(v1::ASSESSMENT_DECISION_ASSESS);
    *e.mutable_ehc_assessment_decided()->mutable_decided_on() = Day("2025-01-08");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  Decide("early", "2025-01-08", v1::ASSESSMENT_DECISION_ASSESS);
  // Dated before the request was received: in business-date order there was no request
  // with this reference yet, so the advice request is refused as unknown (and the case
  // re-decided without it, correction caused by it).
  Run(Command("b", "2025-01-09", [](v1::Envelope& e) {
    auto* c = e.mutable_ehc_advice_requested();
    c->set_request_id(kRequest);
    c->set_source(v1::ADVICE_SOURCE_HEALTH);
    *c->mutable_requested_on() = Day("2025-01-01");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "ehc_advice_requested.request_id");
  ASSERT_NE(CorrectionBy("b"), nullptr);
  EXPECT_FALSE(FindDeadline(Instance(), "advice_health"));
  EXPECT_TRUE(SameAsInDateOrder());
  Run(Command("f", "2025-01-09", [](v1::Envelope& e) {
    auto* c = e.mutable_ehc_advice_requested();
    c->set_request_id(kRequest);
    c->set_source(v1::ADVICE_SOURCE_HEALTH);
    *c->mutable_requested_on() = Day("2025-02-01");
  }));
  EXPECT_EQ(LastRejectionRule(), "date.not_in_future");
  Run(Command("s", "2025-01-09", [](v1::Envelope& e) {
    *e.mutable_ehc_advice_requested()->mutable_requested_on() = Day("2025-01-09");
    e.mutable_ehc_advice_requested()->set_request_id(kRequest);
  }));
  EXPECT_EQ(LastRejectionRule(), "required");
  Run(Command("w", "2025-01-10", [](v1::Envelope& e) {
    *e.mutable_ehc_request_withdrawn()->mutable_withdrawn_on() = Day("2025-01-10");
    e.mutable_ehc_request_withdrawn()->set_request_id(kRequest);
  }));
  EXPECT_EQ(Instance().state(), "withdrawn");
  Draft("after", "2025-01-11");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

}  // namespace
}  // namespace pathway::workflow
