// Who may see a child's timeline, and what the timeline copies (never content).
#include "workflow/views.h"

#include <gtest/gtest.h>

#include <vector>

namespace pathway::workflow {
namespace {

namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

v1::Envelope Kept(const std::string& event_id, const std::string& agency) {
  v1::Envelope command;
  command.set_event_id(event_id);
  command.mutable_source()->set_agency(agency);
  command.mutable_nd_first_appointment_attended()->set_referral_id("ND-1");
  v1::Envelope entry;
  entry.set_event_id("kept-" + event_id);
  entry.mutable_command_recorded()->set_command(command.SerializeAsString());
  return entry;
}

v1::Envelope Caused(const std::string& event_id, const std::string& cause) {
  v1::Envelope e;
  e.set_event_id(event_id);
  e.set_causation_id(cause);
  e.mutable_source()->set_agency("pathway");
  e.mutable_deadline_met()->set_name("first_appointment");
  return e;
}

store::CaseState Referred(const std::string& referrer) {
  store::CaseState state;
  state.add_referrals()->set_referrer_agency(referrer);
  return state;
}

TEST(TimelineAccess, TheReferrerAndEverySenderOfAKeptCommandAreInvolved) {
  store::CaseState state = Referred("Y00001");
  std::vector<v1::Envelope> history = {Kept("c1", "RV5")};
  EXPECT_EQ(TimelineAccess(state, CaseHistory(history), "Y00001"), "involved");
  EXPECT_EQ(TimelineAccess(state, CaseHistory(history), "RV5"), "involved");
  EXPECT_EQ(TimelineAccess(state, CaseHistory(history), "RXX99"), std::nullopt);
  EXPECT_EQ(TimelineAccess(state, CaseHistory(history), ""), std::nullopt);
  EXPECT_EQ(TimelineAccess(state, CaseHistory(history), "pathway"), std::nullopt)
      << "the engine's own events make nobody involved";
}

TEST(TimelineAccess, AFactProviderIsInvolved) {
  store::CaseState state = Referred("Y00001");
  state.add_record_facts()->set_source_agency("LA-SEN");
  EXPECT_EQ(TimelineAccess(state, {}, "LA-SEN"), "involved");
}

TEST(TimelineAccess, ConsentInForceOpensItAndAWithdrawalClosesIt) {
  store::CaseState state = Referred("Y00001");
  auto* c = state.add_consents();
  c->set_agency("SCH-1");
  c->set_purpose("ehc_needs_assessment");
  c->set_decision(v1::CONSENT_DECISION_GRANTED);
  EXPECT_EQ(TimelineAccess(state, {}, "SCH-1"), "consent: ehc_needs_assessment");
  c->set_decision(v1::CONSENT_DECISION_WITHDRAWN);
  EXPECT_EQ(TimelineAccess(state, {}, "SCH-1"), std::nullopt);
  c->set_decision(v1::CONSENT_DECISION_REFUSED);
  EXPECT_EQ(TimelineAccess(state, {}, "SCH-1"), std::nullopt);
}

TEST(BuildTimeline, EventsAreNewestFirstUnderTheSendersAgencyAndKeptCommandsAreNotListed) {
  store::CaseState state = Referred("Y00001");
  auto* p = state.add_pathways();
  p->set_instance_id("nd-1");
  p->set_state("assessment");
  auto* d = p->add_deadlines();
  d->set_name("first_appointment");
  d->set_rule("NICE CG128 1.5.1");
  d->set_status(v1::DEADLINE_STATUS_MET);
  std::vector<v1::Envelope> history = {Kept("c1", "RV5"), Caused("e1", "c1"),
                                       Caused("e2", "elsewhere")};
  v1::ChildTimeline view = BuildTimeline("abc", state, CaseHistory(history), 10, "involved");
  EXPECT_EQ(view.child_id(), "abc");
  EXPECT_EQ(view.history_length(), 3u);
  ASSERT_EQ(view.events_size(), 2);
  EXPECT_EQ(view.events(0).event_id(), "e2");
  EXPECT_EQ(view.events(0).source_agency(), "pathway");
  EXPECT_EQ(view.events(0).sequence(), 2u);
  EXPECT_EQ(view.events(1).event_id(), "e1");
  EXPECT_EQ(view.events(1).source_agency(), "RV5");
  EXPECT_EQ(view.events(1).kind(), "deadline_met");
  ASSERT_EQ(view.pathways_size(), 1);
  EXPECT_EQ(view.pathways(0).deadlines(0).rule(), "NICE CG128 1.5.1");
  EXPECT_EQ(view.pathways(0).deadlines(0).status(), v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(BuildTimeline("abc", state, CaseHistory(history), 1, "involved").events_size(), 1);
  EXPECT_EQ(BuildTimeline("abc", state, CaseHistory(history), 0, "involved").events_size(), 0);
  // Content never travels: the kept command's referral id is nowhere in the view.
  EXPECT_EQ(view.SerializeAsString().find("ND-1"), std::string::npos);
}

TEST(BuildRecord, StatutorySharingNamesItsLegalBasisAndDisputedFactsWait) {
  store::CaseState state = Referred("Y00001");
  auto add_fact = [&](v1::FactType type, const std::string& source, bool disputed) {
    auto* f = state.add_record_facts();
    f->set_type(type);
    f->set_content("content of " + source);
    f->set_source_agency(source);
    f->set_disputed(disputed);
    f->mutable_recorded_on()->set_year(2025);
    f->mutable_recorded_on()->set_month(1);
    f->mutable_recorded_on()->set_day(1);
    f->mutable_valid_until()->set_year(2027);
    f->mutable_valid_until()->set_month(1);
    f->mutable_valid_until()->set_day(1);
  };
  add_fact(v1::FACT_TYPE_FAMILY_VIEWS, "209", false);
  add_fact(v1::FACT_TYPE_SCHOOL_OBSERVATIONS, "SCH", true);
  pathway::config::v1::StatutorySharing sharing;
  auto* rule = sharing.add_rules();
  rule->set_id("la-views");
  rule->set_agency("LA");
  rule->set_purpose("ehc_needs_assessment");
  rule->add_fact_types(v1::FACT_TYPE_FAMILY_VIEWS);
  rule->set_legal_basis("Children and Families Act 2014 s.36");
  auto* c = state.add_consents();
  c->set_agency("LA");
  c->set_purpose("ehc_needs_assessment");
  c->set_decision(v1::CONSENT_DECISION_REFUSED);
  const CivilDate on{std::chrono::year(2026), std::chrono::month(6), std::chrono::day(1)};

  v1::ChildRecord view = BuildRecord("abc", state, "LA", "ehc_needs_assessment", on, &sharing);
  ASSERT_EQ(view.facts_size(), 2);
  EXPECT_EQ(view.facts(0).type(), v1::FACT_TYPE_FAMILY_VIEWS);
  EXPECT_TRUE(view.facts(0).disclosed()) << "statutory: a refusal does not stop it";
  EXPECT_EQ(view.facts(0).basis(), "statutory: Children and Families Act 2014 s.36");
  EXPECT_EQ(view.facts(0).source_agency(), "209");
  EXPECT_EQ(view.legal_bases_size(), 1);
  EXPECT_FALSE(view.facts(1).disclosed());
  EXPECT_EQ(view.facts(1).basis(), "disputed");
  EXPECT_TRUE(view.facts(1).content().empty());
  ASSERT_EQ(view.consents_size(), 1);
  EXPECT_EQ(view.consents(0).decision(), v1::CONSENT_DECISION_REFUSED);

  v1::ChildRecord own = BuildRecord("abc", state, "209", "anything", on, nullptr);
  EXPECT_EQ(own.facts(0).basis(), "own");
  EXPECT_EQ(own.consents_size(), 0) << "consents about other agencies are not shown";
  const CivilDate later{std::chrono::year(2027), std::chrono::month(2), std::chrono::day(1)};
  EXPECT_EQ(BuildRecord("abc", state, "209", "anything", later, nullptr).facts_size(), 0)
      << "an expired fact is not current";
}

}  // namespace
}  // namespace pathway::workflow
