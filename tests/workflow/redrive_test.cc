// Re-drive (workflow/redrive.h): a partner's bad messages left out and the case
// re-decided give the case as if they had never been sent, for every history in
// random arrival orders.
#include "workflow/redrive.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "tests/common/redecide_fixture.h"
#include "workflow/pathway.h"
#include "workflow/rebuild.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::kHistories;
using pathway::testing::LatestSent;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
using pathway::testing::Simulate;

TEST(Redrive, LeavingOutAPartnersMessagesGivesTheCaseAsIfTheyHadNeverBeenSent) {
  int changed = 0, compared = 0;
  for (std::string_view name : kHistories) {
    const std::vector<v1::Envelope> full = ReadHistory(std::string(name));
    for (uint32_t seed = 1; seed <= 8; ++seed) {
      std::mt19937 rng(seed);
      std::vector<v1::Envelope> arrival = full;
      // Pathway steps (never the first message) sent by the partner with the bad week.
      std::set<std::string> bad;
      for (size_t i = 1; i < arrival.size(); ++i) {
        if (FindCommandRoute(arrival[i]) == nullptr || rng() % 4 != 0) continue;
        arrival[i].mutable_source()->set_system("bad-sys");
        bad.insert(arrival[i].event_id());
      }
      if (seed > 1) std::shuffle(arrival.begin() + 1, arrival.end(), rng);
      std::vector<v1::Envelope> without;
      for (const auto& c : arrival) {
        if (!bad.count(c.event_id())) without.push_back(c);
      }
      const TimePoint end = LatestSent(full) + std::chrono::hours(24 * 30);

      Simulator sent = Simulate(arrival, end);
      Simulator never = Simulate(without, end);
      for (const auto& [key, subject] : sent.subjects()) {
        auto it = never.subjects().find(key);
        if (it == never.subjects().end()) continue;  // a case only the bad messages made
        RedriveFilter filter{"bad-sys", std::nullopt, std::nullopt, ""};
        const RedrivePlan plan = PlanRedrive(key, subject.state, subject.events, filter, end, {});
        const store::CaseState expected = FiredThrough(key, it->second.state, end, {});
        EXPECT_EQ(CanonicalCase(plan.after), CanonicalCase(expected))
            << name << " seed " << seed << ": " << plan.diff.ShortDebugString();
        for (const auto& id : plan.excluded) {
          EXPECT_TRUE(bad.count(id)) << name << " seed " << seed << ": " << id;
        }
        ++compared;
        changed += plan.changes;
      }
    }
  }
  EXPECT_EQ(compared, 8 * 8);  // one child per history
  EXPECT_GT(changed, 20);      // not vacuous: leaving messages out changed cases
}

TEST(Redrive, OnlyMessagesRecordedInTheWindowAreLeftOut) {
  // Every step sent by "bad-sys"; the window covers only part of the history.
  std::vector<v1::Envelope> history = ReadHistory("ehc_assessment.jsonl");
  for (size_t i = 1; i < history.size(); ++i) history[i].mutable_source()->set_system("bad-sys");
  TimePoint end = OccurredAt(history.back()) + std::chrono::hours(24);
  Simulator sim = Simulate(history, end);
  ASSERT_EQ(sim.subjects().size(), 1u);
  const auto& [key, subject] = *sim.subjects().begin();
  const CivilDate mid = LondonDate(OccurredAt(history[history.size() / 2]));

  RedriveFilter window{"bad-sys", mid, std::nullopt, ""};
  const RedrivePlan plan = PlanRedrive(key, subject.state, subject.events, window, end, {});
  ASSERT_FALSE(plan.excluded.empty());
  std::set<std::string> expected;
  for (size_t i = 1; i < history.size(); ++i) {
    if (std::chrono::sys_days{LondonDate(OccurredAt(history[i]))} >= std::chrono::sys_days{mid}) {
      expected.insert(history[i].event_id());
    }
  }
  for (const auto& id : plan.excluded) EXPECT_TRUE(expected.count(id)) << id;
  EXPECT_TRUE(plan.changes);
  EXPECT_FALSE(plan.fields.empty());

  // Nobody left out: the case re-decided is the case stored.
  const RedrivePlan none = PlanRedrive(key, subject.state, subject.events, {}, end, {});
  EXPECT_TRUE(none.excluded.empty());
  EXPECT_FALSE(none.changes) << none.diff.ShortDebugString();
  // Another partner's name leaves everything in.
  const RedrivePlan other =
      PlanRedrive(key, subject.state, subject.events, {"other-sys", {}, {}, ""}, end, {});
  EXPECT_TRUE(other.excluded.empty());
  EXPECT_FALSE(other.changes);
}

TEST(Redrive, NamingAnInstanceLeavesOutOnlyThatPathwaysCommands) {
  // One child on several pathways, every step after the first message sent by one
  // system: naming one instance leaves out its steps and keeps the other pathways'.
  std::vector<v1::Envelope> history = ReadHistory("multi_pathway_child.jsonl");
  for (size_t i = 1; i < history.size(); ++i) history[i].mutable_source()->set_system("bad-sys");
  TimePoint end = OccurredAt(history.back()) + std::chrono::hours(24);
  Simulator sim = Simulate(history, end);
  ASSERT_EQ(sim.subjects().size(), 1u);
  const auto& [key, subject] = *sim.subjects().begin();
  ASSERT_GE(subject.state.pathways_size(), 2);

  const RedrivePlan all = PlanRedrive(key, subject.state, subject.events,
                                      {"bad-sys", std::nullopt, std::nullopt, ""}, end, {});
  std::set<std::string> every(all.excluded.begin(), all.excluded.end());
  size_t covered = 0;
  for (const auto& instance : subject.state.pathways()) {
    const RedrivePlan one =
        PlanRedrive(key, subject.state, subject.events,
                    {"bad-sys", std::nullopt, std::nullopt, instance.instance_id()}, end, {});
    for (const auto& id : one.excluded) {
      EXPECT_TRUE(every.count(id)) << id;
      // The command left out is a step of this instance's pathway and reference.
      auto command = std::find_if(history.begin(), history.end(),
                                  [&](const v1::Envelope& c) { return c.event_id() == id; });
      ASSERT_NE(command, history.end());
      const CommandRoute* route = FindCommandRoute(*command);
      ASSERT_NE(route, nullptr);
      EXPECT_EQ(route->kind, instance.pathway());
      EXPECT_EQ(CommandReference(*route, *command), instance.reference());
    }
    covered += one.excluded.size();
    EXPECT_LT(one.excluded.size(), every.size()) << "the other pathways keep their commands";
  }
  EXPECT_EQ(covered, every.size()) << "each command left out belongs to one instance";
  // An instance the case does not hold: nothing is left out.
  const RedrivePlan none =
      PlanRedrive(key, subject.state, subject.events,
                  {"bad-sys", std::nullopt, std::nullopt, std::string(32, '0')}, end, {});
  EXPECT_TRUE(none.excluded.empty());
  EXPECT_FALSE(none.changes);
}

// The engine's side: a CaseRedriveRequested decided as the engine decides it.
struct Applied {
  store::CaseState state;
  std::vector<v1::Envelope> history;
};

// Carries out `step` as the engine does: the new state, the history appended.
void CarryOut(Applied& c, const CaseStep& step) {
  ASSERT_TRUE(step.new_state.has_value());
  c.state = *step.new_state;
  for (const auto& e : step.history) c.history.push_back(e);
}

v1::Envelope RedriveCommand(const std::string& key, const std::string& id,
                            const std::vector<std::string>& withdraw, TimePoint at) {
  v1::Envelope e;
  e.set_event_id(id);
  e.set_subject_key(key);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathwayctl");
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  e.mutable_occurred_at()->set_seconds(secs.count());
  e.mutable_case_redrive_requested()->set_operation_id("op-1");
  for (const auto& w : withdraw) e.mutable_case_redrive_requested()->add_withdraw_event_ids(w);
  return e;
}

TEST(RedriveCommand, WithdrawsTheCommandsNamedCorrectsTheCaseOnceAndStaysWithdrawn) {
  std::vector<v1::Envelope> history = ReadHistory("ehc_assessment.jsonl");
  const TimePoint end = OccurredAt(history.back()) + std::chrono::hours(24);
  Simulator sim = Simulate(history, end);
  ASSERT_EQ(sim.subjects().size(), 1u);
  const auto& [key, subject] = *sim.subjects().begin();
  // The second step the case kept: everything after it leans on it.
  const std::vector<v1::Envelope> log = CommandsOf(subject.events);
  ASSERT_GE(log.size(), 3u);
  const std::string bad = log[1].event_id();

  Applied c{subject.state, subject.events};
  const v1::Envelope redrive = RedriveCommand(key, "redrive-1", {bad}, end);
  CaseStep first = DecideCommand(c.state, redrive, end, {});
  ASSERT_TRUE(first.needs_log);
  CaseStep step = DecideCommand(c.state, redrive, end, {}, &log);
  ASSERT_FALSE(step.rejection.has_value()) << step.rejection->rule;
  ASSERT_EQ(step.history.size(), 2u);
  EXPECT_TRUE(step.history[0].has_commands_withdrawn());
  ASSERT_TRUE(step.history[1].has_case_corrected());
  EXPECT_EQ(step.history[1].case_corrected().caused_by(), "redrive-1");
  // Partners see the correction (without the state it carries), never the marker.
  int published = 0;
  for (const auto& out : step.outputs) {
    EXPECT_FALSE(out.envelope.has_commands_withdrawn());
    if (out.envelope.has_case_corrected()) {
      ++published;
      EXPECT_TRUE(out.envelope.case_corrected().state().empty());
    }
  }
  EXPECT_EQ(published, 1);
  CarryOut(c, step);

  // The case is the one re-decided without the withdrawn command, and still rebuilds.
  std::vector<v1::Envelope> without;
  for (const auto& k : log) {
    if (k.event_id() != bad) without.push_back(k);
  }
  EXPECT_EQ(CanonicalCase(c.state),
            CanonicalCase(RedecideFromLog(key, subject.state, without, end, {})));
  const CaseCheck check = CheckCase(key, c.state, c.history, end, {});
  EXPECT_FALSE(check.diverged()) << check.redecided.ShortDebugString();
  for (const auto& kept : CommandsOf(c.history)) EXPECT_NE(kept.event_id(), bad);

  // Sent again (a run killed and run again, with a new id): nothing changes, nothing out.
  const std::vector<v1::Envelope> after = CommandsOf(c.history);
  CaseStep again =
      DecideCommand(c.state, RedriveCommand(key, "redrive-2", {bad}, end), end, {}, &after);
  EXPECT_FALSE(again.new_state.has_value());
  EXPECT_TRUE(again.outputs.empty());
}

TEST(RedriveCommand, WithdrawsOnlyTheNamedSystemsCommandWhenTwoSystemsShareAnId) {
  // Another system sent a later step under the event id of the first system's second
  // one: the case keeps both (commands are told apart by sender and id).
  std::vector<v1::Envelope> history = ReadHistory("ehc_assessment.jsonl");
  ASSERT_GE(history.size(), 4u);
  const std::string shared = history[1].event_id();
  const std::string bad_system = "bad-sys";
  history[1].mutable_source()->set_system(bad_system);
  history[2].set_event_id(shared);
  history[2].mutable_source()->set_system("other-sys");
  ASSERT_NE(bad_system, "other-sys");
  const TimePoint end = OccurredAt(history.back()) + std::chrono::hours(24);
  Simulator sim = Simulate(history, end);
  ASSERT_EQ(sim.subjects().size(), 1u);
  const auto& [key, subject] = *sim.subjects().begin();
  const std::vector<v1::Envelope> log = CommandsOf(subject.events);
  auto with_shared_id = [&](const std::vector<v1::Envelope>& commands) {
    std::vector<std::string> systems;
    for (const auto& c : commands) {
      if (c.event_id() == shared) systems.push_back(c.source().system());
    }
    return systems;
  };
  ASSERT_EQ(with_shared_id(log).size(), 2u);

  // The dry run leaves out the bad system's command only, and so does the engine.
  const RedrivePlan plan = PlanRedrive(key, subject.state, subject.events,
                                       {bad_system, std::nullopt, std::nullopt, ""}, end, {});
  ASSERT_EQ(plan.excluded, std::vector<std::string>{shared});
  v1::Envelope redrive = RedriveCommand(key, "redrive-1", plan.excluded, end);
  redrive.mutable_case_redrive_requested()->set_withdraw_source_system(bad_system);
  Applied c{subject.state, subject.events};
  CaseStep step = DecideCommand(c.state, redrive, end, {}, &log);
  ASSERT_FALSE(step.rejection.has_value());
  CarryOut(c, step);
  EXPECT_EQ(with_shared_id(CommandsOf(c.history)), std::vector<std::string>{"other-sys"});
  EXPECT_EQ(CanonicalCase(FiredThrough(key, c.state, end, {})), CanonicalCase(plan.after));
  EXPECT_FALSE(CheckCase(key, c.state, c.history, end, {}).diverged());
}

TEST(RedriveCommand, IsNotAPartnersCommandAndChangesNothingForAnUnknownChild) {
  v1::Envelope e = RedriveCommand("", "redrive-x", {}, pathway::testing::At("2026-01-01"));
  e.mutable_subject()->set_nhs_number("9434765919");
  const Routing routing = RouteCommand(e);
  ASSERT_TRUE(routing.rejection.has_value());
  EXPECT_EQ(routing.rejection->rule, "payload.not_a_command");
  e.set_subject_key(std::string(64, 'a'));
  CaseStep step = DecideCommand(store::CaseState(), e, pathway::testing::At("2026-01-01"), {});
  EXPECT_FALSE(step.needs_log);
  EXPECT_FALSE(step.new_state.has_value());
  EXPECT_TRUE(step.outputs.empty());
}

TEST(RedriveFilter, AWindowGivenAsTextIsCheckedAndDescribedOneWay) {
  using Fault = RedriveFilter::Fault;
  RedriveFilter f;
  EXPECT_EQ(f.SetWindow("", "2025-03-01", ""), Fault::kDatesWithoutSource);
  EXPECT_EQ(f.SetWindow("rio", "2025-13-01", ""), Fault::kFrom);
  EXPECT_EQ(f.SetWindow("rio", "", "soon"), Fault::kTo);
  EXPECT_EQ(f.SetWindow("rio", "2025-03-08", "2025-03-01"), Fault::kToBeforeFrom);
  EXPECT_EQ(f.SetWindow("", "", ""), std::nullopt);
  EXPECT_EQ(f.Describe(), "");
  EXPECT_EQ(f.SetWindow("rio", "2025-03-01", "2025-03-01"), std::nullopt);
  EXPECT_EQ(f.Describe(), "without rio from 2025-03-01 to 2025-03-01");
  EXPECT_EQ(f.SetWindow("rio", "", ""), std::nullopt);
  EXPECT_FALSE(f.from.has_value()) << "a window set again starts afresh";
  EXPECT_EQ(f.Describe(), "without rio from the start to now");
}

}  // namespace
}  // namespace pathway::workflow
