// Identity (issue 5 item 4; docs/tell-it-once.md section 4): a command that names a
// child only by a UPN or a local id waits on the alias's partition until an
// IdentifierLinked ties the alias to an NHS number, then goes on to the child; an
// alias never linked in time rejects its commands naming the field; no clear
// identifier passes the intake stage.
#include "workflow/identity.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/crypto.h"
#include "tests/common/fixtures.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/simulator.h"
#include "workflow/timers.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kValidNhsNumber;

constexpr const char* kUpn = "B801200005001";
constexpr const char* kSchool = "100001";

std::string Key(std::string_view id) { return HexEncode(HmacSha256("identity test", id)); }

TimePoint Noon(const std::string& date) {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::sys_days{*ParseDate(date)} + std::chrono::hours(12));
}

v1::Date Day(const std::string& date) { return ToProto(*ParseDate(date)); }

// The school tells the partnership something about a pupil it knows by UPN only.
v1::Envelope SchoolFact(const std::string& id, v1::FactType type, const std::string& content) {
  v1::Envelope e;
  e.set_event_id(id);
  e.mutable_source()->set_agency(kSchool);
  e.mutable_source()->set_system("school-mis");
  e.mutable_actor()->set_id("staff-12");
  e.mutable_actor()->set_role("SENCO");
  e.mutable_subject()->set_upn(kUpn);
  e.mutable_fact_provided()->set_type(type);
  e.mutable_fact_provided()->set_content(content);
  return e;
}

v1::Envelope Link(const std::string& id, const std::string& nhs, const std::string& on,
                  const std::string& upn = kUpn) {
  v1::Envelope e;
  e.set_event_id(id);
  e.mutable_source()->set_agency("209");
  e.mutable_source()->set_system("council-ehm");
  e.mutable_actor()->set_id("staff-3");
  e.mutable_subject()->set_nhs_number(nhs);
  auto* l = e.mutable_identifier_linked();
  l->set_kind(v1::IDENTIFIER_KIND_UPN);
  l->set_value(upn);
  *l->mutable_linked_on() = Day(on);
  e.mutable_occurred_at()->set_seconds(Noon(on).time_since_epoch().count() / 1'000'000);
  return e;
}

class IdentityTest : public ::testing::Test {
 protected:
  explicit IdentityTest(int hold_days = kDefaultIdentityHoldDays)
      : sim_(Key, kDefaultWarningLeadDays, DecideOptions{.identity_hold_days = hold_days}) {}

  // Sent on `date`: partners date every command (occurred_at).
  void Run(v1::Envelope e, const std::string& date) {
    if (!e.has_occurred_at()) {
      e.mutable_occurred_at()->set_seconds(Noon(date).time_since_epoch().count() / 1'000'000);
    }
    sim_.Process(e, Noon(date));
  }

  const Simulator::Subject* Find(const std::string& key) const {
    auto it = sim_.subjects().find(key);
    return it == sim_.subjects().end() ? nullptr : &it->second;
  }
  const Simulator::Subject& Alias() const {
    return sim_.subjects().at(Key(std::string("upn:") + kUpn));
  }
  int Facts(const std::string& nhs) const {
    const auto* s = Find(Key(nhs));
    return s ? s->state.record_facts_size() : 0;
  }

  Simulator sim_;
};

TEST_F(IdentityTest, ACommandNamingOnlyAnUnlinkedUpnIsHeldThenReleasedWhenTheLinkArrives) {
  Run(SchoolFact("s-1", v1::FACT_TYPE_CURRENT_SETTING, "Year 3, Oak Primary"), "2025-03-10");
  EXPECT_EQ(Facts(kValidNhsNumber), 0) << "nobody knows whose UPN this is yet";
  ASSERT_EQ(Alias().state.held_size(), 1);
  EXPECT_EQ(Alias().state.held(0).held_event_id(), "s-1");
  EXPECT_EQ(Alias().state.held(0).expires_on().day(), 24) << "held for 14 days by default";
  EXPECT_TRUE(Alias().rejections.empty());

  Run(Link("link-1", kValidNhsNumber, "2025-03-12"), "2025-03-12");
  EXPECT_EQ(Alias().state.held_size(), 0);
  EXPECT_EQ(Alias().state.linked_subject_key(), Key(kValidNhsNumber));
  const auto& child = sim_.subjects().at(Key(kValidNhsNumber));
  ASSERT_EQ(child.state.record_facts_size(), 1) << "the held fact reached the child's record";
  EXPECT_EQ(child.state.record_facts(0).source_agency(), kSchool);
  ASSERT_EQ(child.state.aliases_size(), 1) << "the child's case lists its linked identifiers";
  EXPECT_EQ(child.state.aliases(0).alias_key(), Key(std::string("upn:") + kUpn));

  // Once linked, a UPN-only command goes straight on.
  Run(SchoolFact("s-2", v1::FACT_TYPE_NEEDS, "Needs a quiet space at break"), "2025-03-20");
  EXPECT_EQ(Facts(kValidNhsNumber), 2);
  EXPECT_EQ(Alias().state.held_size(), 0);
  EXPECT_TRUE(Alias().rejections.empty());
  EXPECT_TRUE(child.rejections.empty());

  // Rebuild: folding each history again gives the same states (held commands included).
  for (const auto& [key, subject] : sim_.subjects()) {
    pathway::store::v1::CaseState rebuilt;
    for (const auto& e : subject.events) Apply(rebuilt, e);
    EXPECT_EQ(rebuilt.SerializeAsString(), subject.state.SerializeAsString()) << key;
  }
}

class ShortHold : public IdentityTest {
 protected:
  ShortHold() : IdentityTest(7) {}
};

TEST_F(ShortHold, ACommandWhoseUpnIsNeverLinkedIsRejectedNamingTheFieldWhenTheHoldEnds) {
  Run(SchoolFact("s-1", v1::FACT_TYPE_CURRENT_SETTING, "Year 3, Oak Primary"), "2025-03-10");
  sim_.AdvanceTo(*ParseDate("2025-03-16"));
  EXPECT_EQ(Alias().state.held_size(), 1) << "still within the configured 7 days";
  EXPECT_TRUE(Alias().rejections.empty());

  sim_.AdvanceTo(*ParseDate("2025-03-17"));
  EXPECT_EQ(Alias().state.held_size(), 0);
  ASSERT_EQ(Alias().rejections.size(), 1u);
  const auto& r = Alias().rejections[0].command_rejected();
  EXPECT_EQ(r.rejected_event_id(), "s-1");
  EXPECT_EQ(r.field(), "subject.upn");
  EXPECT_EQ(r.rule(), "identity_unlinked");
  EXPECT_NE(r.reason().find("7 days"), std::string::npos) << r.reason();
  EXPECT_EQ(r.reason().find(kUpn), std::string::npos) << "a reason never repeats the identifier";

  // A link after the hold ended does not bring the rejected command back.
  Run(Link("link-1", kValidNhsNumber, "2025-03-18"), "2025-03-18");
  EXPECT_EQ(Facts(kValidNhsNumber), 0);
  EXPECT_EQ(Alias().rejections.size(), 1u);
}

TEST_F(ShortHold, ALinkJustBeforeTheHoldEndsReleasesTheCommandAndNothingIsRejectedLater) {
  Run(SchoolFact("s-1", v1::FACT_TYPE_CURRENT_SETTING, "Year 3, Oak Primary"), "2025-03-10");
  Run(Link("link-1", kValidNhsNumber, "2025-03-16"), "2025-03-16");
  sim_.AdvanceTo(*ParseDate("2025-04-30"));
  EXPECT_EQ(Facts(kValidNhsNumber), 1);
  EXPECT_TRUE(Alias().rejections.empty()) << "released: nothing left to expire";
}

TEST(IdentityTimers, AHoldHasATimerThatItsReleaseRemoves) {
  v1::Envelope command = SchoolFact("s-1", v1::FACT_TYPE_NEEDS, "x");
  command.set_subject_key(Key(std::string("upn:") + kUpn));
  command.mutable_occurred_at()->set_seconds(Noon("2025-03-10").time_since_epoch().count() /
                                             1'000'000);
  pathway::store::v1::CaseState alias;
  Decision held = Decide(alias, command, Noon("2025-03-10"), {.identity_hold_days = 7});
  ASSERT_EQ(held.events.size(), 1u);
  TimerChanges added = TimersFor(command.subject_key(), alias, held.events, 14);
  ASSERT_EQ(added.add.size(), 1u);
  EXPECT_EQ(added.add[0].kind(), pathway::store::v1::TIMER_KIND_IDENTITY_HOLD);
  EXPECT_EQ(added.add[0].fires_on().day(), 17);
  for (const auto& e : held.events) Apply(alias, e);

  v1::Envelope link = Intake(Link("link-1", kValidNhsNumber, "2025-03-12"), Key).commands.at(0);
  Decision released = Decide(alias, link, Noon("2025-03-12"));
  ASSERT_EQ(released.events.size(), 2u) << "linked, and the held command released";
  TimerChanges removed = TimersFor(command.subject_key(), alias, released.events, 14);
  EXPECT_TRUE(removed.add.empty());
  ASSERT_EQ(removed.remove.size(), 1u);
  EXPECT_EQ(removed.remove[0].SerializeAsString(), added.add[0].SerializeAsString());

  // Linked already: held and released in one decision, so no timer at all.
  for (const auto& e : released.events) Apply(alias, e);
  command.set_event_id("s-2");
  Decision at_once = Decide(alias, command, Noon("2025-03-13"));
  ASSERT_EQ(at_once.events.size(), 2u);
  TimerChanges none = TimersFor(command.subject_key(), alias, at_once.events, 14);
  EXPECT_TRUE(none.add.empty());
  EXPECT_TRUE(none.remove.empty());
}

TEST_F(IdentityTest, AnAliasLinkedToOneChildCannotBeLinkedToAnotherSilently) {
  Run(Link("link-1", kValidNhsNumber, "2025-03-10"), "2025-03-10");
  Run(Link("link-2", kOtherValidNhsNumber, "2025-03-11"), "2025-03-11");
  ASSERT_EQ(Alias().rejections.size(), 1u);
  EXPECT_EQ(Alias().rejections[0].command_rejected().rule(), "identity_conflict");
  EXPECT_EQ(Alias().rejections[0].command_rejected().field(), "identifier_linked.value");
  EXPECT_EQ(Alias().state.linked_subject_key(), Key(kValidNhsNumber));
  const auto* other = Find(Key(kOtherValidNhsNumber));
  EXPECT_TRUE(other == nullptr || other->state.aliases_size() == 0);

  // The same link again is harmless and changes nothing.
  Run(Link("link-3", kValidNhsNumber, "2025-03-12"), "2025-03-12");
  EXPECT_EQ(Alias().rejections.size(), 1u);
  EXPECT_EQ(sim_.subjects().at(Key(kValidNhsNumber)).state.aliases_size(), 1);

  Run(SchoolFact("s-1", v1::FACT_TYPE_CURRENT_SETTING, "Year 3, Oak Primary"), "2025-03-13");
  EXPECT_EQ(Facts(kValidNhsNumber), 1);
  EXPECT_EQ(Facts(kOtherValidNhsNumber), 0);
}

TEST(IdentityIntake, NoClearIdentifierPassesIntakeAndAliasesAreKeyedLikeChildren) {
  IntakeOutput link = Intake(Link("link-1", kValidNhsNumber, "2025-03-10"), Key);
  ASSERT_FALSE(link.rejection);
  ASSERT_EQ(link.commands.size(), 1u);
  const v1::Envelope& c = link.commands[0];
  EXPECT_EQ(c.subject_key(), Key(std::string("upn:") + kUpn)) << "decided on the alias's partition";
  ASSERT_TRUE(c.has_alias_linked());
  EXPECT_EQ(c.alias_linked().subject_key(), Key(kValidNhsNumber));
  std::string bytes = c.SerializeAsString();
  EXPECT_EQ(bytes.find(kUpn), std::string::npos);
  EXPECT_EQ(bytes.find(kValidNhsNumber), std::string::npos);

  IntakeOutput fact = Intake(SchoolFact("s-1", v1::FACT_TYPE_NEEDS, "x"), Key);
  ASSERT_EQ(fact.commands.size(), 1u);
  EXPECT_EQ(fact.commands[0].subject_key(), Key(std::string("upn:") + kUpn));

  v1::Envelope local = SchoolFact("s-2", v1::FACT_TYPE_NEEDS, "x");
  local.mutable_subject()->clear_upn();
  local.mutable_subject()->set_local_id("mosaic:123456");
  IntakeOutput by_local = Intake(local, Key);
  ASSERT_EQ(by_local.commands.size(), 1u);
  EXPECT_EQ(by_local.commands[0].subject_key(), Key("local:mosaic:123456"));
}

TEST(IdentityIntake, MalformedIdentifiersAreRejectedNamingTheField) {
  struct Case {
    v1::Envelope command;
    std::string field, rule;
  };
  std::vector<Case> cases;
  {
    v1::Envelope e = SchoolFact("a", v1::FACT_TYPE_NEEDS, "x");
    e.mutable_subject()->set_upn("C801200005001");  // wrong check letter
    cases.push_back({e, "subject.upn", "upn.check_letter"});
  }
  {
    v1::Envelope e = SchoolFact("b", v1::FACT_TYPE_NEEDS, "x");
    e.mutable_subject()->clear_upn();
    e.mutable_subject()->set_local_id("123456");  // no system
    cases.push_back({e, "subject.local_id", "local_id.format"});
  }
  {
    v1::Envelope e = SchoolFact("c", v1::FACT_TYPE_NEEDS, "x");
    e.mutable_subject()->clear_upn();
    cases.push_back({e, "subject.nhs_number", "required"});
  }
  {
    v1::Envelope e = Link("d", kValidNhsNumber, "2025-03-10", "C801200005001");
    cases.push_back({e, "identifier_linked.value", "upn.check_letter"});
  }
  {
    v1::Envelope e = Link("e", kValidNhsNumber, "2025-03-10");
    e.mutable_subject()->clear_nhs_number();
    e.mutable_subject()->set_upn(kUpn);  // a link must name the NHS number
    cases.push_back({e, "subject.nhs_number", "required"});
  }
  {
    v1::Envelope e = Link("f", kValidNhsNumber, "2025-03-10");
    e.mutable_identifier_linked()->clear_linked_on();
    cases.push_back({e, "identifier_linked.linked_on", "required"});
  }
  {
    v1::Envelope e;
    e.set_event_id("g");
    e.mutable_alias_linked()->set_subject_key(Key(kValidNhsNumber));
    cases.push_back({e, "alias_linked", "internal_command"});
  }
  for (const auto& c : cases) {
    IntakeOutput out = Intake(c.command, Key);
    ASSERT_TRUE(out.rejection) << c.command.event_id();
    EXPECT_TRUE(out.commands.empty());
    // Named among every violation the command has (these lack occurred_at too, listed
    // first: all at once), or as its one rejection.
    std::vector<Rejection> named = out.violations;
    if (named.empty()) named.push_back(*out.rejection);
    EXPECT_TRUE(
        std::any_of(named.begin(), named.end(),
                    [&](const Rejection& r) { return r.field == c.field && r.rule == c.rule; }))
        << c.command.event_id() << ": " << out.rejection->field;
  }
}

TEST(IdentityPublishing, AHeldCommandsContentStaysOffTheEventsTopic) {
  v1::Envelope held;
  held.mutable_command_held()->set_held_event_id("s-1");
  held.mutable_command_held()->set_command("personal bytes");
  v1::Envelope copy = PublishedCopy(held);
  EXPECT_EQ(copy.command_held().held_event_id(), "s-1");
  EXPECT_TRUE(copy.command_held().command().empty());
}

}  // namespace
}  // namespace pathway::workflow
