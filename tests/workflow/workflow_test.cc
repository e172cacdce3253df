#include "workflow/workflow.h"

#include <gtest/gtest.h>

#include <functional>

#include "tests/common/fixtures.h"

namespace pathway::workflow {
namespace {
using pathway::store::v1::CaseState;
using pathway::testing::March10th2025;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

constexpr const char* kSubject = "8f14e45fceea167a5a36dedd4bea2543a0c6fd7a1c2e8b7d9f0e1d2c3b4a5968";

Envelope Routed(Envelope e) {
  e.set_subject_key(kSubject);
  return e;
}

TEST(Referral, ValidReferralIsReceived) {
  Decision d = Decide(CaseState(), Routed(ValidReferral("evt-1")), March10th2025());
  ASSERT_FALSE(d.rejection) << d.rejection->field;
  // ReferralReceived for partners, then the referral intake pathway starting.
  ASSERT_EQ(d.events.size(), 2u);
  const Envelope& step = d.events[1];
  ASSERT_TRUE(step.has_pathway_step_recorded());
  EXPECT_EQ(step.pathway_step_recorded().pathway(), pathway::v1::PATHWAY_KIND_REFERRAL_INTAKE);
  EXPECT_EQ(step.pathway_step_recorded().step(), "received");
  EXPECT_EQ(step.pathway_step_recorded().to_state(), "received");
  EXPECT_EQ(step.pathway_step_recorded().reference(), "REF-evt-1");
  EXPECT_NE(step.event_id(), d.events[0].event_id());
  const Envelope& e = d.events[0];
  ASSERT_TRUE(e.has_referral_received());
  EXPECT_EQ(e.subject_key(), kSubject);
  EXPECT_EQ(e.causation_id(), "evt-1");
  EXPECT_EQ(e.referral_received().referral_id(), "REF-evt-1");
  EXPECT_EQ(e.referral_received().received_on().year(), 2025);
  EXPECT_EQ(e.referral_received().received_on().month(), 3);
  EXPECT_EQ(e.referral_received().received_on().day(), 10);
}

TEST(Referral, EmittedEventCarriesNoNamesOrNhsNumber) {
  // Rule: minimum necessary (Caldicott); consumers identify the child by subject key.
  Decision d = Decide(CaseState(), Routed(ValidReferral("evt-1")), March10th2025());
  ASSERT_EQ(d.events.size(), 2u);
  for (const auto& event : d.events) {
    std::string bytes = event.SerializeAsString();
    for (const char* personal : {"9434765919", "Amara", "Okafor", "SE1 7PB", "eye contact"}) {
      EXPECT_EQ(bytes.find(personal), std::string::npos) << personal;
    }
  }
}

TEST(Referral, DecisionIsDeterministic) {
  // Rule: decide() is pure; the same inputs give byte-identical events (replay).
  Envelope cmd = Routed(ValidReferral("evt-1"));
  Decision a = Decide(CaseState(), cmd, March10th2025());
  Decision b = Decide(CaseState(), cmd, March10th2025());
  ASSERT_EQ(a.events.size(), 2u);
  ASSERT_EQ(b.events.size(), 2u);
  for (size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].SerializeAsString(), b.events[i].SerializeAsString());
  }
}

struct RejectionCase {
  const char* name;
  std::function<void(Envelope&)> mutate;
  const char* field;
  const char* rule;
};

TEST(Referral, EveryInvalidFieldIsRejectedByName) {
  const RejectionCase cases[] = {
      {"no event id", [](Envelope& e) { e.clear_event_id(); }, "event_id", "required"},
      {"no referral id", [](Envelope& e) { e.mutable_referral_submitted()->clear_referral_id(); },
       "referral_submitted.referral_id", "required"},
      {"no child", [](Envelope& e) { e.mutable_referral_submitted()->clear_child(); },
       "referral_submitted.child", "required"},
      {"no NHS number",
       [](Envelope& e) { e.mutable_referral_submitted()->mutable_child()->clear_nhs_number(); },
       "referral_submitted.child.nhs_number", "required"},
      {"NHS number with spaces",
       [](Envelope& e) {
         e.mutable_referral_submitted()->mutable_child()->set_nhs_number("943 476 5919");
       },
       "referral_submitted.child.nhs_number", "nhs_number.format"},
      {"NHS number failing modulus 11",
       [](Envelope& e) {
         e.mutable_referral_submitted()->mutable_child()->set_nhs_number("9434765918");
       },
       "referral_submitted.child.nhs_number", "nhs_number.modulus11"},
      {"no given name",
       [](Envelope& e) { e.mutable_referral_submitted()->mutable_child()->clear_given_name(); },
       "referral_submitted.child.given_name", "required"},
      {"no family name",
       [](Envelope& e) { e.mutable_referral_submitted()->mutable_child()->clear_family_name(); },
       "referral_submitted.child.family_name", "required"},
      {"no date of birth",
       [](Envelope& e) { e.mutable_referral_submitted()->mutable_child()->clear_date_of_birth(); },
       "referral_submitted.child.date_of_birth", "required"},
      {"31 April",
       [](Envelope& e) {
         auto* dob = e.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth();
         dob->set_month(4);
         dob->set_day(31);
       },
       "referral_submitted.child.date_of_birth", "date.calendar"},
      {"born tomorrow",
       [](Envelope& e) {
         auto* dob = e.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth();
         dob->set_year(2025);
         dob->set_month(3);
         dob->set_day(11);
       },
       "referral_submitted.child.date_of_birth", "date_of_birth.not_in_future"},
      {"no referrer agency",
       [](Envelope& e) { e.mutable_referral_submitted()->mutable_referrer()->clear_agency(); },
       "referral_submitted.referrer.agency", "required"},
      {"no reason", [](Envelope& e) { e.mutable_referral_submitted()->clear_reason(); },
       "referral_submitted.reason", "required"},
      {"an event, not a command",
       [](Envelope& e) { e.mutable_referral_received()->set_referral_id("x"); }, "payload",
       "payload.not_a_command"},
  };
  for (const auto& c : cases) {
    Envelope cmd = Routed(ValidReferral("evt-1"));
    c.mutate(cmd);
    Decision d = Decide(CaseState(), cmd, March10th2025());
    ASSERT_TRUE(d.rejection.has_value()) << c.name;
    EXPECT_TRUE(d.events.empty()) << c.name;
    EXPECT_EQ(d.rejection->field, c.field) << c.name;
    EXPECT_EQ(d.rejection->rule, c.rule) << c.name;
    EXPECT_FALSE(d.rejection->reason.empty()) << c.name;
  }
}

TEST(Referral, BornTodayInLondonIsNotInTheFuture) {
  // 2025-07-15T23:30Z is 16 July in London (BST): a child born on 16 July is valid.
  TimePoint late_evening{std::chrono::seconds(1752622200)};
  Envelope cmd = Routed(ValidReferral("evt-1"));
  auto* dob = cmd.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth();
  dob->set_year(2025);
  dob->set_month(7);
  dob->set_day(16);
  // Its own day decides, not the engine's: sent that evening, received that day.
  cmd.mutable_occurred_at()->set_seconds(1752622200);
  auto* received = cmd.mutable_referral_submitted()->mutable_received_on();
  received->set_year(2025);
  received->set_month(7);
  received->set_day(16);
  Decision d = Decide(CaseState(), cmd, late_evening);
  EXPECT_FALSE(d.rejection.has_value());
}

TEST(Referral, SameReferralResentUnderNewEventIdIsRejectedAsDuplicate) {
  CaseState state;
  Decision first = Decide(state, Routed(ValidReferral("evt-1")), March10th2025());
  ASSERT_EQ(first.events.size(), 2u);
  for (const auto& e : first.events) Apply(state, e);

  Envelope resend = Routed(ValidReferral("evt-1"));
  resend.set_event_id("evt-2");  // same referral id, new event id
  Decision second = Decide(state, resend, March10th2025());
  ASSERT_TRUE(second.rejection.has_value());
  EXPECT_EQ(second.rejection->rule, "referral.duplicate");
  EXPECT_EQ(second.rejection->field, "referral_submitted.referral_id");
}

TEST(Referral, ApplyFoldsTheReferralIntoState) {
  CaseState state;
  Decision d = Decide(state, Routed(ValidReferral("evt-1")), March10th2025());
  ASSERT_EQ(d.events.size(), 2u);
  for (const auto& e : d.events) Apply(state, e);
  EXPECT_EQ(state.definition_version(), kReferralDefinitionVersion);
  EXPECT_EQ(state.history_length(), 2u);
  ASSERT_EQ(state.pathways_size(), 1);
  EXPECT_EQ(state.pathways(0).state(), "received");
  EXPECT_EQ(state.pathways(0).version(), 1u);
  ASSERT_EQ(state.referrals_size(), 1);
  EXPECT_EQ(state.referrals(0).referral_id(), "REF-evt-1");
  EXPECT_EQ(state.referrals(0).inbound_event_id(), "evt-1");
  EXPECT_EQ(state.referrals(0).referrer_agency(), "Y00001");
}

TEST(Referral, RebuildFromHistoryGivesIdenticalState) {
  // Rule: state is a fold of its events (design.md, "Rebuild").
  CaseState live;
  std::vector<Envelope> history;
  for (const char* id : {"evt-1", "evt-2", "evt-3"}) {
    Decision d = Decide(live, Routed(ValidReferral(id)), March10th2025());
    ASSERT_EQ(d.events.size(), 2u);
    for (const auto& e : d.events) {
      Apply(live, e);
      history.push_back(e);
    }
  }
  CaseState rebuilt;
  for (const auto& e : history) Apply(rebuilt, e);
  EXPECT_EQ(rebuilt.SerializeAsString(), live.SerializeAsString());
}

TEST(Routing, FindsTheChildOrSaysWhyNot) {
  Routing ok = RouteCommand(ValidReferral("evt-1"));
  EXPECT_EQ(ok.nhs_number, pathway::testing::kValidNhsNumber);
  EXPECT_FALSE(ok.rejection);

  Envelope bad = ValidReferral("evt-1");
  bad.mutable_referral_submitted()->mutable_child()->set_nhs_number("1000000010");
  Routing r = RouteCommand(bad);
  ASSERT_TRUE(r.rejection);
  EXPECT_EQ(r.rejection->rule, "nhs_number.modulus11");
  EXPECT_TRUE(r.nhs_number.empty());
}

TEST(Rejection, EnvelopeNamesTheCommandAndRule) {
  Envelope cmd = Routed(ValidReferral("evt-9"));
  Envelope out = MakeRejection(cmd, {"event_id", "required", "needed"}, March10th2025());
  ASSERT_TRUE(out.has_command_rejected());
  EXPECT_EQ(out.command_rejected().rejected_event_id(), "evt-9");
  EXPECT_EQ(out.command_rejected().field(), "event_id");
  EXPECT_EQ(out.causation_id(), "evt-9");
  EXPECT_EQ(out.event_id().size(), 32u);
}

}  // namespace
}  // namespace pathway::workflow
