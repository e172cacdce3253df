// Decisions and timers over a stored case whose dates are corrupt. The engine writes
// only real dates, but a case read back from RocksDB or the changelog is bytes: a bad
// date must give a wrong answer, never undefined behaviour (an empty std::optional was
// dereferenced; found by fuzz/decide_fuzz, inputs in fuzz/regressions/decide_fuzz/).
#include <gtest/gtest.h>

#include "tests/common/commands.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/identity.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::At;
using pathway::testing::Command;
using pathway::testing::Day;

v1::Date NotADate() {
  v1::Date d;
  d.set_year(2025);
  d.set_month(13);
  d.set_day(1);
  return d;
}

v1::Envelope Routed(v1::Envelope command) {
  IntakeOutput routed = Intake(std::move(command), [](std::string_view id) {
    return std::string(64 - std::min<size_t>(id.size(), 64), '0') + std::string(id.substr(0, 64));
  });
  EXPECT_FALSE(routed.rejection) << routed.rejection->rule;
  return routed.commands.at(0);
}

// Decides `command` on `state` and applies its events; the decision's rejection rule.
std::string DecideAndApply(store::CaseState& state, v1::Envelope command, const std::string& date) {
  Decision d = Decide(state, Routed(std::move(command)), At(date));
  for (const auto& e : d.events) Apply(state, e);
  return d.rejection ? d.rejection->rule : "";
}

TEST(StoredState, AnEhcRequestWithACorruptStartDateCountsFromTheEpoch) {
  store::CaseState state;
  ASSERT_EQ(DecideAndApply(state,
                           Command("req", "2025-01-06",
                                   [](v1::Envelope& e) {
                                     auto* c = e.mutable_ehc_assessment_requested();
                                     c->set_request_id("EHC-1");
                                     c->set_requested_by(v1::EHC_REQUESTER_PARENT);
                                     *c->mutable_received_on() = Day("2025-01-06");
                                   }),
                           "2025-01-06"),
            "");
  ASSERT_EQ(state.pathways_size(), 1);
  *state.mutable_pathways(0)->mutable_started_on() = NotADate();

  ASSERT_EQ(DecideAndApply(state,
                           Command("decide", "2025-02-10",
                                   [](v1::Envelope& e) {
                                     auto* c = e.mutable_ehc_assessment_decided();
                                     c->set_request_id("EHC-1");
                                     c->set_decision(v1::ASSESSMENT_DECISION_ASSESS);
                                     *c->mutable_decided_on() = Day("2025-02-10");
                                   }),
                           "2025-02-10"),
            "");
  // The 20-week clock runs from the request's stored date, read as 1970-01-01.
  bool found = false;
  for (const auto& d : state.pathways(0).deadlines()) {
    if (d.name() != "final_plan") continue;
    found = true;
    EXPECT_EQ(FormatDate(StoredDate(d.due())), "1970-05-21");
  }
  EXPECT_TRUE(found);
}

TEST(StoredState, ATimerWithACorruptDueDateFiresWithoutUndefinedBehaviour) {
  store::CaseState state;
  auto* instance = state.add_pathways();
  instance->set_instance_id("i1");
  auto* deadline = instance->add_deadlines();
  deadline->set_name("final_plan");
  deadline->set_status(v1::DEADLINE_STATUS_PENDING);
  *deadline->mutable_due() = NotADate();
  store::Timer timer;
  timer.set_subject_key("s");
  timer.set_instance_id("i1");
  timer.set_deadline("final_plan");
  *timer.mutable_due() = NotADate();
  *timer.mutable_fires_on() = NotADate();

  timer.set_kind(store::TIMER_KIND_WARNING);
  std::vector<v1::Envelope> warned = FireTimer(state, timer, At("2025-06-01"));
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0].deadline_warning().days_left(), 0);

  timer.set_kind(store::TIMER_KIND_BREACH);
  std::vector<v1::Envelope> breached = FireTimer(state, timer, At("2025-06-01"));
  ASSERT_EQ(breached.size(), 1u);
  EXPECT_TRUE(breached[0].has_deadline_breached());
  EXPECT_NE(breached[0].event_id(), warned[0].event_id());
}

}  // namespace
}  // namespace pathway::workflow
