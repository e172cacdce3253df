// Disagreement: mediation and the First-tier Tribunal (SEND). One test per rule, with real
// dates, through the Simulator (the engine's decide/apply/timers). Sources: Children and
// Families Act 2014 ss51-55; SEND Regulations 2014 regs 33-34; SEND Code of Practice 2015
// chapter 11; HESC Rules 2008 rules 12 and 20.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/common/commands.h"
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

constexpr const char* kCase = "DIS-2025-0017";

class Disagreement : public pathway::testing::PathwayFixture {
 protected:
  Disagreement() : PathwayFixture(v1::PATHWAY_KIND_DISAGREEMENT, "no disagreement", kCase) {}

  void Open(const std::string& date, v1::DisputedDecision about,
            const std::string& reference = kCase) {
    Run(Command("open-" + reference + "-" + date, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_disagreement_opened();
      c->set_case_id(reference);
      c->set_about(about);
      *c->mutable_decision_letter_on() = Day(date);
    }));
  }
  void Contact(const std::string& id, const std::string& date, bool wants_mediation) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_mediation_advice_contacted();
      c->set_case_id(kCase);
      *c->mutable_contacted_on() = Day(date);
      c->set_wants_mediation(wants_mediation);
    }));
  }
  void Held(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_mediation_held();
      c->set_case_id(kCase);
      *c->mutable_held_on() = Day(date);
    }));
  }
  void Certificate(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_mediation_certificate_issued();
      c->set_case_id(kCase);
      *c->mutable_issued_on() = Day(date);
    }));
  }
  void Lodge(const std::string& id, const std::string& date) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_tribunal_appeal_lodged();
      c->set_case_id(kCase);
      *c->mutable_lodged_on() = Day(date);
    }));
  }
  void Resolve(const std::string& id, const std::string& date, v1::Resolution how) {
    Run(Command(id, date, [&](v1::Envelope& e) {
      auto* c = e.mutable_disagreement_resolved();
      c->set_case_id(kCase);
      c->set_how(how);
      *c->mutable_resolved_on() = Day(date);
    }));
  }

  bool HasDeadline(const std::string& name) { return FindDeadline(Instance(), name) != nullptr; }
  // The case's or the intake's (a required field missing is refused before any case).
  std::string LastRejectionField() { return Rejections() == 0 ? "" : LastRejection().field(); }
  int Breaches(const std::string& name) {
    int n = 0;
    for (const auto& e : Child().events) {
      n += e.has_deadline_breached() && e.deadline_breached().name() == name;
    }
    return n;
  }
};

// ---- Opening: the 2-month clocks -----------------------------------------------------------

TEST_F(Disagreement, TwoMonthsFromThirtyFirstDecemberIsTheLastDayOfFebruary) {
  // reg 33 and HESC rule 20: 2 calendar months from the decision letter; a month without
  // the day ends on its last day (28 February 2025, 29 February 2024, both working days).
  Open("2024-12-31", v1::DISPUTED_DECISION_REFUSAL_TO_ASSESS);
  EXPECT_EQ(Instance().state(), "opened");
  EXPECT_TRUE(HasFact(Instance(), "about", "refusal_to_assess"));
  EXPECT_EQ(Due("mediation_advice"), "2025-02-28");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-02-28");
  EXPECT_EQ(Deadline("mediation_advice").rule(), "SEND Regulations 2014 reg 33");
  EXPECT_EQ(Deadline("tribunal_appeal").rule(), "HESC Rules 2008 rules 20 and 12");

  Open("2023-12-31", v1::DISPUTED_DECISION_REFUSAL_TO_ISSUE, "DIS-2023-0099");
  EXPECT_EQ(Due("mediation_advice", "DIS-2023-0099"), "2024-02-29");
  EXPECT_EQ(Due("tribunal_appeal", "DIS-2023-0099"), "2024-02-29");
}

TEST_F(Disagreement, AppealTimeEndingInAugustRunsToTheFirstWorkingDayOfSeptember) {
  // HESC rule 12(3)(a): 10 June + 2 months = 10 August, so the appeal may be lodged on the
  // first working day after 31 August: Monday 1 September 2025, Tuesday 1 September 2026.
  // The mediation adviser must still be contacted by 10 August (reg 33 has no such rule).
  Open("2025-06-10", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  EXPECT_EQ(Due("mediation_advice"), "2025-08-10");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-09-01");
  Open("2026-06-10", v1::DISPUTED_DECISION_PLAN_CONTENTS, "DIS-2026-0003");
  EXPECT_EQ(Due("tribunal_appeal", "DIS-2026-0003"), "2026-09-01");
}

TEST_F(Disagreement, AppealTimeEndingOverChristmasRunsToTheFirstWorkingDayAfterNewYear) {
  // HESC rule 12(3)(a): time ending from 25 December to 1 January inclusive runs to the first
  // working day after 1 January (Friday 2 January 2026; Monday 4 January 2027).
  Open("2025-10-27", v1::DISPUTED_DECISION_CEASE);
  EXPECT_EQ(Due("mediation_advice"), "2025-12-27");
  EXPECT_EQ(Due("tribunal_appeal"), "2026-01-02");
  Open("2026-10-25", v1::DISPUTED_DECISION_CEASE, "DIS-2026-0025");
  EXPECT_EQ(Due("tribunal_appeal", "DIS-2026-0025"), "2027-01-04");
  Open("2026-11-01", v1::DISPUTED_DECISION_CEASE, "DIS-2026-0101");
  EXPECT_EQ(Due("tribunal_appeal", "DIS-2026-0101"), "2027-01-04");
}

TEST_F(Disagreement, AppealTimeEndingOnAWeekendRunsToTheNextWorkingDay) {
  // HESC rule 12(2): 2 January 2025 + 2 months = Sunday 2 March, so Monday 3 March.
  Open("2025-01-02", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  EXPECT_EQ(Due("mediation_advice"), "2025-03-02");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-03-03");
}

// ---- Mediation advice, mediation, certificate ----------------------------------------------

TEST_F(Disagreement, CertificateWithinThreeWorkingDaysOfDecliningMediationOverEaster) {
  // reg 34: 3 working days from Thursday 17 April 2025, over Good Friday and Easter Monday.
  Open("2025-03-20", v1::DISPUTED_DECISION_REFUSAL_TO_ISSUE);
  Contact("c", "2025-04-17", /*wants_mediation=*/false);
  EXPECT_EQ(Instance().state(), "mediation_declined");
  EXPECT_EQ(Deadline("mediation_advice").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("mediation_advice"), "2025-04-17");
  EXPECT_EQ(Due("certificate"), "2025-04-24");
  EXPECT_EQ(Deadline("certificate").rule(), "SEND Regulations 2014 reg 34");
  EXPECT_FALSE(HasDeadline("mediation"));
  // Until the certificate exists the appeal date is unknown (the later-of rule).
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_CANCELLED);
}

TEST_F(Disagreement, MediationWithinThirtyDaysThenCertificateWithinThreeWorkingDaysOverChristmas) {
  // CFA 2014 s53 and the Code of Practice ch 11: mediation within 30 days of the request;
  // certificate within 3 working days of the mediation (Thursday 24 December 2026, over
  // Christmas Day and the substitute Boxing Day on Monday 28 December: Thursday 31st).
  Open("2026-11-02", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2026-11-30", /*wants_mediation=*/true);
  EXPECT_EQ(Instance().state(), "mediation_requested");
  EXPECT_EQ(Due("mediation"), "2026-12-30");
  EXPECT_FALSE(HasDeadline("certificate"));
  Held("h", "2026-12-24");
  EXPECT_EQ(Instance().state(), "mediation_held");
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Due("certificate"), "2026-12-31");
  // Rule 20 then rule 12(2): 1 month from 31 December 2026 is Sunday 31 January 2027,
  // later than 2 January 2027 (2 months from the letter): Monday 1 February.
  Certificate("cert", "2026-12-31");
  EXPECT_EQ(Instance().state(), "certificate_issued");
  EXPECT_EQ(Deadline("certificate").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Due("tribunal_appeal"), "2027-02-01");
}

TEST_F(Disagreement, LaterOfRuleWhereTheCertificateMonthWinsAndNoFalseBreach) {
  // HESC rule 20: the later of 2 months from the letter (Sunday 2 March 2025, so Monday
  // 3 March) and 1 month from the certificate (24 April 2025). The 2-month deadline,
  // cancelled when the family contacted the adviser, must not breach during mediation.
  Open("2025-01-02", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-02-27", /*wants_mediation=*/true);
  EXPECT_EQ(Due("mediation"), "2025-03-29");
  Held("h", "2025-03-20");
  EXPECT_EQ(Due("certificate"), "2025-03-25");
  Certificate("cert", "2025-03-24");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-04-24");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_PENDING);
  sim.AdvanceTo(*ParseDate("2025-04-24"));
  EXPECT_EQ(Breaches("tribunal_appeal"), 0);
  EXPECT_TRUE(Deadline("tribunal_appeal").warned()) << "14 days before 24 April";
  ASSERT_EQ(Instance().deadlines_size(), 5);
  EXPECT_EQ(Instance().deadlines(1).name(), "tribunal_appeal");
  EXPECT_EQ(Instance().deadlines(1).status(), v1::DEADLINE_STATUS_SUPERSEDED)
      << "cancelled at the contact, then superseded by the certificate's window";
  EXPECT_EQ(Instance().deadlines(1).superseded_by(), "tribunal_appeal");
  EXPECT_EQ(FormatDate(*ToCivil(Instance().deadlines(1).superseded_by_due())), "2025-04-24");
  EXPECT_TRUE(Instance().deadlines(1).warned()) << "warned on 17 February, then cancelled";
  sim.AdvanceTo(*ParseDate("2025-04-25"));
  EXPECT_EQ(Breaches("tribunal_appeal"), 1);
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_BREACHED);
}

TEST_F(Disagreement, LaterOfRuleWhereTheTwoMonthsWin) {
  // HESC rule 20: a certificate on 8 January 2025 gives 8 February, earlier than 2 months
  // from the letter of 2 January (Sunday 2 March, so Monday 3 March under rule 12(2)).
  Open("2025-01-02", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-06", /*wants_mediation=*/false);
  EXPECT_EQ(Due("certificate"), "2025-01-09");
  Certificate("cert", "2025-01-08");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-03-03");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_PENDING);
}

TEST_F(Disagreement, CertificateMonthEndingInAugustMovesToSeptember) {
  // HESC rules 20 and 12(3)(a): certificate 14 July 2025 + 1 month = 14 August: 1 September.
  Open("2025-05-01", v1::DISPUTED_DECISION_REFUSAL_TO_ASSESS);
  Contact("c", "2025-06-30", /*wants_mediation=*/true);
  Held("h", "2025-07-10");
  Certificate("cert", "2025-07-14");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-09-01");
}

TEST_F(Disagreement, CertificateWithoutMediationCancelsThePendingMediationDeadline) {
  // Code of Practice ch 11: the family may change its mind, or the council may fail to
  // arrange mediation in 30 days; a certificate is then issued without mediation.
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  Certificate("cert", "2025-01-31");
  EXPECT_EQ(Instance().state(), "certificate_issued");
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_CANCELLED);
  EXPECT_EQ(Due("tribunal_appeal"), "2025-03-06") << "2 months from 6 January";
}

TEST_F(Disagreement, MediationNotArrangedInThirtyDaysStaysBreachedAfterACertificate) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  sim.AdvanceTo(*ParseDate("2025-02-20"));  // due 19 February
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_BREACHED);
  Certificate("cert", "2025-02-24");
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_BREACHED)
      << "a breach is never rewritten as a cancellation";
  EXPECT_EQ(Due("tribunal_appeal"), "2025-03-24");
}

// ---- Appeals --------------------------------------------------------------------------------

TEST_F(Disagreement, PlacementOnlyAppealNeedsNoMediationAdviceOrCertificate) {
  // CFA 2014 s55: no certificate for an appeal only about the school named in section I.
  Open("2025-03-03", v1::DISPUTED_DECISION_PLACEMENT);
  EXPECT_FALSE(HasDeadline("mediation_advice"));
  EXPECT_EQ(Due("tribunal_appeal"), "2025-05-06") << "Saturday 3 May, bank holiday 5 May";
  Lodge("a", "2025-04-01");
  EXPECT_EQ(Instance().state(), "appealed");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(MetOn("tribunal_appeal"), "2025-04-01");
}

TEST_F(Disagreement, PlacementOnlyMediationIsVoluntaryAndEndsWhenTheFamilyAppeals) {
  Open("2025-03-03", v1::DISPUTED_DECISION_PLACEMENT);
  Contact("c", "2025-03-10", /*wants_mediation=*/true);
  EXPECT_EQ(Due("mediation"), "2025-04-09");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_PENDING)
      << "no certificate can move a placement appeal's deadline";
  Lodge("a", "2025-03-20");
  EXPECT_EQ(Instance().state(), "appealed");
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_CANCELLED);
}

TEST_F(Disagreement, AppealWithoutACertificateIsRejectedUnlessOnlyAboutPlacement) {
  // CFA 2014 s55: a certificate is needed before any other appeal.
  Open("2025-03-03", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Lodge("a1", "2025-03-10");
  EXPECT_EQ(LastRejectionRule(), "appeal.certificate_required");
  EXPECT_EQ(LastRejectionField(), "tribunal_appeal_lodged");
  Contact("c", "2025-03-11", /*wants_mediation=*/false);
  Lodge("a2", "2025-03-12");
  EXPECT_EQ(LastRejectionRule(), "appeal.certificate_required");
  EXPECT_EQ(Instance().state(), "mediation_declined");
  Certificate("cert", "2025-03-13");
  Lodge("a3", "2025-03-14");
  EXPECT_EQ(Instance().state(), "appealed");
  EXPECT_EQ(Child().rejections.size(), 2u);
}

TEST_F(Disagreement, LateAppealIsRecordedAsBreachedWithTheDateItCame) {
  // The Tribunal may still admit a late appeal (HESC rule 5(3)(a)); the record keeps both
  // the breach and the date of lodging.
  Open("2025-01-06", v1::DISPUTED_DECISION_CEASE);
  Contact("c", "2025-01-13", /*wants_mediation=*/false);
  Certificate("cert", "2025-01-14");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-03-06");
  sim.AdvanceTo(*ParseDate("2025-03-07"));
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_BREACHED);
  Lodge("a", "2025-03-20");
  EXPECT_EQ(Instance().state(), "appealed");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(MetOn("tribunal_appeal"), "2025-03-20");
}

TEST_F(Disagreement, LateMediationAdviceContactIsRecordedAsBreached) {
  // reg 33: contact within 2 months; a late contact is still recorded with its date.
  Open("2025-01-06", v1::DISPUTED_DECISION_REFUSAL_TO_ASSESS);
  sim.AdvanceTo(*ParseDate("2025-03-10"));
  EXPECT_EQ(Deadline("mediation_advice").status(), v1::DEADLINE_STATUS_BREACHED);
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_BREACHED);
  Contact("c", "2025-03-10", /*wants_mediation=*/false);
  EXPECT_EQ(MetOn("mediation_advice"), "2025-03-10");
  EXPECT_EQ(Due("certificate"), "2025-03-13");
  // The certificate still opens a month to appeal (rule 20): Saturday 12 April 2025, so
  // Monday 14 April (rule 12(2)). The first appeal window was not missed but moved: it
  // ends superseded by the new one (its breach event stays in the history).
  Certificate("cert", "2025-03-12");
  EXPECT_EQ(Due("tribunal_appeal"), "2025-04-14");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_PENDING);
  ASSERT_EQ(Instance().deadlines(1).name(), "tribunal_appeal");
  EXPECT_EQ(Instance().deadlines(1).status(), v1::DEADLINE_STATUS_SUPERSEDED);
  EXPECT_EQ(Instance().deadlines(1).superseded_by(), "tribunal_appeal");
}

// ---- Resolution -----------------------------------------------------------------------------

TEST_F(Disagreement, ResolutionEndsTheDisagreementAndCancelsPendingDeadlines) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  Resolve("r", "2025-01-27", v1::RESOLUTION_EARLY);
  EXPECT_EQ(Instance().state(), "resolved");
  EXPECT_TRUE(HasFact(Instance(), "resolution", "early"));
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_CANCELLED);
  sim.AdvanceTo(*ParseDate("2025-12-31"));
  EXPECT_EQ(Breaches("mediation"), 0) << "a cancelled deadline's timers never fire";
  Held("h", "2025-02-01");
  EXPECT_EQ(LastRejectionRule(), "transition.after_end");
}

TEST_F(Disagreement, ResolvedByMediationAgreement) {
  // A mediation agreement settles the dispute: no certificate, no appeal.
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  Held("h", "2025-02-10");
  Resolve("r", "2025-02-10", v1::RESOLUTION_MEDIATION);
  EXPECT_EQ(Instance().state(), "resolved");
  EXPECT_EQ(Deadline("certificate").status(), v1::DEADLINE_STATUS_CANCELLED);
}

// ---- Rejections -----------------------------------------------------------------------------

TEST_F(Disagreement, OpeningNeedsWhatIsDisputed) {
  Open("2025-01-06", v1::DISPUTED_DECISION_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejectionField(), "disagreement_opened.about");
}

TEST_F(Disagreement, ResolutionNeedsHow) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Resolve("r", "2025-01-07", v1::RESOLUTION_UNSPECIFIED);
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejectionField(), "disagreement_resolved.how");
}

TEST_F(Disagreement, TribunalDecisionNeedsAnAppealThatCouldHaveBeenLodged) {
  // Without a certificate, an appeal about plan contents cannot be made (s55(3)).
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Resolve("r", "2025-01-07", v1::RESOLUTION_TRIBUNAL_DECISION);
  EXPECT_EQ(LastRejectionRule(), "resolution.no_appeal");
  EXPECT_EQ(LastRejectionField(), "disagreement_resolved.how");
  EXPECT_EQ(Instance().state(), "opened");
}

TEST_F(Disagreement, ATribunalDecisionOnAPlacementImpliesTheAppeal) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLACEMENT);
  Resolve("r", "2025-02-20", v1::RESOLUTION_TRIBUNAL_DECISION);
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "resolved");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "appeal_lodged");
  EXPECT_EQ(Instance().data_quality(0).missing(), "tribunal_appeal_lodged");
  EXPECT_EQ(Deadline("tribunal_appeal").status(), v1::DEADLINE_STATUS_MET);
}

TEST_F(Disagreement, AMediationResolutionImpliesTheMediationUnlessItWasDeclined) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  Resolve("r", "2025-02-10", v1::RESOLUTION_MEDIATION);
  EXPECT_EQ(Rejections(), 0u);
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "mediation_held");
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Instance().state(), "resolved");
}

TEST_F(Disagreement, AMediationResolutionAfterMediationWasDeclinedIsImpossible) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/false);
  Resolve("r", "2025-01-21", v1::RESOLUTION_MEDIATION);
  EXPECT_EQ(LastRejectionRule(), "resolution.no_mediation");
  EXPECT_EQ(LastRejectionField(), "disagreement_resolved.how");
}

TEST_F(Disagreement, ACertificateWithNoContactRecordedImpliesTheContact) {
  // The issue's example: the family's contact with the adviser was never reported. The
  // certificate shows it happened (s55(4)) and that mediation was declined (reg 34): the
  // contact is implied, mediation_advice is met, and the 2-month appeal window is
  // superseded by the certificate's, so it never breaches.
  Open("2025-05-19", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  EXPECT_EQ(Due("tribunal_appeal"), "2025-07-21");
  Certificate("cert", "2025-07-10");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "certificate_issued");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "mediation_advice_contacted");
  ASSERT_EQ(Instance().data_quality_size(), 1);
  EXPECT_EQ(Instance().data_quality(0).missing(), "mediation_advice_contacted");
  EXPECT_TRUE(HasFact(Instance(), "wants_mediation", "no"));
  EXPECT_EQ(Deadline("mediation_advice").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Deadline("certificate").status(), v1::DEADLINE_STATUS_MET);
  // 1 month from 10 July is Sunday 10 August: in August, so the first working day of
  // September (HESC rule 12(3)(a)).
  EXPECT_EQ(Due("tribunal_appeal"), "2025-09-01");
  sim.AdvanceTo(*ParseDate("2025-08-01"));  // past the old 21 July
  EXPECT_EQ(Breaches("tribunal_appeal"), 0);
  ASSERT_EQ(Instance().deadlines(1).name(), "tribunal_appeal");
  EXPECT_EQ(FormatDate(*ToCivil(Instance().deadlines(1).due())), "2025-07-21");
  EXPECT_EQ(Instance().deadlines(1).status(), v1::DEADLINE_STATUS_SUPERSEDED);
  EXPECT_EQ(FormatDate(*ToCivil(Instance().deadlines(1).superseded_by_due())), "2025-09-01");
}

TEST_F(Disagreement, MediationHeldWithNoContactRecordedImpliesAContactWantingMediation) {
  Open("2025-05-19", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Held("h", "2025-07-01");
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "mediation_held");
  EXPECT_TRUE(HasFact(Instance(), "wants_mediation", "yes"));
  EXPECT_EQ(Deadline("mediation_advice").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Deadline("mediation").status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(Due("certificate"), "2025-07-04");
}

TEST_F(Disagreement, PlacementOnlyDisputeTakesNoCertificate) {
  Open("2025-03-03", v1::DISPUTED_DECISION_PLACEMENT);
  Contact("c", "2025-03-10", /*wants_mediation=*/false);
  EXPECT_EQ(Instance().state(), "mediation_declined");
  EXPECT_FALSE(HasDeadline("certificate"));
  Certificate("cert", "2025-03-11");
  EXPECT_EQ(LastRejectionRule(), "certificate.not_required");
  EXPECT_EQ(LastRejectionField(), "mediation_certificate_issued");
}

TEST_F(Disagreement, StepsDatedBeforeAnEarlierStepAreDecidedInDateOrder) {
  // Issue 12: each of these arrives after a step dated later than it, and the case is
  // re-decided in business-date order. Mediation held on 15 January arrives after the
  // contact of 20 January: in date order it comes first, but mediation follows the
  // contact, reported for the 20th, so the dates conflict; the known date wins over an
  // implied one (decision 83) and the mediation is refused, naming its date.
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Contact("c", "2025-01-20", /*wants_mediation=*/true);
  Run(Command("h", "2025-02-10", [](v1::Envelope& e) {
    auto* c = e.mutable_mediation_held();
    c->set_case_id(kCase);
    *c->mutable_held_on() = Day("2025-01-15");
  }));
  ASSERT_NE(RefusalOf("h"), nullptr);
  EXPECT_EQ(RefusalOf("h")->rule(), "date.before_reported_step");
  EXPECT_EQ(RefusalOf("h")->field(), "mediation_held.held_on");
  EXPECT_EQ(RefusalOf("c"), nullptr);
  EXPECT_NE(Instance().state(), "mediation_held");
  EXPECT_TRUE(SameAsInDateOrder());
  // A withdrawal of 7 February arrives after the appeal lodged on 10 February: in date
  // order the disagreement had ended before the appeal, which is refused.
  Certificate("cert", "2025-02-03");
  Lodge("a", "2025-02-10");
  EXPECT_EQ(Instance().state(), "appealed");
  Resolve("r", "2025-02-07", v1::RESOLUTION_WITHDRAWN);
  EXPECT_EQ(RefusalOf("r"), nullptr);
  ASSERT_NE(RefusalOf("a"), nullptr);
  EXPECT_EQ(RefusalOf("a")->rule(), "transition.after_end");
  ASSERT_NE(CorrectionBy("r"), nullptr);
  EXPECT_EQ(Instance().state(), "resolved");
  EXPECT_TRUE(SameAsInDateOrder());
}

TEST_F(Disagreement, DatesOutsideTheBankHolidayCalendarAreRefused) {
  // Working days cannot be counted without the bank holidays of the year (2018-2035 known).
  Open("2017-06-01", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  EXPECT_EQ(LastRejectionRule(), "date.no_bank_holiday_calendar");
  EXPECT_EQ(LastRejectionField(), "disagreement_opened.decision_letter_on");
}

TEST_F(Disagreement, GenericRejections) {
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  Open("2025-01-06", v1::DISPUTED_DECISION_PLAN_CONTENTS);
  EXPECT_EQ(LastRejectionRule(), "") << "the same event id is ignored, not rejected";
  Run(Command("dup", "2025-01-07", [](v1::Envelope& e) {
    *e.mutable_disagreement_opened()->mutable_decision_letter_on() = Day("2025-01-07");
    e.mutable_disagreement_opened()->set_case_id(kCase);
    e.mutable_disagreement_opened()->set_about(v1::DISPUTED_DECISION_CEASE);
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.duplicate");
  Run(Command("unknown", "2025-01-07", [](v1::Envelope& e) {
    *e.mutable_mediation_held()->mutable_held_on() = Day("2025-01-07");
    e.mutable_mediation_held()->set_case_id("DIS-UNKNOWN");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  // Dated before the disagreement was opened: in business-date order there was no
  // disagreement with this reference yet.
  Run(Command("before", "2025-01-08", [](v1::Envelope& e) {
    auto* c = e.mutable_mediation_advice_contacted();
    c->set_case_id(kCase);
    *c->mutable_contacted_on() = Day("2025-01-01");
  }));
  EXPECT_EQ(LastRejectionRule(), "pathway.unknown_reference");
  EXPECT_EQ(LastRejectionField(), "mediation_advice_contacted.case_id");
  ASSERT_NE(CorrectionBy("before"), nullptr);
  EXPECT_EQ(Instance().state(), "opened");
  EXPECT_TRUE(SameAsInDateOrder());
  Run(Command("future", "2025-01-08", [](v1::Envelope& e) {
    auto* c = e.mutable_mediation_advice_contacted();
    c->set_case_id(kCase);
    *c->mutable_contacted_on() = Day("2025-01-09");
  }));
  EXPECT_EQ(LastRejectionRule(), "date.not_in_future");
  Run(Command("noref", "2025-01-08", [](v1::Envelope& e) {
    *e.mutable_tribunal_appeal_lodged()->mutable_lodged_on() = Day("2025-01-08");
    e.mutable_tribunal_appeal_lodged()->set_case_id("");
  }));
  EXPECT_EQ(LastRejectionRule(), "required");
  EXPECT_EQ(LastRejectionField(), "tribunal_appeal_lodged.case_id");
}

// ---- A realistic history --------------------------------------------------------------------

TEST_F(Disagreement, HistoryOfAParentDisputingPlanContentsToATribunalDecision) {
  // The final plan of 19 May 2025 is disputed (sections B, F and I). The parent contacts
  // the mediation adviser on 7 July (in time) and wants mediation; an appeal sent on 28 July
  // without a certificate is refused; mediation on 4 August does not settle it; the
  // certificate follows on 6 August, so the appeal may be lodged until Saturday 6 September,
  // that is Monday 8 September; lodged on 1 September; decided by the Tribunal on
  // 16 February 2026.
  auto history = ReadHistory("disagreement.jsonl");
  ASSERT_EQ(history.size(), 7u);
  for (const auto& e : history) Run(e);
  sim.AdvanceTo(*ParseDate("2026-03-31"));

  EXPECT_EQ(Instance().state(), "resolved");
  EXPECT_TRUE(HasFact(Instance(), "about", "plan_contents"));
  EXPECT_TRUE(HasFact(Instance(), "resolution", "tribunal_decision"));
  struct Expected {
    const char* name;
    const char* due;
    v1::DeadlineStatus status;
    const char* met_on;  // "" when never met
  };
  const Expected expected[] = {
      {"mediation_advice", "2025-07-19", v1::DEADLINE_STATUS_MET, "2025-07-07"},
      {"tribunal_appeal", "2025-07-21", v1::DEADLINE_STATUS_SUPERSEDED, ""},
      {"mediation", "2025-08-06", v1::DEADLINE_STATUS_MET, "2025-08-04"},
      {"certificate", "2025-08-07", v1::DEADLINE_STATUS_MET, "2025-08-06"},
      {"tribunal_appeal", "2025-09-08", v1::DEADLINE_STATUS_MET, "2025-09-01"},
  };
  ASSERT_EQ(Instance().deadlines_size(), 5);
  for (int i = 0; i < 5; ++i) {
    const auto& d = Instance().deadlines(i);
    const Expected& x = expected[i];
    EXPECT_EQ(d.name(), x.name) << i;
    EXPECT_EQ(FormatDate(*ToCivil(d.due())), x.due) << x.name;
    EXPECT_EQ(d.status(), x.status) << x.name;
    if (*x.met_on) {
      EXPECT_EQ(FormatDate(*ToCivil(d.met_on())), x.met_on) << x.name;
    } else {
      EXPECT_FALSE(d.has_met_on()) << x.name;
    }
  }
  ASSERT_EQ(Child().rejections.size(), 1u);
  EXPECT_EQ(Child().rejections[0].command_rejected().rule(), "appeal.certificate_required");
  EXPECT_EQ(Breaches("tribunal_appeal") + Breaches("mediation") + Breaches("certificate") +
                Breaches("mediation_advice"),
            0);
  int warnings = 0;
  for (const auto& e : Child().events) warnings += e.has_deadline_warning();
  // mediation_advice (5 July), the first tribunal_appeal (7 July, the morning the contact
  // cancelled it), mediation (23 July), certificate (5 August) and the second
  // tribunal_appeal (25 August).
  EXPECT_EQ(warnings, 5);
}

}  // namespace
}  // namespace pathway::workflow
