// Review of an EHC plan and phase transfer (Children and Families Act 2014 s44; SEND
// Regulations 2014 regs 18, 20 and 22): one test per rule, with real dates, through the
// Simulator (the engine's decide/apply/timers), and a realistic history from
// PATHWAY_HISTORIES.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/fixtures.h"
#include "tests/common/histories.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
using pathway::testing::ReadHistory;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;

constexpr const char* kReview = "AR-2025-0117";

class Review : public pathway::testing::PathwayFixture {
 protected:
  Review() : PathwayFixture(v1::PATHWAY_KIND_ANNUAL_REVIEW, "no annual review instance") {}

  // The review cycle starts on `plan_on`, recorded on `recorded_on` (that day if empty).
  void Start(const std::string& plan_on, const std::string& dob, std::string recorded_on = "") {
    if (recorded_on.empty()) recorded_on = plan_on;
    Run(Command("due-" + plan_on + "-" + recorded_on, recorded_on, [&](v1::Envelope& e) {
      auto* c = e.mutable_annual_review_due();
      c->set_review_id(kReview);
      *c->mutable_plan_or_last_review_on() = Day(plan_on);
      if (!dob.empty()) *c->mutable_date_of_birth() = Day(dob);
    }));
  }
  void Schedule(const std::string& id, const std::string& notice_on,
                const std::string& meeting_on) {
    Run(Command(id, notice_on, [&](v1::Envelope& e) {
      auto* c = e.mutable_annual_review_meeting_scheduled();
      c->set_review_id(kReview);
      *c->mutable_notice_sent_on() = Day(notice_on);
      *c->mutable_meeting_on() = Day(meeting_on);
    }));
  }
  void Held(const std::string& id, const std::string& date, bool pfa = false) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_annual_review_meeting_held();
      c->set_review_id(kReview);
      *c->mutable_held_on() = Day(date);
      c->set_preparing_for_adulthood_discussed(pfa);
    }));
  }
  void Report(const std::string& id, const std::string& date, std::string recorded_on = "") {
    Run(Command(id, recorded_on.empty() ? date : recorded_on, [&](v1::Envelope& e) {
      auto* c = e.mutable_annual_review_report_sent();
      c->set_review_id(kReview);
      *c->mutable_sent_on() = Day(date);
    }));
  }
  void Decide(const std::string& id, const std::string& date, v1::ReviewDecision decision,
              bool appeal_rights = false, std::string recorded_on = "") {
    Run(Command(id, recorded_on.empty() ? date : recorded_on, [&](v1::Envelope& e) {
      auto* c = e.mutable_annual_review_decided();
      c->set_review_id(kReview);
      c->set_decision(decision);
      *c->mutable_decided_on() = Day(date);
      c->set_appeal_rights_given(appeal_rights);
    }));
  }
  void Propose(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_plan_amendment_proposed();
      c->set_review_id(kReview);
      *c->mutable_proposed_on() = Day(date);
    }));
  }
  void Comments(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_plan_amendment_comments_received();
      c->set_review_id(kReview);
      *c->mutable_received_on() = Day(date);
    }));
  }
  void Issue(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_amended_plan_issued();
      c->set_review_id(kReview);
      *c->mutable_issued_on() = Day(date);
    }));
  }
  // Recorded (recorded_on) and sent on `today`.
  void Transfer(const std::string& id, const std::string& today, v1::PhaseTransfer transfer,
                const std::string& moves_on) {
    Run(Command(id, today, [&](v1::Envelope& e) {
      auto* c = e.mutable_phase_transfer_due();
      c->set_review_id(kReview);
      *c->mutable_recorded_on() = Day(today);
      c->set_transfer(transfer);
      if (!moves_on.empty()) *c->mutable_moves_on() = Day(moves_on);
    }));
  }
  // A review held on 15 October 2025 (notice 1 October) for a Year 6 child, report sent.
  void ReviewedOn15October() {
    Start("2024-11-20", "2015-01-10");
    Schedule("s", "2025-10-01", "2025-10-15");
    Held("h", "2025-10-15");
    Report("r", "2025-10-22");
  }
};

// ---- s44(1): at least every 12 months ----------------------------------------------------

TEST_F(Review, TwelveMonthsFromALeapDayEndOn28February) {
  // s44(1): within 12 months of the plan or last review; 29 Feb 2025 does not exist.
  Start("2024-02-29", "2014-05-02");
  EXPECT_EQ(Instance().state(), "review_due");
  EXPECT_EQ(Due("annual_review"), "2025-02-28");
  EXPECT_EQ(Deadline("annual_review").rule(), "Children and Families Act 2014 s44(1)");
  EXPECT_FALSE(Deadline("annual_review").exceptable());
}

TEST_F(Review, TwelveMonthsFrom31AugustEndOn31August) {
  // s44(1), a month end: 31 Aug 2024 + 12 months.
  Start("2024-08-31", "2014-05-02");
  EXPECT_EQ(Due("annual_review"), "2025-08-31");
}

TEST_F(Review, AnOverdueReviewIsBreachedWithAWarningTwoWeeksBefore) {
  // s44(1): the deadline is met by the review meeting, not by arranging it.
  Start("2024-11-20", "2014-05-02");
  sim.AdvanceTo(*ParseDate("2025-11-05"));
  EXPECT_FALSE(Deadline("annual_review").warned());
  sim.AdvanceTo(*ParseDate("2025-11-06"));  // 14 days before 20 November
  EXPECT_TRUE(Deadline("annual_review").warned());
  Schedule("s", "2025-11-06", "2025-11-20");
  sim.AdvanceTo(*ParseDate("2025-11-20"));
  EXPECT_EQ(Deadline("annual_review").status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2025-11-21"));
  EXPECT_EQ(Deadline("annual_review").status(), v1::DEADLINE_STATUS_BREACHED);
}

TEST_F(Review, TheMeetingMeetsTheAnnualReviewDeadline) {
  ReviewedOn15October();
  EXPECT_EQ(Deadline("annual_review").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("annual_review"), "2025-10-15");
}

TEST_F(Review, UnderFivesHaveAnAdvisedReviewDateButNoSecondDeadline) {
  // Code of Practice 9.178: consider reviewing under-5s every 3 to 6 months (guidance).
  Start("2025-01-15", "2021-05-01");
  EXPECT_EQ(FactValue(Instance(), "review_advised_by"), "2025-07-15");
  EXPECT_EQ(Instance().deadlines_size(), 1);
  EXPECT_EQ(Due("annual_review"), "2026-01-15");
}

TEST_F(Review, NoDateOfBirthIsStoredOnlyTheStartOfYear9) {
  // Data minimisation: only the derived date the Year 9 rule needs.
  Start("2024-11-20", "2010-03-12");
  EXPECT_EQ(FactValue(Instance(), "year_9_starts_on"), "2023-09-01");
  EXPECT_EQ(FactValue(Instance(), "review_advised_by"), "") << "not under 5";
  for (const auto& f : Instance().facts()) {
    EXPECT_EQ(f.value().find("2010-03-12"), std::string::npos) << f.key();
  }
}

TEST_F(Review, TheDateOfBirthOnTheChildsRecordIsUsedWhenTheCommandHasNone) {
  // Tell it once: the referral already gave the date of birth (14 June 2019).
  Run(pathway::testing::ValidReferral("ref-1"));
  Start("2025-03-10", "");
  EXPECT_EQ(Instance().state(), "review_due");
  EXPECT_EQ(FactValue(Instance(), "year_9_starts_on"), "2032-09-01");
}

TEST_F(Review, ADateOfBirthIsRequiredWhenTheRecordHasNone) {
  Start("2024-11-20", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "annual_review_due.date_of_birth");
}

TEST_F(Review, ADateOfBirthAfterThePlanIsRejectedWithoutRepeatingIt) {
  Start("2024-11-20", "2024-11-21", "2025-01-10");
  EXPECT_EQ(LastRejectionRule(), "date_of_birth.after_plan");
  EXPECT_EQ(LastRejection().reason().find("2024-11-21"), std::string::npos)
      << "never echo a date of birth";
}

// ---- reg 20(3): two weeks' notice ---------------------------------------------------------

TEST_F(Review, NoticeExactlyTwoWeeksBeforeTheMeetingIsEnough) {
  // reg 20(3): at least two weeks' notice of the date of the meeting.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "meeting_scheduled");
  EXPECT_EQ(FactValue(Instance(), "meeting_on"), "2025-10-15");
}

TEST_F(Review, NoticeThirteenDaysBeforeTheMeetingIsRejected) {
  // reg 20(3).
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-02", "2025-10-15");
  EXPECT_EQ(LastRejectionRule(), "review.notice_period");
  EXPECT_EQ(LastRejection().field(), "annual_review_meeting_scheduled.notice_sent_on");
  EXPECT_NE(LastRejection().reason().find("2025-10-01"), std::string::npos);
  EXPECT_EQ(Instance().state(), "review_due");
}

TEST_F(Review, AMeetingDateBeforeTheNoticeIsRejected) {
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-09-30");
  EXPECT_EQ(LastRejectionRule(), "review.meeting_before_notice");
  EXPECT_EQ(LastRejection().field(), "annual_review_meeting_scheduled.meeting_on");
}

TEST_F(Review, AMeetingHeldEarlierThanTwoWeeksAfterTheNoticeIsRejected) {
  // reg 20(3): moving the meeting forward must not cut the family's two weeks.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-20");
  Held("h1", "2025-10-14");
  EXPECT_EQ(LastRejectionRule(), "review.notice_period");
  EXPECT_EQ(LastRejection().field(), "annual_review_meeting_held.held_on");
  Held("h2", "2025-10-15");
  EXPECT_EQ(Instance().state(), "meeting_held");
}

TEST_F(Review, ARescheduledMeetingNeedsItsOwnNotice) {
  Start("2024-11-20", "2014-05-02");
  Schedule("s1", "2025-10-01", "2025-10-15");
  Schedule("s2", "2025-10-10", "2025-11-03");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(FactValue(Instance(), "meeting_on"), "2025-11-03");
  Held("h1", "2025-10-15");  // the first date, but the latest notice was 10 October
  EXPECT_EQ(LastRejectionRule(), "review.notice_period");
}

TEST_F(Review, AMeetingHeldWithNoScheduleImpliesItAndTheClocksRunFromTheMeeting) {
  // The meeting was held, so it was scheduled: the schedule is implied (no notice date is
  // known, so the 2 weeks' notice cannot be checked), the 12-month review is met on the
  // day it was held, and the report and decision clocks start from that day.
  Start("2024-11-20", "2014-05-02");
  Held("h", "2025-10-15");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "meeting_held");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "meeting_scheduled");
  ASSERT_EQ(Instance().data_quality_size(), 1);
  EXPECT_EQ(Instance().data_quality(0).missing(), "annual_review_meeting_scheduled");
  EXPECT_EQ(Instance().data_quality(0).step(), "meeting_scheduled");
  EXPECT_EQ(Date(Instance().data_quality(0).on()), "2025-10-15");
  EXPECT_EQ(Deadline("annual_review").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("annual_review"), "2025-10-15");
  EXPECT_EQ(Due("review_report"), "2025-10-29");
  EXPECT_EQ(Due("review_decision"), "2025-11-12");
  Report("r", "2025-10-22");
  AdvanceTo("2026-01-31");
  EXPECT_EQ(Deadline("annual_review").status(), v1::DEADLINE_STATUS_MET) << "never breached";
  EXPECT_EQ(Deadline("review_report").status(), v1::DEADLINE_STATUS_MET);
  // The implied step and its warning are events too, in order before the real step.
  std::vector<std::string> steps;
  for (const auto& e : Child().events) {
    if (e.has_pathway_step_recorded()) {
      steps.push_back(e.pathway_step_recorded().step() +
                      (e.pathway_step_recorded().implied() ? "*" : ""));
    }
  }
  EXPECT_EQ(steps, (std::vector<std::string>{"review_due", "meeting_scheduled*", "meeting_held",
                                             "report_sent"}));
}

TEST_F(Review, FromYear9AMeetingWithoutPreparingForAdulthoodIsStillRejected) {
  // Implying the schedule does not excuse the meeting's own rule (reg 20(6)).
  Start("2024-11-20", "2010-03-12");
  Held("h", "2025-10-15", false);
  EXPECT_EQ(LastRejectionRule(), "review.preparing_for_adulthood");
  EXPECT_EQ(Instance().state(), "review_due");
}

// ---- reg 20(6): preparing for adulthood from Year 9 ----------------------------------------

TEST_F(Review, BornOn31AugustIsInYear9InOctober2025) {
  // reg 20(6): in or beyond Year 9, the meeting must consider preparing for adulthood.
  // Born 31 Aug 2012: Reception 2016/17, Year 9 from 1 September 2025.
  Start("2024-11-20", "2012-08-31");
  EXPECT_EQ(FactValue(Instance(), "year_9_starts_on"), "2025-09-01");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h1", "2025-10-15", /*pfa=*/false);
  EXPECT_EQ(LastRejectionRule(), "review.preparing_for_adulthood");
  EXPECT_EQ(LastRejection().field(),
            "annual_review_meeting_held.preparing_for_adulthood_discussed");
  Held("h2", "2025-10-15", /*pfa=*/true);
  EXPECT_EQ(Instance().state(), "meeting_held");
  EXPECT_TRUE(HasFact(Instance(), "preparing_for_adulthood", "discussed"));
}

TEST_F(Review, BornOn1SeptemberIsStillInYear8InOctober2025) {
  // reg 20(6): born 1 Sep 2012, a year group later: Year 8 in 2025/26.
  Start("2024-11-20", "2012-09-01");
  EXPECT_EQ(FactValue(Instance(), "year_9_starts_on"), "2026-09-01");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15", /*pfa=*/false);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "meeting_held");
}

TEST_F(Review, Year9StartsOn1SeptemberNotAtTheBirthday) {
  // reg 20(6): 31 August 2025 is still Year 8 for a child born 31 Aug 2012.
  Start("2024-11-20", "2012-08-31");
  Schedule("s", "2025-08-01", "2025-08-31");
  Held("h", "2025-08-31", /*pfa=*/false);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "meeting_held");
}

TEST_F(Review, Year9BeginsOn1September) {
  // reg 20(6): a meeting on the first day of Year 9 already covers preparing for adulthood.
  Start("2024-11-20", "2012-08-31");
  Schedule("s", "2025-08-01", "2025-09-01");
  Held("h", "2025-09-01", /*pfa=*/false);
  EXPECT_EQ(LastRejectionRule(), "review.preparing_for_adulthood");
}

// ---- reg 20(7), 20(10): report in 2 weeks, decision in 4 -----------------------------------

TEST_F(Review, ReportIsDueTwoWeeksAndDecisionFourWeeksAfterTheMeeting) {
  // reg 20(7) and reg 20(10), both counted from the meeting.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  EXPECT_EQ(Due("review_report"), "2025-10-29");
  EXPECT_EQ(Deadline("review_report").rule(), "SEND Regulations 2014 reg 20(7)");
  EXPECT_EQ(Due("review_decision"), "2025-11-12");
  EXPECT_EQ(Deadline("review_decision").rule(), "SEND Regulations 2014 reg 20(10)");
  Report("r", "2025-10-29");  // on the due date
  EXPECT_EQ(Instance().state(), "report_sent");
  EXPECT_EQ(Deadline("review_report").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Review, ALateDecisionIsBreachedAndItsDateStillRecorded) {
  // reg 20(10): 4 weeks from 15 October is 12 November.
  ReviewedOn15October();
  Decide("d", "2025-11-13", v1::REVIEW_DECISION_MAINTAIN);
  EXPECT_EQ(Deadline("review_decision").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("review_decision"), "2025-11-13");
  EXPECT_EQ(Instance().state(), "maintained");
}

TEST_F(Review, ADecisionWithNoReportImpliesTheReportOnItsDate) {
  // reg 20(10): the authority decides in the light of the report, so a decision shows the
  // report was sent: implied, dated the decision's date, meeting the 2-week report limit.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  Decide("d", "2025-10-20", v1::REVIEW_DECISION_MAINTAIN);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "maintained");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "report_sent");
  EXPECT_EQ(Instance().data_quality(0).missing(), "annual_review_report_sent");
  EXPECT_EQ(Deadline("review_report").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("review_report"), "2025-10-20");
  EXPECT_EQ(Deadline("review_decision").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Review, ADecisionBeforeTheMeetingIsImpossible) {
  // Notice sent 1 October for 15 October, held that day; a decision dated 14 October
  // arrives after. In business-date order it comes before the meeting, which is
  // reported for the 15th: a decision follows its meeting (reg 20(10)), so the dates
  // conflict and the decision is refused, naming its date, whatever the order.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  Decide("d", "2025-10-14", v1::REVIEW_DECISION_MAINTAIN, false, "2025-10-16");
  EXPECT_EQ(LastRejectionRule(), "date.before_reported_step");
  EXPECT_EQ(LastRejection().field(), "annual_review_decided.decided_on");
  ASSERT_NE(RefusalOf("d"), nullptr);
  EXPECT_EQ(RefusalOf("d")->rule(), "date.before_reported_step");
  const v1::CaseCorrected* corrected = CorrectionBy("d");
  ASSERT_NE(corrected, nullptr);
  EXPECT_EQ(corrected->steps_size(), 0) << "nothing of a rejected command is kept";
  EXPECT_EQ(corrected->deadlines_size(), 0);
  EXPECT_EQ(Instance().state(), "meeting_held");
  EXPECT_EQ(Instance().implied_steps_size(), 0) << "nothing of a rejected command is kept";
  EXPECT_TRUE(SameAsInDateOrder());
}

TEST_F(Review, AReportImplyingAMeetingInsideTheNoticePeriodIsImpossible) {
  // Notice sent 1 October for 15 October: a report sent on 10 October would put the
  // meeting it implies inside the two weeks' notice (reg 20(3)).
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  Report("r", "2025-10-10");
  EXPECT_EQ(LastRejectionRule(), "review.notice_period");
  EXPECT_EQ(LastRejection().field(), "annual_review_report_sent.sent_on");
  EXPECT_EQ(Instance().state(), "meeting_scheduled");
  Report("r2", "2025-10-16");
  EXPECT_EQ(Instance().state(), "report_sent");
  EXPECT_EQ(MetOn("annual_review"), "2025-10-16");
}

TEST_F(Review, ADecisionAfterOnlyTheDueNoticeImpliesTheWholeReview) {
  // Amendments proposed with nothing reported since the review fell due: the meeting was
  // scheduled and held, the report sent and the decision to amend made, all implied.
  Start("2024-11-20", "2014-05-02");
  Propose("p", "2025-10-20");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "amendment_proposed");
  std::vector<std::string> implied(Instance().implied_steps().begin(),
                                   Instance().implied_steps().end());
  EXPECT_EQ(implied, (std::vector<std::string>{"meeting_scheduled", "meeting_held", "report_sent",
                                               "review_decided"}));
  EXPECT_EQ(Instance().data_quality_size(), 4);
  for (const char* name :
       {"annual_review", "review_report", "review_decision", "amendment_proposal"}) {
    EXPECT_EQ(Deadline(name).status(), v1::DEADLINE_STATUS_MET) << name;
    EXPECT_EQ(MetOn(name), "2025-10-20") << name;
  }
  EXPECT_EQ(Due("amended_plan"), "2025-12-15");
  // The proposal itself was reported: its 15 days to comment (reg 22(2)(c)) still bind.
  Issue("i1", "2025-10-27");
  EXPECT_EQ(LastRejectionRule(), "amended_plan.comment_period");
  EXPECT_EQ(LastRejection().field(), "amended_plan_issued.issued_on");
  Issue("i2", "2025-11-04");
  EXPECT_EQ(Instance().state(), "amended");
}

TEST_F(Review, StepsArrivingAfterLaterDatedStepsAreDecidedInDateOrder) {
  // Issue 12: each step arrives after one dated later than it. The case is re-decided in
  // business-date order each time, and a step is never implied on a date before the
  // date a partner reported for it (decision 83): such a step is refused, naming its
  // date, and the reported step stands.
  Start("2024-11-20", "2014-05-02");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  // A report dated 14 October, before the meeting reported for the 15th.
  Report("r1", "2025-10-14", "2025-10-16");
  EXPECT_EQ(LastRejectionRule(), "date.before_reported_step");
  EXPECT_EQ(LastRejection().field(), "annual_review_report_sent.sent_on");
  EXPECT_EQ(Instance().state(), "meeting_held");
  EXPECT_TRUE(SameAsInDateOrder());

  // The decision of 21 October arrives after the report of 22 October: a decision
  // follows its report (reg 20(10)), so the decision is refused and the report stands.
  Report("r2", "2025-10-22");
  Decide("d1", "2025-10-21", v1::REVIEW_DECISION_AMEND, false, "2025-10-23");
  ASSERT_NE(RefusalOf("d1"), nullptr);
  EXPECT_EQ(RefusalOf("d1")->rule(), "date.before_reported_step");
  EXPECT_EQ(RefusalOf("d1")->field(), "annual_review_decided.decided_on");
  EXPECT_EQ(RefusalOf("r2"), nullptr);
  EXPECT_EQ(Instance().state(), "report_sent");
  EXPECT_EQ(MetOn("review_report"), "2025-10-22");
  EXPECT_TRUE(SameAsInDateOrder());

  // The decision sent again with its right date, in order.
  Decide("d2", "2025-10-24", v1::REVIEW_DECISION_AMEND);
  EXPECT_EQ(RefusalOf("d2"), nullptr);
  EXPECT_EQ(Instance().state(), "amending");
  // A proposal dated 23 October, before the decision it follows: refused.
  Run(Command("p1", "2025-10-24", [](v1::Envelope& e) {
    e.mutable_plan_amendment_proposed()->set_review_id(kReview);
    *e.mutable_plan_amendment_proposed()->mutable_proposed_on() = Day("2025-10-23");
  }));
  ASSERT_NE(RefusalOf("p1"), nullptr);
  EXPECT_EQ(RefusalOf("p1")->rule(), "date.before_reported_step");
  Propose("p2", "2025-10-24");
  EXPECT_EQ(RefusalOf("p2"), nullptr);
  EXPECT_EQ(Instance().state(), "amendment_proposed");
  // Comments dated the day of the proposal they answer, arriving three days later.
  Run(Command("c1", "2025-10-27", [](v1::Envelope& e) {
    e.mutable_plan_amendment_comments_received()->set_review_id(kReview);
    *e.mutable_plan_amendment_comments_received()->mutable_received_on() = Day("2025-10-24");
  }));
  EXPECT_EQ(RefusalOf("c1"), nullptr);
  EXPECT_TRUE(SameAsInDateOrder());
}

// ---- The decision: maintain, amend or cease -----------------------------------------------

TEST_F(Review, MaintainingThePlanEndsTheReview) {
  ReviewedOn15October();
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_MAINTAIN);
  EXPECT_EQ(Instance().state(), "maintained");
  EXPECT_TRUE(HasFact(Instance(), "decision", "maintain"));
  EXPECT_EQ(Deadline("review_decision").status(), v1::DEADLINE_STATUS_MET);
  Propose("p", "2025-11-06");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Review, CeasingWithoutAppealRightsIsRejected) {
  // s51(2)(f), reg 31(2): a decision to cease carries the right to appeal.
  ReviewedOn15October();
  Decide("d1", "2025-11-05", v1::REVIEW_DECISION_CEASE, /*appeal_rights=*/false);
  EXPECT_EQ(LastRejectionRule(), "appeal_rights.required");
  EXPECT_EQ(LastRejection().field(), "annual_review_decided.appeal_rights_given");
  EXPECT_EQ(Instance().state(), "report_sent");
  Decide("d2", "2025-11-05", v1::REVIEW_DECISION_CEASE, /*appeal_rights=*/true);
  EXPECT_EQ(Instance().state(), "ceased");
}

TEST_F(Review, CeasingCancelsThePhaseTransferDeadline) {
  Start("2024-11-20", "2014-05-02");
  Transfer("t", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  Report("r", "2025-10-22");
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_CEASE, /*appeal_rights=*/true);
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_CANCELLED);
  sim.AdvanceTo(*ParseDate("2026-12-31"));
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_CANCELLED)
      << "a cancelled deadline's timers never fire";
}

TEST_F(Review, ADecisionIsRequired) {
  ReviewedOn15October();
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "annual_review_decided.decision");
}

// ---- reg 22: amending the plan -------------------------------------------------------------

TEST_F(Review, ProposedAmendmentsAreDueWithTheDecisionWithinFourWeeks) {
  // Devon [2022] EWHC 493 (Admin): the decision to amend carries the proposed amendments.
  ReviewedOn15October();
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_AMEND);
  EXPECT_EQ(Instance().state(), "amending");
  EXPECT_EQ(Due("amendment_proposal"), "2025-11-12");
  Propose("p", "2025-11-05");
  EXPECT_EQ(Deadline("amendment_proposal").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Review, ALateDecisionToAmendMustCarryItsProposalThatDay) {
  // A decision already late (after 12 November): the proposal is due the same day.
  ReviewedOn15October();
  Decide("d", "2025-11-19", v1::REVIEW_DECISION_AMEND);
  EXPECT_EQ(Due("amendment_proposal"), "2025-11-19");
  Propose("p", "2025-11-20");
  EXPECT_EQ(Deadline("amendment_proposal").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("amendment_proposal"), "2025-11-20");
}

TEST_F(Review, TheAmendedPlanIsDueEightWeeksFromTheProposal) {
  // reg 22(3): within 8 weeks of sending the proposed amendments, over Christmas.
  ReviewedOn15October();
  Decide("d", "2025-11-10", v1::REVIEW_DECISION_AMEND);
  Propose("p", "2025-11-10");
  EXPECT_EQ(Instance().state(), "amendment_proposed");
  EXPECT_EQ(Due("amended_plan"), "2026-01-05");
  EXPECT_EQ(Deadline("amended_plan").rule(), "SEND Regulations 2014 reg 22(3)");
  Issue("i", "2026-01-05");
  EXPECT_EQ(Instance().state(), "amended");
  EXPECT_EQ(Deadline("amended_plan").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Review, AnAmendedPlanAfterEightWeeksIsBreached) {
  ReviewedOn15October();
  Decide("d", "2025-11-10", v1::REVIEW_DECISION_AMEND);
  Propose("p", "2025-11-10");
  sim.AdvanceTo(*ParseDate("2025-12-21"));
  EXPECT_FALSE(Deadline("amended_plan").warned());
  sim.AdvanceTo(*ParseDate("2025-12-22"));
  EXPECT_TRUE(Deadline("amended_plan").warned());
  Issue("i", "2026-01-06");
  EXPECT_EQ(Deadline("amended_plan").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("amended_plan"), "2026-01-06");
  EXPECT_EQ(Instance().state(), "amended");
}

TEST_F(Review, TheAmendedPlanWaitsFifteenDaysForTheFamilyUnlessTheyHaveResponded) {
  // reg 22(2)(c): at least 15 days, beginning with the day the proposal was sent.
  ReviewedOn15October();
  Decide("d", "2025-11-10", v1::REVIEW_DECISION_AMEND);
  Propose("p", "2025-11-10");
  Issue("i1", "2025-11-24");
  EXPECT_EQ(LastRejectionRule(), "amended_plan.comment_period");
  EXPECT_EQ(LastRejection().field(), "amended_plan_issued.issued_on");
  EXPECT_NE(LastRejection().reason().find("2025-11-25"), std::string::npos);
  Issue("i2", "2025-11-25");
  EXPECT_EQ(Instance().state(), "amended");
}

TEST_F(Review, FamilyCommentsAllowAnEarlierAmendedPlan) {
  ReviewedOn15October();
  Decide("d", "2025-11-10", v1::REVIEW_DECISION_AMEND);
  Propose("p", "2025-11-10");
  Comments("c", "2025-11-12");
  EXPECT_EQ(FactValue(Instance(), "comments_received_on"), "2025-11-12");
  Issue("i", "2025-11-13");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "amended");
}

// ---- reg 18: phase transfer ---------------------------------------------------------------

TEST_F(Review, SchoolTransfersAreDue15FebruaryOfTheYearOfTheMove) {
  // reg 18(1)(b): primary to secondary, moving on 1 September 2026.
  Start("2024-11-20", "2015-01-10");
  Transfer("t", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  EXPECT_EQ(Instance().state(), "review_due") << "recording a transfer keeps the state";
  EXPECT_EQ(Due("phase_transfer"), "2026-02-15");
  EXPECT_EQ(Deadline("phase_transfer").rule(), "SEND Regulations 2014 reg 18(1)(b)");
  EXPECT_TRUE(HasFact(Instance(), "transfer", "school"));
  EXPECT_TRUE(HasFact(Instance(), "moves_on", "2026-09-01"));
}

TEST_F(Review, SecondaryToPost16TransfersAreDue31March) {
  // reg 18(1)(a).
  Start("2024-11-20", "2010-03-12");
  Transfer("t", "2025-10-01", v1::PHASE_TRANSFER_SECONDARY_TO_POST16, "2026-09-01");
  EXPECT_EQ(Due("phase_transfer"), "2026-03-31");
  EXPECT_EQ(Deadline("phase_transfer").rule(), "SEND Regulations 2014 reg 18(1)(a)");
}

TEST_F(Review, Post16MovesAreDueFiveMonthsBefore1September) {
  // reg 18(2): at least five months before the move.
  Start("2025-03-20", "2007-06-01");
  Transfer("t", "2025-10-01", v1::PHASE_TRANSFER_POST16_TO_POST16, "2026-09-01");
  EXPECT_EQ(Due("phase_transfer"), "2026-04-01");
  EXPECT_EQ(Deadline("phase_transfer").rule(), "SEND Regulations 2014 reg 18(2)");
}

TEST_F(Review, Post16MovesAreDueFiveMonthsBefore31October) {
  // reg 18(2): 31 October - 5 months = 31 May.
  Start("2025-03-20", "2007-06-01");
  Transfer("t", "2025-11-15", v1::PHASE_TRANSFER_POST16_TO_POST16, "2026-10-31");
  EXPECT_EQ(Due("phase_transfer"), "2026-05-31");
}

TEST_F(Review, APhaseTransferIsMetByMaintainingThePlanInTime) {
  // reg 18: "review and amend, where necessary": a plan kept as it is meets it.
  Start("2024-11-20", "2014-05-02");
  Transfer("t", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  Schedule("s", "2025-10-01", "2025-10-15");
  Held("h", "2025-10-15");
  Report("r", "2025-10-22");
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_MAINTAIN);
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("phase_transfer"), "2025-11-05");
}

TEST_F(Review, AnAmendedPlanAfterTheTransferDeadlineIsABreach) {
  // reg 18(1)(b): the amended plan naming the school came on 20 February 2026.
  Start("2025-01-20", "2014-05-02");
  Transfer("t", "2025-12-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  Schedule("s", "2025-12-01", "2025-12-15");
  Held("h", "2025-12-15");
  Report("r", "2025-12-22");
  Decide("d", "2026-01-09", v1::REVIEW_DECISION_AMEND);
  Propose("p", "2026-01-09");
  Issue("i", "2026-02-20");
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("phase_transfer"), "2026-02-20");
  EXPECT_EQ(Deadline("amended_plan").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Review, ATransferRecordedAfterItsDeadlineIsSetAndBreachedNotRefused) {
  // reg 18(1)(b): recorded on 1 March for a September move; 15 February has passed.
  Start("2025-05-01", "2014-05-02");
  Transfer("t", "2026-03-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Due("phase_transfer"), "2026-02-15");
  sim.AdvanceTo(*ParseDate("2026-03-01"));
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_BREACHED);
}

TEST_F(Review, AMoveDateNotAfterTodayIsRejected) {
  Start("2024-11-20", "2014-05-02");
  Transfer("t1", "2025-09-01", v1::PHASE_TRANSFER_SCHOOL, "2025-09-01");
  EXPECT_EQ(LastRejectionRule(), "phase_transfer.move_date_passed");
  EXPECT_EQ(LastRejection().field(), "phase_transfer_due.moves_on");
  Transfer("t2", "2025-09-01", v1::PHASE_TRANSFER_SCHOOL, "2025-09-02");
  EXPECT_EQ(Rejections(), 1u);
}

TEST_F(Review, AMoveMoreThanTwelveMonthsAwayIsRejected) {
  // reg 18(1): the duty applies within 12 months of the transfer.
  Start("2024-11-20", "2014-05-02");
  Transfer("t1", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-10-02");
  EXPECT_EQ(LastRejectionRule(), "phase_transfer.not_within_12_months");
  Transfer("t2", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-10-01");
  EXPECT_EQ(Rejections(), 1u);
}

TEST_F(Review, TheSameTransferTwiceIsRejectedAChangedOneReplacesTheDeadlineOpenly) {
  // A college course moved from September to January: 1 April becomes 5 August.
  Start("2025-03-20", "2007-06-01");
  Transfer("t1", "2025-10-01", v1::PHASE_TRANSFER_POST16_TO_POST16, "2026-09-01");
  Transfer("t2", "2025-10-02", v1::PHASE_TRANSFER_POST16_TO_POST16, "2026-09-01");
  EXPECT_EQ(LastRejectionRule(), "phase_transfer.already_recorded");
  Transfer("t3", "2026-03-10", v1::PHASE_TRANSFER_POST16_TO_POST16, "2027-01-05");
  EXPECT_EQ(Rejections(), 1u);
  EXPECT_EQ(Due("phase_transfer"), "2026-08-05");
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_PENDING);
  int superseded = 0;
  for (const auto& d : Instance().deadlines()) {
    if (d.name() != "phase_transfer" || d.status() != v1::DEADLINE_STATUS_SUPERSEDED) continue;
    ++superseded;
    EXPECT_EQ(Date(d.due()), "2026-04-01");
    EXPECT_EQ(d.superseded_by(), "phase_transfer");
    EXPECT_EQ(Date(d.superseded_by_due()), "2026-08-05");
  }
  EXPECT_EQ(superseded, 1) << "the 1 April deadline is superseded, naming its replacement";
  sim.AdvanceTo(*ParseDate("2026-04-30"));
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_PENDING)
      << "the old deadline's timers do not fire";
}

TEST_F(Review, AChangedMoveWithTheSameDeadlineKeepsTheDeadline) {
  // reg 18(1)(b): 1 or 3 September, both due 15 February.
  Start("2024-11-20", "2014-05-02");
  Transfer("t1", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  Transfer("t2", "2025-10-02", v1::PHASE_TRANSFER_SCHOOL, "2026-09-03");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().deadlines_size(), 2) << "annual_review and one phase_transfer";
  EXPECT_EQ(FactValue(Instance(), "moves_on"), "2026-09-03");
}

TEST_F(Review, ATransferCanBeRecordedAtAnyStageUntilTheReviewEnds) {
  ReviewedOn15October();
  Decide("d", "2025-11-05", v1::REVIEW_DECISION_AMEND);
  Transfer("t1", "2025-11-06", v1::PHASE_TRANSFER_SCHOOL, "2026-09-01");
  EXPECT_EQ(Instance().state(), "amending");
  Propose("p", "2025-11-06");
  Issue("i", "2025-11-21");
  EXPECT_EQ(Deadline("phase_transfer").status(), v1::DEADLINE_STATUS_MET);
  Transfer("t2", "2025-11-22", v1::PHASE_TRANSFER_SCHOOL, "2026-09-02");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Review, EveryRequiredFieldAndRealDate) {
  Start("2024-11-20", "2014-05-02");
  Transfer("t1", "2025-10-01", v1::PHASE_TRANSFER_UNSPECIFIED, "2026-09-01");
  EXPECT_EQ(LastRejection().field(), "phase_transfer_due.transfer");
  Transfer("t2", "2025-10-01", v1::PHASE_TRANSFER_SCHOOL, "");
  EXPECT_EQ(LastRejection().field(), "phase_transfer_due.moves_on");
  EXPECT_EQ(LastRejectionRule(), "required");
  Run(Command("t3", "2025-10-01", [](v1::Envelope& e) {
    auto* c = e.mutable_phase_transfer_due();
    c->set_review_id(kReview);
    c->set_transfer(v1::PHASE_TRANSFER_SCHOOL);
    *c->mutable_recorded_on() = Day("2025-10-01");
    c->mutable_moves_on()->set_year(2026);
    c->mutable_moves_on()->set_month(2);
    c->mutable_moves_on()->set_day(29);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  Run(Command("s1", "2025-10-01", [](v1::Envelope& e) {
    auto* c = e.mutable_annual_review_meeting_scheduled();
    c->set_review_id(kReview);
    *c->mutable_notice_sent_on() = Day("2025-10-01");
  }));
  EXPECT_EQ(LastRejection().field(), "annual_review_meeting_scheduled.meeting_on");
  EXPECT_EQ(LastRejectionRule(), "required");
  Run(Command("s2", "2025-10-01", [](v1::Envelope& e) {
    auto* c = e.mutable_annual_review_meeting_scheduled();
    c->set_review_id(kReview);
    *c->mutable_notice_sent_on() = Day("2025-10-01");
    c->mutable_meeting_on()->set_year(2025);
    c->mutable_meeting_on()->set_month(11);
    c->mutable_meeting_on()->set_day(31);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  Run(Command("due2", "2025-10-01", [](v1::Envelope& e) {
    auto* c = e.mutable_annual_review_due();
    c->set_review_id("AR-OTHER");
    *c->mutable_plan_or_last_review_on() = Day("2025-01-10");
    c->mutable_date_of_birth()->set_year(2014);
    c->mutable_date_of_birth()->set_month(2);
    c->mutable_date_of_birth()->set_day(30);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "annual_review_due.date_of_birth");
  EXPECT_EQ(Rejections(), 6u);
}

TEST_F(Review, GenericRejections) {
  Start("2024-11-20", "2014-05-02");
  Start("2024-11-20", "2014-05-02", "2024-11-21");
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate");
  Run(Command("u", "2025-10-01", [](v1::Envelope& e) {
    *e.mutable_annual_review_meeting_scheduled()->mutable_notice_sent_on() = Day("2025-10-01");
    auto* c = e.mutable_annual_review_meeting_scheduled();
    c->set_review_id("AR-UNKNOWN");
    *c->mutable_meeting_on() = Day("2025-10-20");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  // Dated before the review cycle started: in business-date order there was no review
  // with this reference yet.
  Run(Command("b", "2025-10-02", [](v1::Envelope& e) {
    auto* c = e.mutable_annual_review_meeting_scheduled();
    c->set_review_id(kReview);
    *c->mutable_notice_sent_on() = Day("2024-11-19");
    *c->mutable_meeting_on() = Day("2024-12-10");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "annual_review_meeting_scheduled.review_id");
  EXPECT_NE(LastRejection().reason().find("review of an EHC plan"), std::string::npos);
  ASSERT_NE(CorrectionBy("b"), nullptr);
  EXPECT_EQ(Instance().state(), "review_due");
  EXPECT_TRUE(SameAsInDateOrder());
}

// ---- A whole history ----------------------------------------------------------------------

class AnnualReviewHistory : public Review {};

TEST_F(AnnualReviewHistory, Year11PupilMovingToCollegeOn1September2026) {
  // A Year 11 pupil (last reviewed 20 November 2024) moving to college on 1 September
  // 2026: reg 18(1)(a) wants the plan reviewed and amended by 31 March 2026. The school
  // first records the meeting without preparing-for-adulthood (rejected, reg 20(6)), sends
  // the report a day late (reg 20(7)); the council decides to amend with its proposal on
  // 5 November, the family ask for the college on 14 November, and the amended plan naming
  // it is issued on 15 December 2025.
  auto history = ReadHistory("annual_review.jsonl");
  ASSERT_EQ(history.size(), 10u);
  for (const auto& e : history) Run(e);
  sim.AdvanceTo(*ParseDate("2026-09-01"));

  const auto& child = Child();
  const store::PathwayInstance* review = nullptr;
  for (const auto& p : child.state.pathways()) {
    if (p.pathway() == v1::PATHWAY_KIND_ANNUAL_REVIEW) review = &p;
  }
  ASSERT_NE(review, nullptr);
  EXPECT_EQ(review->state(), "amended");
  EXPECT_EQ(review->reference(), "AR-2025-0117");
  EXPECT_EQ(FormatDate(*ToCivil(review->started_on())), "2024-11-20");
  EXPECT_TRUE(HasFact(*review, "preparing_for_adulthood", "discussed"));
  EXPECT_TRUE(HasFact(*review, "transfer", "secondary_to_post16"));
  EXPECT_TRUE(HasFact(*review, "decision", "amend"));
  struct Expected {
    const char* name;
    const char* due;
    v1::DeadlineStatus status;
    const char* met_on;
  };
  const Expected expected[] = {
      {"annual_review", "2025-11-20", v1::DEADLINE_STATUS_MET, "2025-10-09"},
      {"phase_transfer", "2026-03-31", v1::DEADLINE_STATUS_MET, "2025-12-15"},
      {"review_report", "2025-10-23", v1::DEADLINE_STATUS_BREACHED, "2025-10-24"},
      {"review_decision", "2025-11-06", v1::DEADLINE_STATUS_MET, "2025-11-05"},
      {"amendment_proposal", "2025-11-06", v1::DEADLINE_STATUS_MET, "2025-11-05"},
      {"amended_plan", "2025-12-31", v1::DEADLINE_STATUS_MET, "2025-12-15"},
  };
  ASSERT_EQ(review->deadlines_size(), 6);
  for (const auto& x : expected) {
    const store::Deadline* d = FindDeadline(*review, x.name);
    ASSERT_NE(d, nullptr) << x.name;
    EXPECT_EQ(FormatDate(*ToCivil(d->due())), x.due) << x.name;
    EXPECT_EQ(d->status(), x.status) << x.name;
    EXPECT_EQ(FormatDate(*ToCivil(d->met_on())), x.met_on) << x.name;
  }
  ASSERT_EQ(child.rejections.size(), 1u);
  EXPECT_EQ(child.rejections[0].command_rejected().rule(), "review.preparing_for_adulthood");

  std::vector<std::string> warned;
  for (const auto& e : child.events) {
    if (e.has_deadline_warning()) warned.push_back(e.deadline_warning().name());
  }
  // review_report (10 October, the day after it was set) and review_decision (23
  // October); the others were met before their warning dates.
  EXPECT_EQ(warned, (std::vector<std::string>{"review_report", "review_decision"}));
}

}  // namespace
}  // namespace pathway::workflow
