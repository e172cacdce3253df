// Referral intake at the single point of referral: received, screened (early help
// while waiting), accepted onto pathways, redirected or declined.
#include <gtest/gtest.h>

#include "tests/common/commands.h"
#include "tests/common/pathway_fixture.h"
#include "workflow/pathway.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::ValidReferral;

class Intake : public pathway::testing::PathwayFixture {
 protected:
  Intake() : PathwayFixture(v1::PATHWAY_KIND_REFERRAL_INTAKE, "no referral intake") {}

  void Refer() {
    v1::Envelope e = ValidReferral("ref-1");
    e.mutable_occurred_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                             pathway::testing::At("2025-03-10").time_since_epoch())
                                             .count());
    Run(e);
  }
  // The tests below say LastRule for LastRejectionRule.
  std::string LastRule() { return LastRejectionRule(); }
};

TEST_F(Intake, AReferralStartsIntakeWithItsReasonAndReferrer) {
  Refer();
  EXPECT_EQ(Instance().state(), "received");
  EXPECT_EQ(Instance().reference(), "REF-ref-1");
  EXPECT_TRUE(HasFact(Instance(), "reason", "social_communication"));
  EXPECT_TRUE(HasFact(Instance(), "referrer_agency", "Y00001"));
  EXPECT_EQ(Instance().deadlines_size(), 0) << "intake has no statutory clock";
}

TEST_F(Intake, ScreeningRecordsEarlyHelpThenAcceptanceNamesThePathways) {
  // Support is needs-led: early help is offered while the child waits.
  Refer();
  Run(Command("s", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_screened()->mutable_screened_on() = Day("2025-03-12");
    auto* c = e.mutable_referral_screened();
    c->set_referral_id("REF-ref-1");
    c->set_early_help_offered(true);
  }));
  EXPECT_EQ(Instance().state(), "screened");
  EXPECT_TRUE(HasFact(Instance(), "early_help_offered", "yes"));
  Run(Command("a", "2025-03-14", [](v1::Envelope& e) {
    *e.mutable_referral_accepted()->mutable_accepted_on() = Day("2025-03-14");
    auto* c = e.mutable_referral_accepted();
    c->set_referral_id("REF-ref-1");
    c->add_pathways(v1::PATHWAY_KIND_NEURODEVELOPMENTAL);
    c->add_pathways(v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT);
  }));
  EXPECT_EQ(Instance().state(), "accepted");
  EXPECT_TRUE(HasFact(Instance(), "accepted_onto", "neurodevelopmental"));
  EXPECT_TRUE(HasFact(Instance(), "accepted_onto", "ehc_needs_assessment"));
}

TEST_F(Intake, RedirectAndDeclineNeedTheirReasons) {
  Refer();
  Run(Command("r1", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_redirected()->mutable_redirected_on() = Day("2025-03-12");
    e.mutable_referral_redirected()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("d1", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_declined()->mutable_declined_on() = Day("2025-03-12");
    e.mutable_referral_declined()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("r2", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_redirected()->mutable_redirected_on() = Day("2025-03-12");
    e.mutable_referral_redirected()->set_referral_id("REF-ref-1");
    e.mutable_referral_redirected()->set_service("CAMHS");
  }));
  EXPECT_EQ(Instance().state(), "redirected");
  Run(Command("d2", "2025-03-13", [](v1::Envelope& e) {
    *e.mutable_referral_declined()->mutable_declined_on() = Day("2025-03-13");
    e.mutable_referral_declined()->set_referral_id("REF-ref-1");
    e.mutable_referral_declined()->set_reason("duplicate of an open referral");
  }));
  EXPECT_EQ(LastRule(), "transition.after_end");
}

TEST_F(Intake, ADecisionWithNoScreeningRecordedImpliesTheScreening) {
  // Every referral to the single point of referral is screened before the hub decides:
  // a redirection with no screening reported implies it, with a data-quality warning.
  Refer();
  Run(Command("r", "2025-03-12", [](v1::Envelope& e) {
    auto* c = e.mutable_referral_redirected();
    c->set_referral_id("REF-ref-1");
    c->set_service("CAMHS");
    *c->mutable_redirected_on() = Day("2025-03-12");
  }));
  EXPECT_EQ(Rejections(), 0u);
  EXPECT_EQ(Instance().state(), "redirected");
  ASSERT_EQ(Instance().implied_steps_size(), 1);
  EXPECT_EQ(Instance().implied_steps(0), "screened");
  ASSERT_EQ(Instance().data_quality_size(), 1);
  EXPECT_EQ(Instance().data_quality(0).missing(), "referral_screened");
  EXPECT_FALSE(HasFact(Instance(), "early_help_offered", "yes")) << "not known, not invented";
}

TEST_F(Intake, AcceptanceNeedsAServicePathway) {
  Refer();
  Run(Command("a1", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_accepted()->mutable_accepted_on() = Day("2025-03-12");
    e.mutable_referral_accepted()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("a2", "2025-03-12", [](v1::Envelope& e) {
    *e.mutable_referral_accepted()->mutable_accepted_on() = Day("2025-03-12");
    e.mutable_referral_accepted()->set_referral_id("REF-ref-1");
    e.mutable_referral_accepted()->add_pathways(v1::PATHWAY_KIND_REFERRAL_INTAKE);
  }));
  EXPECT_EQ(LastRule(), "pathway.invalid");
  EXPECT_EQ(Instance().state(), "received");
}

TEST_F(Intake, ScreeningTwiceIsNotAllowed) {
  // Two screenings of one referral on one day: the same in any arrival order, one is
  // accepted and the other refused. Which one is fixed by the commands' content (their
  // place in business-date order), not by which arrived first.
  Refer();
  for (const char* id : {"s1", "s2"}) {
    Run(Command(id, "2025-03-12", [](v1::Envelope& e) {
      *e.mutable_referral_screened()->mutable_screened_on() = Day("2025-03-12");
      e.mutable_referral_screened()->set_referral_id("REF-ref-1");
    }));
  }
  const auto* s1 = RefusalOf("s1");
  const auto* s2 = RefusalOf("s2");
  ASSERT_TRUE((s1 == nullptr) != (s2 == nullptr)) << "exactly one screening is refused";
  EXPECT_EQ((s1 ? s1 : s2)->rule(), "transition.not_allowed");
  if (s2) {
    EXPECT_EQ(LastRule(), "transition.not_allowed") << "refused as it arrived";
  } else {
    // The second sorts first: the first is refused by the correction the second causes.
    const v1::CaseCorrected* corrected = CorrectionBy("s2");
    ASSERT_NE(corrected, nullptr);
    ASSERT_EQ(corrected->rejections_size(), 1);
    EXPECT_EQ(corrected->rejections(0).rejected_event_id(), "s1");
    EXPECT_EQ(corrected->rejections(0).rule(), "transition.not_allowed");
  }
  int screened = 0;
  for (const auto& step : Instance().steps()) screened += step.step() == "screened";
  EXPECT_EQ(screened, 1);
  EXPECT_TRUE(SameAsInDateOrder());
}

}  // namespace
}  // namespace pathway::workflow
