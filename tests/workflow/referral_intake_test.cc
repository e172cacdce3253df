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
    auto* c = e.mutable_referral_screened();
    c->set_referral_id("REF-ref-1");
    c->set_early_help_offered(true);
  }));
  EXPECT_EQ(Instance().state(), "screened");
  EXPECT_TRUE(HasFact(Instance(), "early_help_offered", "yes"));
  Run(Command("a", "2025-03-14", [](v1::Envelope& e) {
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
    e.mutable_referral_redirected()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("d1", "2025-03-12", [](v1::Envelope& e) {
    e.mutable_referral_declined()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("r2", "2025-03-12", [](v1::Envelope& e) {
    e.mutable_referral_redirected()->set_referral_id("REF-ref-1");
    e.mutable_referral_redirected()->set_service("CAMHS");
  }));
  EXPECT_EQ(Instance().state(), "redirected");
  Run(Command("d2", "2025-03-13", [](v1::Envelope& e) {
    e.mutable_referral_declined()->set_referral_id("REF-ref-1");
    e.mutable_referral_declined()->set_reason("duplicate of an open referral");
  }));
  EXPECT_EQ(LastRule(), "transition.after_end");
}

TEST_F(Intake, AcceptanceNeedsAServicePathway) {
  Refer();
  Run(Command("a1", "2025-03-12", [](v1::Envelope& e) {
    e.mutable_referral_accepted()->set_referral_id("REF-ref-1");
  }));
  EXPECT_EQ(LastRule(), "required");
  Run(Command("a2", "2025-03-12", [](v1::Envelope& e) {
    e.mutable_referral_accepted()->set_referral_id("REF-ref-1");
    e.mutable_referral_accepted()->add_pathways(v1::PATHWAY_KIND_REFERRAL_INTAKE);
  }));
  EXPECT_EQ(LastRule(), "pathway.invalid");
  EXPECT_EQ(Instance().state(), "received");
}

TEST_F(Intake, ScreeningTwiceIsNotAllowed) {
  Refer();
  for (const char* id : {"s1", "s2"}) {
    Run(Command(id, "2025-03-12", [](v1::Envelope& e) {
      e.mutable_referral_screened()->set_referral_id("REF-ref-1");
    }));
  }
  EXPECT_EQ(LastRule(), "transition.not_allowed");
}

}  // namespace
}  // namespace pathway::workflow
