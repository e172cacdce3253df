// Retention of a closed case's history (workflow/history_retention.h): when a case is
// closed, when its window has passed, and that the trimmed case still folds, checks and
// re-decides as the whole one did, over every realistic history in random arrival
// orders.
#include "workflow/history_retention.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "tests/common/random_mix.h"
#include "tests/common/redecide_fixture.h"
#include "workflow/case_step.h"
#include "workflow/rebuild.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::ArrivalOf;
using pathway::testing::kHistories;
using pathway::testing::LatestSent;
using pathway::testing::ReadHistory;
using pathway::testing::Simulate;

CivilDate Day(int y, unsigned m, unsigned d) {
  return CivilDate{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
}
TimePoint Noon(CivilDate d) { return std::chrono::sys_days{d} + std::chrono::hours(12); }

// A referral-intake instance in `state`, with one step on `on`.
store::CaseState OneInstance(std::string_view at, CivilDate on) {
  store::CaseState s;
  s.set_history_length(3);
  store::PathwayInstance* p = s.add_pathways();
  p->set_instance_id("i-1");
  p->set_pathway(v1::PATHWAY_KIND_REFERRAL_INTAKE);
  p->set_version(1);
  p->set_state(std::string(at));
  store::StepTaken* step = p->add_steps();
  step->set_step(std::string(at));
  *step->mutable_on() = ToProto(on);
  return s;
}

std::vector<v1::Envelope> Recorded(TimePoint at, int n) {
  std::vector<v1::Envelope> out(static_cast<size_t>(n));
  for (auto& e : out) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
    e.mutable_recorded_at()->set_seconds(seconds);
  }
  return out;
}

TEST(HistoryRetention, ACaseIsClosedWhenEveryPathwayEndedAndNothingWaits) {
  const CivilDate on = Day(2025, 3, 12);
  EXPECT_FALSE(ClosedOn(OneInstance("received", on))) << "still open";
  ASSERT_TRUE(ClosedOn(OneInstance("declined", on)));
  EXPECT_EQ(*ClosedOn(OneInstance("declined", on)), on);

  store::CaseState none;
  EXPECT_FALSE(ClosedOn(none)) << "no pathway: nothing closed";
  store::CaseState pending = OneInstance("declined", on);
  pending.mutable_pathways(0)->add_deadlines()->set_status(v1::DEADLINE_STATUS_PENDING);
  EXPECT_FALSE(ClosedOn(pending)) << "a deadline still runs";
  store::CaseState held = OneInstance("declined", on);
  held.add_held();
  EXPECT_FALSE(ClosedOn(held)) << "a command waits for its identity link";
  store::CaseState needs = OneInstance("declined", on);
  needs.add_open_needs()->set_instance_id("i-1");
  EXPECT_TRUE(ClosedOn(needs)) << "a fact its ended pathway asked for holds nothing open";
  needs.add_information_requests()->set_instance_id("i-1");
  EXPECT_TRUE(ClosedOn(needs));
  needs.add_open_needs()->set_instance_id("");
  EXPECT_FALSE(ClosedOn(needs)) << "a fact awaited for the child, not for a pathway";
  store::CaseState erased = OneInstance("declined", on);
  erased.set_erased(true);
  EXPECT_FALSE(ClosedOn(erased));
  store::CaseState unknown = OneInstance("declined", on);
  unknown.mutable_pathways(0)->set_version(99);
  EXPECT_FALSE(ClosedOn(unknown)) << "a definition this binary does not know";

  // The latest step of any instance closes it.
  store::CaseState two = OneInstance("declined", on);
  *two.add_pathways() = OneInstance("redirected", Day(2025, 5, 1)).pathways(0);
  EXPECT_EQ(*ClosedOn(two), Day(2025, 5, 1));
}

TEST(HistoryRetention, TheWindowRunsFromTheClosingAndFromTheLastRecordingWhicheverIsLater) {
  const std::string key(64, 'a');
  const store::CaseState closed = OneInstance("declined", Day(2025, 3, 12));
  const auto history = Recorded(Noon(Day(2025, 3, 12)), 3);
  const CivilDate edge = Day(2025, 4, 11);  // 30 days after
  EXPECT_FALSE(TrimHistory(key, closed, history, Day(2025, 4, 10), 30, Noon(edge)));
  auto trim = TrimHistory(key, closed, history, edge, 30, Noon(edge));
  ASSERT_TRUE(trim);
  ASSERT_TRUE(trim->has_history_trimmed());
  EXPECT_EQ(trim->history_trimmed().entries_removed(), 3u);
  EXPECT_EQ(trim->history_trimmed().sequence(), 3u);
  EXPECT_EQ(trim->subject_key(), key);

  // Recorded late (a message of March processed in April): the window runs from then.
  EXPECT_FALSE(TrimHistory(key, closed, Recorded(Noon(Day(2025, 4, 1)), 3), edge, 30, Noon(edge)));
  EXPECT_FALSE(TrimHistory(key, closed, history, edge, 0, Noon(edge))) << "0: kept";
  EXPECT_FALSE(TrimHistory(key, OneInstance("received", Day(2025, 3, 12)), history, Day(2026, 1, 1),
                           30, Noon(Day(2026, 1, 1))))
      << "open";

  // Folded, it is the case it carries; alone, it has nothing more to remove.
  store::CaseState folded = closed;
  Apply(folded, *trim);
  EXPECT_EQ(folded.history_length(), 4u);
  EXPECT_EQ(folded.history_kept_from(), 3u);
  EXPECT_EQ(CanonicalCase(folded), CanonicalCase(closed));
  EXPECT_FALSE(TrimHistory(key, folded, {*trim}, Day(2026, 1, 1), 30, Noon(Day(2026, 1, 1))));
}

// Runs `arrival` through the simulator and then 800 days on; trims every closed case
// and checks it folds, checks and refuses every command it had decided.
void TrimAndCheck(const std::vector<v1::Envelope>& arrival, std::string_view name, uint32_t seed,
                  int& trimmed, int& refused) {
  const TimePoint now = LatestSent(arrival) + std::chrono::hours(24 * 800);
  const Simulator sim = Simulate(arrival, now);
  for (const auto& [key, subject] : sim.subjects()) {
    auto trim = TrimHistory(key, subject.state, subject.events, LondonDate(now), 400, now);
    if (!trim) continue;
    ++trimmed;
    store::CaseState state = subject.state;
    Apply(state, *trim);
    const std::vector<v1::Envelope> history = {*trim};
    EXPECT_EQ(CanonicalCase(state), CanonicalCase(subject.state)) << name << " seed " << seed;
    const CaseCheck check = CheckCase(key, state, history, now, {});
    EXPECT_FALSE(check.diverged()) << name << " seed " << seed;
    // Every command it decided, sent again now, is refused in the open: its place in
    // the case's order is gone.
    for (const auto& c : CommandsOf(subject.events)) {
      CaseStep step = DecideCommand(state, c, now, {});
      if (step.needs_log) {
        const auto log = CommandsOf(history);
        step = DecideCommand(state, c, now, {}, &log);
      }
      ASSERT_TRUE(step.rejection) << name << " seed " << seed << " " << c.event_id();
      EXPECT_FALSE(step.new_state) << "refused, not kept";
      refused += step.rejection->rule == "history.trimmed";
    }
  }
}

TEST(HistoryRetention, EveryClosedCaseOfEveryHistoryTrimmedStillChecksAndRefusesWhatCameBefore) {
  int trimmed = 0;
  int refused = 0;
  for (std::string_view name : kHistories) {
    const std::vector<v1::Envelope> full = ReadHistory(std::string(name));
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      TrimAndCheck(ArrivalOf(full, seed), name, seed, trimmed, refused);
    }
  }
  // Random mixes of every pathway's commands over three children, some by UPN only.
  const auto pool = pathway::testing::HistoryPool();
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    TrimAndCheck(pathway::testing::RandomMix(pool, seed), "random mix", seed, trimmed, refused);
  }
  // Not vacuous: the annual review's and the disagreement's histories end closed in
  // most arrival orders (the others end on a pathway that goes on, or awaiting a fact).
  EXPECT_GE(trimmed, 6);
  EXPECT_GT(refused, 10);
}

}  // namespace
}  // namespace pathway::workflow
