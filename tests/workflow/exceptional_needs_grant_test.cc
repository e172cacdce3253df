// Exceptional Needs Grant (the borough's local scheme: decided at cluster forums for 1 or
// 2 years, at the EHC plan threshold, no statutory clock): one test per rule, with real
// dates, through the Simulator (the engine's decide/apply/timers).
#include <gtest/gtest.h>

#include "tests/common/commands.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/clock.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::SubjectKey;

constexpr const char* kApplication = "ENG-2025-0107";

class Eng : public pathway::testing::PathwayFixture {
 protected:
  Eng()
      : PathwayFixture(v1::PATHWAY_KIND_EXCEPTIONAL_NEEDS_GRANT,
                       "no Exceptional Needs Grant instance") {}

  void Apply(const std::string& id, const std::string& date,
             const std::string& cluster = "North cluster") {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_eng_applied();
      c->set_application_id(kApplication);
      *c->mutable_applied_on() = Day(date);
      c->set_cluster(cluster);
    }));
  }
  void Fund(const std::string& id, const std::string& date, int years,
            const std::string& from = "") {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_eng_decided();
      c->set_application_id(kApplication);
      c->set_decision(v1::GRANT_DECISION_FUNDED);
      *c->mutable_decided_on() = Day(date);
      c->set_years(years);
      if (!from.empty()) *c->mutable_funded_from() = Day(from);
    }));
  }
  void Decline(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_eng_decided();
      c->set_application_id(kApplication);
      c->set_decision(v1::GRANT_DECISION_DECLINED);
      *c->mutable_decided_on() = Day(date);
    }));
  }
  void Review(const std::string& id, const std::string& date, v1::GrantReviewOutcome outcome,
              int years = 0) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_eng_reviewed();
      c->set_application_id(kApplication);
      c->set_outcome(outcome);
      *c->mutable_reviewed_on() = Day(date);
      c->set_years(years);
    }));
  }

  // The latest grant_review (a renewal sets a new one beside the old).
  const store::Deadline& GrantReview() {
    const store::Deadline* d = FindDeadline(Instance(), "grant_review");
    if (!d) throw std::runtime_error("no grant_review");
    return *d;
  }
  std::string Due() { return Date(GrantReview().due()); }
};

TEST_F(Eng, AnApplicationAsksTheSettingForItsCostedProvisionOnce) {
  // Tell it once: the forum decides on the setting's costed provision, asked of the
  // setting (not the family) when the application arrives; a second application within
  // the year joins that request instead of asking again.
  Apply("a1", "2025-01-15");
  ASSERT_EQ(Child().state.information_requests_size(), 1);
  const auto& asked = Child().state.information_requests(0);
  EXPECT_EQ(asked.fact(), "costed_provision");
  EXPECT_EQ(asked.asked(), v1::RESPONDENT_CURRENT_SETTING);
  Run(Command("a2", "2025-03-03", [&](v1::Envelope& e) {
    auto* c = e.mutable_eng_applied();
    c->set_application_id("ENG-2025-0200");
    *c->mutable_applied_on() = Day("2025-03-03");
    c->set_cluster("North cluster");
  }));
  EXPECT_EQ(Child().state.information_requests_size(), 1);
  EXPECT_EQ(Child().state.open_needs_size(), 2) << "both applications wait for the answer";
}

TEST_F(Eng, AnApplicationNamesTheClusterForumThatDecidesIt) {
  Apply("a0", "2025-06-02", "");
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "eng_applied.cluster");
  EXPECT_EQ(Find(), nullptr);
  Apply("a1", "2025-06-02");
  EXPECT_EQ(Instance().state(), "applied");
  EXPECT_EQ(Fact("cluster"), "North cluster");
  EXPECT_EQ(Instance().deadlines_size(), 0) << "a local scheme: no statutory decision clock";
}

TEST_F(Eng, AOneYearGrantIsReviewedByItsLastFundedDay) {
  // Funded from 1 September 2025 for a year: funded to 31 August 2026, the review due then.
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  EXPECT_EQ(Instance().state(), "funded");
  EXPECT_EQ(Fact("decision"), "funded");
  EXPECT_EQ(Fact("years"), "1");
  EXPECT_EQ(Fact("funded_from"), "2025-09-01");
  EXPECT_EQ(Fact("funded_to"), "2026-08-31");
  EXPECT_EQ(Due(), "2026-08-31");
  EXPECT_FALSE(GrantReview().exceptable());
  EXPECT_NE(GrantReview().rule().find("local"), std::string::npos);
}

TEST_F(Eng, FundingRunsFromTheDecisionWhenTheForumNamesNoStart) {
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 2);
  EXPECT_EQ(Fact("funded_from"), "2025-06-20");
  EXPECT_EQ(Due(), "2027-06-19");
}

struct Period {
  const char* applied;
  const char* decided;
  const char* from;
  int years;
  const char* funded_to;
  const char* why;
};

TEST(EngLeapDays, GrantsEndTheDayBeforeTheirAnniversaryAcrossLeapDays) {
  const Period cases[] = {
      {"2023-02-06", "2023-02-27", "2023-03-01", 1, "2024-02-29",
       "from 1 March 2023: a year ends on the leap day"},
      {"2024-02-05", "2024-02-29", "", 1, "2025-02-28",
       "from 29 February 2024: the anniversary is 1 March 2025"},
      {"2024-02-05", "2024-02-29", "", 2, "2026-02-28", "two years from the leap day"},
      {"2024-02-05", "2024-02-26", "2024-02-28", 1, "2025-02-27", "from 28 February 2024"},
      {"2023-06-05", "2023-06-23", "2023-09-01", 2, "2025-08-31",
       "two school years spanning 29 February 2024"},
      {"2023-11-06", "2023-11-24", "2023-12-01", 1, "2024-11-30", "a year over the leap day"},
  };
  for (const auto& c : cases) {
    Simulator sim(SubjectKey);
    auto run = [&](const v1::Envelope& e) {
      sim.Process(e, TimePoint(std::chrono::seconds(e.occurred_at().seconds())));
    };
    run(Command("a", c.applied, [&](v1::Envelope& e) {
      e.mutable_eng_applied()->set_application_id(kApplication);
      *e.mutable_eng_applied()->mutable_applied_on() = Day(c.applied);
      e.mutable_eng_applied()->set_cluster("South cluster");
    }));
    run(Command("d", c.decided, [&](v1::Envelope& e) {
      auto* d = e.mutable_eng_decided();
      d->set_application_id(kApplication);
      d->set_decision(v1::GRANT_DECISION_FUNDED);
      *d->mutable_decided_on() = Day(c.decided);
      d->set_years(c.years);
      if (*c.from) *d->mutable_funded_from() = Day(c.from);
    }));
    const auto& child = sim.subjects().at(SubjectKey(pathway::testing::kValidNhsNumber));
    ASSERT_TRUE(child.rejections.empty()) << c.why;
    const auto& grant = child.state.pathways(0);
    EXPECT_EQ(FactValue(grant, "funded_to"), c.funded_to) << c.why;
    EXPECT_EQ(FormatDate(*ToCivil(FindDeadline(grant, "grant_review")->due())), c.funded_to)
        << c.why;
  }
}

TEST_F(Eng, AGrantIsForOneOrTwoYears) {
  // The scheme funds for 1 or 2 years.
  Apply("a", "2025-06-02");
  for (int years : {0, 3, -1}) {
    Fund(std::string("d").append(std::to_string(years)), "2025-06-20", years);
    EXPECT_EQ(LastRejectionRule(), "grant.years") << years;
    EXPECT_EQ(LastRejection().field(), "eng_decided.years");
  }
  EXPECT_EQ(Instance().state(), "applied");
}

TEST_F(Eng, ADecisionMustSayFundedOrDeclined) {
  Apply("a", "2025-06-02");
  Run(Command("d", "2025-06-20", [](v1::Envelope& e) {
    *e.mutable_eng_decided()->mutable_decided_on() = Day("2025-06-20");
    e.mutable_eng_decided()->set_application_id(kApplication);
    e.mutable_eng_decided()->set_years(1);
  }));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "eng_decided.decision");
}

TEST_F(Eng, FundingCannotStartBeforeTheApplication) {
  Apply("a", "2025-06-02");
  Fund("d1", "2025-06-20", 1, "2025-06-01");
  EXPECT_EQ(LastRejectionRule(), "grant.funded_before_application");
  EXPECT_EQ(LastRejection().field(), "eng_decided.funded_from");
  Fund("d2", "2025-06-20", 1, "2025-06-02");  // backdated to the application: allowed
  EXPECT_EQ(Due(), "2026-06-01");
}

TEST_F(Eng, FundedFromMustBeARealDate) {
  Apply("a", "2025-06-02");
  Run(Command("d", "2025-06-20", [](v1::Envelope& e) {
    *e.mutable_eng_decided()->mutable_decided_on() = Day("2025-06-20");
    auto* c = e.mutable_eng_decided();
    c->set_application_id(kApplication);
    c->set_decision(v1::GRANT_DECISION_FUNDED);
    c->set_years(1);
    c->mutable_funded_from()->set_year(2025);
    c->mutable_funded_from()->set_month(9);
    c->mutable_funded_from()->set_day(31);
  }));
  EXPECT_EQ(LastRejectionRule(), "date.calendar");
  EXPECT_EQ(LastRejection().field(), "eng_decided.funded_from");
}

TEST_F(Eng, ADeclinedApplicationEnds) {
  Apply("a", "2025-06-02");
  Decline("d", "2025-06-20");
  EXPECT_EQ(Instance().state(), "declined");
  EXPECT_EQ(Fact("decision"), "declined");
  EXPECT_EQ(Instance().deadlines_size(), 0);
  Review("r", "2025-07-01", v1::GRANT_REVIEW_OUTCOME_RENEWED, 1);
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Eng, RenewalRunsOnFromTheOldExpiryNotFromTheReview) {
  // Reviewed early, on 14 July 2026, and renewed for 2 years: the new period starts the
  // day after the old one ends (1 September 2026), so there is no gap and no overlap.
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  Review("r", "2026-07-14", v1::GRANT_REVIEW_OUTCOME_RENEWED, 2);
  EXPECT_EQ(Instance().state(), "funded");
  EXPECT_EQ(Fact("review_outcome"), "renewed");
  EXPECT_EQ(Fact("funded_from"), "2026-09-01");
  EXPECT_EQ(Fact("funded_to"), "2028-08-31");
  ASSERT_EQ(Instance().deadlines_size(), 2);
  const auto& first = Instance().deadlines(0);
  EXPECT_EQ(first.status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(FormatDate(*ToCivil(first.due())), "2026-08-31");
  EXPECT_EQ(FormatDate(*ToCivil(first.met_on())), "2026-07-14");
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_EQ(Due(), "2028-08-31");
  // The first period's timers are gone; the second's fire in 2028.
  sim.AdvanceTo(*ParseDate("2028-08-16"));
  EXPECT_FALSE(GrantReview().warned());
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2028-08-17"));
  EXPECT_TRUE(GrantReview().warned());
}

TEST_F(Eng, RenewalsChainAcrossLeapDays) {
  Apply("a", "2023-02-06");
  Fund("d", "2023-02-27", 1, "2023-03-01");
  EXPECT_EQ(Due(), "2024-02-29");
  Review("r1", "2024-02-12", v1::GRANT_REVIEW_OUTCOME_RENEWED, 1);
  EXPECT_EQ(Fact("funded_from"), "2024-03-01");
  EXPECT_EQ(Due(), "2025-02-28");
  Review("r2", "2025-02-10", v1::GRANT_REVIEW_OUTCOME_RENEWED, 2);
  EXPECT_EQ(Fact("funded_from"), "2025-03-01");
  EXPECT_EQ(Due(), "2027-02-28");
}

TEST_F(Eng, ARenewalIsForOneOrTwoYears) {
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  Review("r", "2026-07-14", v1::GRANT_REVIEW_OUTCOME_RENEWED, 3);
  EXPECT_EQ(LastRejectionRule(), "grant.years");
  EXPECT_EQ(LastRejection().field(), "eng_reviewed.years");
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_PENDING)
      << "a rejected review meets nothing";
}

TEST_F(Eng, AMissedReviewIsBreachedAndALateRenewalStillRunsFromTheOldExpiry) {
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  sim.AdvanceTo(*ParseDate("2026-08-16"));
  EXPECT_FALSE(GrantReview().warned());
  sim.AdvanceTo(*ParseDate("2026-08-17"));  // 14 days before 31 August
  EXPECT_TRUE(GrantReview().warned());
  sim.AdvanceTo(*ParseDate("2026-08-31"));
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2026-09-01"));
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_BREACHED);
  Review("r", "2026-09-21", v1::GRANT_REVIEW_OUTCOME_RENEWED, 1);
  const auto& first = Instance().deadlines(0);
  EXPECT_EQ(first.status(), v1::DEADLINE_STATUS_BREACHED) << "reporting still sees the breach";
  EXPECT_EQ(FormatDate(*ToCivil(first.met_on())), "2026-09-21");
  EXPECT_EQ(Fact("funded_from"), "2026-09-01");
  EXPECT_EQ(Due(), "2027-08-31");
}

TEST_F(Eng, AReviewMayEndTheGrant) {
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 2, "2025-09-01");
  Review("r", "2027-06-28", v1::GRANT_REVIEW_OUTCOME_ENDED);
  EXPECT_EQ(Instance().state(), "ended");
  EXPECT_EQ(Fact("review_outcome"), "ended");
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_MET);
  Review("r2", "2027-06-29", v1::GRANT_REVIEW_OUTCOME_RENEWED, 1);
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Eng, AReviewMayEndTheGrantForAnEhcNeedsAssessmentRequest) {
  // Children and Families Act 2014 s36: the request is a separate pathway; this one only
  // records that it should follow.
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  Review("r", "2026-03-09", v1::GRANT_REVIEW_OUTCOME_EHC_ASSESSMENT_REQUESTED);
  EXPECT_EQ(Instance().state(), "ended_for_ehc_assessment");
  EXPECT_EQ(Fact("ehc_request_to_follow"), "true");
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Child().state.pathways_size(), 1) << "no EHC needs assessment is opened from here";
  sim.AdvanceTo(*ParseDate("2026-12-31"));
  EXPECT_EQ(GrantReview().status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Eng, AReviewMustSayWhatItDecided) {
  Apply("a", "2025-06-02");
  Fund("d", "2025-06-20", 1, "2025-09-01");
  Review("r", "2026-07-14", v1::GRANT_REVIEW_OUTCOME_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejection().field(), "eng_reviewed.outcome");
}

TEST_F(Eng, AReviewWithNoDecisionRecordedImpliesTheGrantWasFunded) {
  // Only a funded grant is reviewed: the forum's decision is implied on the review's date.
  // Its period is unknown, so no review deadline was set, and none is reported missed.
  Apply("a", "2025-06-02");
  Review("r", "2026-06-10", v1::GRANT_REVIEW_OUTCOME_ENDED);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "ended");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "decided");
  EXPECT_EQ(Instance().data_quality(0).missing(), "eng_decided");
  EXPECT_TRUE(HasFact(Instance(), "decision", "funded"));
  EXPECT_EQ(Instance().deadlines_size(), 0);
}

TEST_F(Eng, AReviewOfADeclinedGrantIsImpossible) {
  Apply("a", "2025-06-02");
  Run(Command("d", "2025-06-20", [](v1::Envelope& e) {
    auto* c = e.mutable_eng_decided();
    c->set_application_id(kApplication);
    c->set_decision(v1::GRANT_DECISION_DECLINED);
    *c->mutable_decided_on() = Day("2025-06-20");
  }));
  Review("r", "2026-06-10", v1::GRANT_REVIEW_OUTCOME_ENDED);
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Eng, StepsOutOfOrderAndOtherGenericRejections) {
  Apply("a", "2025-06-02");
  Apply("a2", "2025-06-03");
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate");
  // Dated before the application: in business-date order there was no application with
  // this reference yet.
  Fund("d1", "2025-06-01", 1);
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejection().field(), "eng_decided.application_id");
  ASSERT_NE(CorrectionBy("d1"), nullptr);
  EXPECT_TRUE(SameAsInDateOrder());
  Run(Command("u", "2025-06-20", [](v1::Envelope& e) {
    *e.mutable_eng_decided()->mutable_decided_on() = Day("2025-06-20");
    e.mutable_eng_decided()->set_application_id("ENG-UNKNOWN");
    e.mutable_eng_decided()->set_decision(v1::GRANT_DECISION_DECLINED);
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  Fund("d2", "2025-06-20", 1);
  Fund("d3", "2025-06-21", 1);
  EXPECT_EQ(LastRejectionRule(), "transition.not_allowed") << "decided once";
  EXPECT_TRUE(SameAsInDateOrder());
}

}  // namespace
}  // namespace pathway::workflow
