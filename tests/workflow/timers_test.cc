// Deadline timers: a warning `lead` days before and a breach the day after; removed
// when the deadline is met; each fires at most once.
#include "workflow/timers.h"

#include <gtest/gtest.h>

#include "tests/common/commands.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Day;

v1::Envelope SetEvent(const std::string& set_on, const std::string& due) {
  v1::Envelope e;
  auto* s = e.mutable_deadline_set();
  s->set_instance_id("i1");
  s->set_name("final_plan");
  *s->mutable_set_on() = Day(set_on);
  *s->mutable_due() = Day(due);
  s->set_exceptable(true);
  return e;
}

store::CaseState WithInstance() {
  store::CaseState state;
  state.add_pathways()->set_instance_id("i1");
  return state;
}

std::string FiresOn(const store::Timer& t) { return FormatDate(*ToCivil(t.fires_on())); }

TEST(Timers, WarningLeadDaysBeforeAndBreachTheDayAfter) {
  TimerChanges c = TimersFor("s", WithInstance(), {SetEvent("2025-01-06", "2025-05-26")}, 14);
  ASSERT_EQ(c.add.size(), 2u);
  EXPECT_EQ(c.add[0].kind(), store::TIMER_KIND_WARNING);
  EXPECT_EQ(FiresOn(c.add[0]), "2025-05-12");
  EXPECT_EQ(c.add[1].kind(), store::TIMER_KIND_BREACH);
  EXPECT_EQ(FiresOn(c.add[1]), "2025-05-27");
  EXPECT_TRUE(c.remove.empty());
}

TEST(Timers, ShortDeadlineIsWarnedTheDayAfterItIsSet) {
  // Mediation certificate: 3 working days, shorter than the 14-day lead.
  TimerChanges c = TimersFor("s", WithInstance(), {SetEvent("2025-03-03", "2025-03-06")}, 14);
  ASSERT_EQ(c.add.size(), 2u);
  EXPECT_EQ(FiresOn(c.add[0]), "2025-03-04");
  TimerChanges none = TimersFor("s", WithInstance(), {SetEvent("2025-03-03", "2025-03-04")}, 14);
  ASSERT_EQ(none.add.size(), 1u) << "no room for a warning before a next-day deadline";
  EXPECT_EQ(none.add[0].kind(), store::TIMER_KIND_BREACH);
}

TEST(Timers, MeetingADeadlineRemovesExactlyItsTimers) {
  store::CaseState state = WithInstance();
  v1::Envelope set = SetEvent("2025-01-06", "2025-05-26");
  TimerChanges added = TimersFor("s", state, {set}, 14);
  Apply(state, set);
  v1::Envelope met;
  met.mutable_deadline_met()->set_instance_id("i1");
  met.mutable_deadline_met()->set_name("final_plan");
  TimerChanges removed = TimersFor("s", state, {met}, 14);
  ASSERT_EQ(removed.remove.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(removed.remove[i].SerializeAsString(), added.add[i].SerializeAsString());
  }
}

TEST(Timers, FireOnceWhilePendingAndExceptedWhenAnExceptionIsRecorded) {
  store::CaseState state = WithInstance();
  v1::Envelope set = SetEvent("2025-01-06", "2025-05-26");
  TimerChanges c = TimersFor("s", state, {set}, 14);
  Apply(state, set);
  TimePoint now = pathway::testing::At("2025-05-12");
  auto warning = FireTimer(state, c.add[0], now);
  ASSERT_EQ(warning.size(), 1u);
  EXPECT_EQ(warning[0].deadline_warning().days_left(), 14);
  EXPECT_EQ(FireTimer(state, c.add[0], now)[0].event_id(), warning[0].event_id())
      << "deterministic ids";
  Apply(state, warning[0]);
  EXPECT_TRUE(FireTimer(state, c.add[0], now).empty()) << "warned once";

  *state.mutable_pathways(0)->add_facts() = MakeFact("exception", "personal_circumstances");
  auto breach = FireTimer(state, c.add[1], pathway::testing::At("2025-05-27"));
  ASSERT_EQ(breach.size(), 1u);
  EXPECT_TRUE(breach[0].deadline_breached().excepted());
  Apply(state, breach[0]);
  EXPECT_EQ(state.pathways(0).deadlines(0).status(), v1::DEADLINE_STATUS_EXCEPTED);
  EXPECT_TRUE(FireTimer(state, c.add[1], pathway::testing::At("2025-05-28")).empty());
}

TEST(Timers, OrderIsByDateThenIdentity) {
  TimerChanges c = TimersFor("s", WithInstance(), {SetEvent("2025-01-06", "2025-05-26")}, 14);
  EXPECT_TRUE(TimerBefore(c.add[0], c.add[1]));
  EXPECT_FALSE(TimerBefore(c.add[1], c.add[0]));
}

}  // namespace
}  // namespace pathway::workflow

namespace pathway::workflow {
namespace {

TEST(Timers, ASupersededDeadlineLosesItsTimersAndNeverFires) {
  store::CaseState state = WithInstance();
  v1::Envelope set = SetEvent("2025-01-06", "2025-05-26");
  TimerChanges added = TimersFor("s", state, {set}, 14);
  Apply(state, set);
  v1::Envelope superseded;
  auto* s = superseded.mutable_deadline_superseded();
  s->set_instance_id("i1");
  s->set_name("final_plan");
  *s->mutable_due() = Day("2025-05-26");
  s->set_superseded_by("final_plan");
  *s->mutable_superseded_by_due() = Day("2025-06-30");
  TimerChanges removed = TimersFor("s", state, {superseded}, 14);
  ASSERT_EQ(removed.remove.size(), 2u);
  Apply(state, superseded);
  EXPECT_EQ(state.pathways(0).deadlines(0).status(), v1::DEADLINE_STATUS_SUPERSEDED);
  EXPECT_EQ(state.pathways(0).deadlines(0).superseded_by(), "final_plan");
  for (const auto& t : added.add) {
    EXPECT_TRUE(FireTimer(state, t, pathway::testing::At("2025-06-01")).empty());
  }
}

TEST(Timers, ADeadlineSetAndMetInOneDecisionNeverGetsTimers) {
  // A step implied before the one that meets it: set and met in the same batch.
  v1::Envelope met;
  met.mutable_deadline_met()->set_instance_id("i1");
  met.mutable_deadline_met()->set_name("final_plan");
  TimerChanges c = TimersFor("s", WithInstance(), {SetEvent("2025-01-06", "2025-05-26"), met}, 14);
  EXPECT_TRUE(c.add.empty());
  EXPECT_TRUE(c.remove.empty());
}

}  // namespace
}  // namespace pathway::workflow
