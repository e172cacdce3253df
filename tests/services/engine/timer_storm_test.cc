// The timer storm test (issue 4, "Deliver" 3 and 7): thousands of statutory deadlines
// fall due on the same day while partners keep sending referrals. Inbound commands
// must not wait behind the storm, and every due deadline must fire exactly once, also
// when the engine restarts in the middle of it.
//
// The scenario: kChildren EHC needs assessment requests, all received on 2025-03-10,
// each starting the 6-week decision_to_assess clock (due 2025-04-21, warning timer on
// 2025-04-07, breach timer on 2025-04-22). Every fifth request is decided (assess) on
// the day, which meets that deadline and starts the 16 and 20-week ones (due in June
// and July, not due during the storm). Simulated time then jumps to 2025-05-01: every
// undecided request has a warning and a breach due at once. Before each Step of the
// storm, kPerStep referrals for new children are published.
//
// Scale: the engine's per-Step limits are the defaults divided by kScale (the same
// ratios), so that a few thousand due timers outlast the per-Step timer bound by tens
// of Steps, as 100,000 would with the defaults (bench/timer_storm_bench.cc runs those).
//
// The latency bound, derived from Engine::Step (services/engine/engine.cc and the
// stages it runs) with M = options.max_batch, O = options.outbox_batch and
// B = kPerStep <= M:
//   - IntakeStage::Run reads up to M inbound messages, so the B referrals published
//     before Step k are all re-keyed onto pathway.commands.v1 in Step k (the memory
//     bus appends at once);
//   - CommandStage::FireTimers then fires at most M timers per owned partition,
//     however many are due;
//   - CommandStage::Run reads up to M commands, so all B are decided and committed in
//     Step k ("commit latency" 1 Step, asserted);
//   - OutboxSender::SendOwned sends up to O outbox entries per partition, oldest
//     first, and the delivery reports come at the end of the Step. A command's entries
//     sit behind every entry not yet sent, so they go out in Step k only if the
//     partition's unsent outbox does not grow from Step to Step.
// Per partition and Step, a fired timer writes 5 outbox entries (the event and 4
// changelog mirrors: outbox entry, history, case state, timer removal) and its
// delivery one more (the changelog tombstone of the delivered entry): up to 6M. A
// referral writes 8 (2 events, 6 mirrors) and 2 tombstones. So while O >= 6M + 10B
// nothing accumulates and a referral's events are on pathway.events.v1 at the end of
// the Step that read it: "emit latency" 1 Step. The test allows kLatencyBoundSteps = 2
// (one Step of slack should the stages of a Step be reordered); an outbox that falls
// behind the timers instead delays the referrals by a number of Steps that grows with
// the number of due timers, which is what this test exists to catch.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/topic_tail.h"
#include "workflow/calendar.h"
#include "workflow/simulator.h"

namespace pathway::engine {
namespace {
using pathway::testing::At;
using pathway::testing::Command;
using pathway::testing::EngineHarness;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

constexpr int kChildren = 1500;  // EHC needs assessment requests
constexpr const char* kRequestDay = "2025-03-10";
constexpr const char* kStormDay = "2025-05-01";  // after every 6-week deadline
constexpr size_t kScale = 16;                    // per-Step limits: the defaults / kScale
constexpr int kPerStep = 2;                      // referrals published before each storm Step
constexpr int kPublishSteps = 20;                // storm Steps with referrals published
constexpr int kRestartAfterStep = 10;            // the restart run's crash point
constexpr int kLatencyBoundSteps = 2;            // see the header comment
constexpr int kMaxStormSteps = 2000;             // a loop bound, far above what the storm needs

std::string NhsNumber(int i) { return pathway::testing::TestNhsNumber(i, 500000000); }

bool DecidedOnTheDay(int child) { return child % 5 == 0; }

// The requests (and decisions) of every child, all on kRequestDay.
std::vector<Envelope> Requests() {
  std::vector<Envelope> out;
  for (int i = 0; i < kChildren; ++i) {
    std::string nhs = NhsNumber(i);
    std::string request_id = "EHC-" + std::to_string(i);
    out.push_back(Command(
        "ehc-request-" + std::to_string(i), kRequestDay,
        [&](Envelope& e) {
          auto* r = e.mutable_ehc_assessment_requested();
          r->set_request_id(request_id);
          r->set_requested_by(pathway::v1::EHC_REQUESTER_PARENT);
          *r->mutable_received_on() = pathway::testing::Day(kRequestDay);
        },
        nhs));
    if (DecidedOnTheDay(i)) {
      out.push_back(Command(
          "ehc-decided-" + std::to_string(i), kRequestDay,
          [&](Envelope& e) {
            auto* d = e.mutable_ehc_assessment_decided();
            d->set_request_id(request_id);
            d->set_decision(pathway::v1::ASSESSMENT_DECISION_ASSESS);
            *d->mutable_decided_on() = pathway::testing::Day(kRequestDay);
          },
          nhs));
    }
  }
  return out;
}

// The j-th referral of a new child, sent during the storm.
Envelope StormReferral(int j) {
  return ValidReferral("storm-referral-" + std::to_string(j), NhsNumber(kChildren + j));
}

bool IsTimerEvent(const Envelope& e) {
  return e.has_deadline_warning() || e.has_deadline_breached();
}

struct Expected {
  size_t warnings = 0;
  size_t breaches = 0;
};

// Derived from the stored case states before the jump: each pending deadline due
// before the storm day has a breach due and, not yet warned, a warning due. Fails if a
// pending deadline has only its warning due (the scenario keeps them apart).
void ExpectedFromCaseStates(EngineHarness& h, Expected& out) {
  auto storm = *workflow::ParseDate(kStormDay);
  for (int32_t partition : h.stores().OpenPartitions()) {
    state::CaseStore* store = h.stores().Find(partition);
    // Keys, then each case read back through the store (values are sealed at rest).
    std::vector<std::string> subjects;
    Status scanned = store->Scan(
        state::ColumnFamily::kCaseState,
        [&](std::string_view key, std::string_view) { subjects.push_back(HexEncode(key)); });
    ASSERT_TRUE(scanned.ok()) << scanned.error().ToString();
    for (const std::string& subject : subjects) {
      auto loaded = store->LoadCase(subject);
      ASSERT_TRUE(loaded.ok() && loaded->has_value()) << "a stored case does not read";
      const pathway::store::v1::CaseState& state = **loaded;
      for (const auto& p : state.pathways()) {
        for (const auto& d : p.deadlines()) {
          if (d.status() != pathway::v1::DEADLINE_STATUS_PENDING) {
            continue;
          }
          auto due = *workflow::ToCivil(d.due());
          int days = workflow::DaysBetween(due, storm);
          ASSERT_TRUE(days > 0 || days < -14)
              << "deadline " << d.name() << " due " << workflow::FormatDate(due)
              << " has only its warning due on the storm day";
          if (days > 0) {
            ++out.breaches;
            if (!d.warned()) ++out.warnings;
          }
        }
      }
    }
  }
}

// Per-Step limits: the defaults divided by kScale (see the header comment).
void ScaleDown(EngineHarness& h) {
  const engine::EngineOptions defaults;
  h.options().max_batch = defaults.max_batch / kScale;
  h.options().outbox_batch = defaults.outbox_batch / kScale;
  h.Restart();
}

// The engine's data and topics once every request is processed, before the jump;
// built once per process and copied by each run.
struct Prepared {
  std::unique_ptr<EngineHarness> h;  // stopped
  Expected expected;                 // derived from its case states
  std::set<std::string> simulated;   // warning and breach ids the simulator fires
  bool ok = false;
};

void Prepare(Prepared& out) {
  out.h = std::make_unique<EngineHarness>();
  EngineHarness& h = *out.h;
  ScaleDown(h);
  ASSERT_GE(h.options().max_batch, static_cast<size_t>(kPerStep)) << "B <= M (header comment)";
  h.time().Set(At(kRequestDay));
  const auto requests = Requests();
  for (const auto& e : requests) h.Publish(e);
  // Bounded: the requests take requests/max_batch Steps, their outbox about as many.
  Status setup = h.RunUntilIdle(2000);
  ASSERT_TRUE(setup.ok()) << "the requests were not processed: " << setup.error().ToString();
  ASSERT_EQ(h.engine().stats().timers_fired, 0u) << "no timer is due on the request day";
  ASSERT_EQ(h.engine().stats().rejections, 0u) << "every request is valid";
  ASSERT_EQ(h.Cases().size(), static_cast<size_t>(kChildren)) << "one case per child";
  ASSERT_EQ(h.PendingOutputs(), 0u) << "every output of the requests was delivered";
  ExpectedFromCaseStates(h, out.expected);
  if (::testing::Test::HasFatalFailure()) return;

  // The reference: the simulator over the same requests, advanced to the storm day.
  workflow::Simulator sim([&h](std::string_view nhs) { return h.SubjectOf(std::string(nhs)); });
  for (const auto& e : requests) sim.Process(e, At(kRequestDay));
  sim.AdvanceTo(*workflow::ParseDate(kStormDay));
  for (const auto& [subject, simulated] : sim.subjects()) {
    for (const auto& e : simulated.events) {
      if (IsTimerEvent(e)) out.simulated.insert(e.event_id());
    }
  }
  h.Restart();  // a fence after the requests: each copy's takeover has little to check
  h.Stop();
  out.ok = true;
}

const Prepared& Requested() {
  static Prepared prepared;
  static bool tried = false;
  if (!tried) {
    tried = true;
    Prepare(prepared);
  }
  return prepared;
}

struct StormRun {
  Expected expected;
  std::set<std::string> simulated;
  std::map<std::string, int> timer_events;   // event id -> copies on pathway.events.v1
  size_t warnings = 0;                       // distinct DeadlineWarning ids
  size_t breaches = 0;                       // distinct DeadlineBreached ids
  int storm_steps = 0;                       // Steps until no timer was due any more
  int referrals = 0;                         // referrals published during the storm
  int max_emit_latency = 0;                  // Steps until a referral's events were emitted
  int max_commit_latency = 0;                // Steps until a referral was committed
  std::map<std::string, std::string> cases;  // the final state and history of every case
};

// Runs the storm on a copy of the prepared engine. With `restart`, the engine is
// restarted mid-storm (after storm Step kRestartAfterStep, whose deliveries are never
// confirmed, as for a process killed between sending its outbox and hearing back).
void RunStorm(bool restart, StormRun& run) {
  const Prepared& prepared = Requested();
  ASSERT_TRUE(prepared.ok) << "preparing the requests failed (see the first failure)";
  run.expected = prepared.expected;
  run.simulated = prepared.simulated;
  const size_t due = run.expected.warnings + run.expected.breaches;
  EngineHarness h(prepared.h->broker(), prepared.h->data_dir());
  ScaleDown(h);

  h.time().Set(At(kRequestDay));
  Status resumed = h.engine().Step(std::chrono::milliseconds(0));
  ASSERT_TRUE(resumed.ok()) << resumed.error().ToString();
  ASSERT_EQ(h.engine().stats().commands, 0u) << "the copy resumes where the prepared one stopped";
  ASSERT_EQ(h.engine().stats().timers_fired, 0u) << "nothing is due before the jump";
  pathway::testing::TopicTail events(h.broker(), std::string(topics::kEvents));
  events.ForEachNew([](const Envelope&) {});  // what the requests emitted

  h.time().Set(At(kStormDay));
  const pathway::v1::Date storm_day = pathway::testing::Day(kStormDay);
  auto timers_due = [&] {
    for (int32_t partition : h.stores().OpenPartitions()) {
      auto due_now = h.stores().Find(partition)->DueTimers(partition, storm_day, 1);
      if (!due_now.ok()) throw std::runtime_error(due_now.error().ToString());
      if (!due_now->empty()) return true;
    }
    return false;
  };
  std::map<std::string, int> published_before;  // referral event id -> its first Step
  std::map<std::string, std::string> subject_of;
  std::set<std::string> uncommitted;
  int step = 0;
  // Bounded by kMaxStormSteps: referrals are published before each of the first
  // kPublishSteps Steps, then the loop runs until every due timer has fired and every
  // referral has been emitted.
  for (; step < kMaxStormSteps; ++step) {
    const bool due_now = timers_due();
    if (!due_now && run.storm_steps == 0) run.storm_steps = step;
    if (step >= kPublishSteps && published_before.empty() && !due_now &&
        run.warnings + run.breaches >= due) {
      break;
    }
    if (step < kPublishSteps) {
      ASSERT_TRUE(due_now) << "every referral is published while timers are due (Step " << step
                           << ")";
      for (int i = 0; i < kPerStep; ++i) {
        Envelope r = StormReferral(run.referrals++);
        published_before[r.event_id()] = step;
        subject_of[r.event_id()] = h.SubjectOf(r.referral_submitted().child().nhs_number());
        uncommitted.insert(r.event_id());
        h.Publish(r);
      }
    }
    const bool crash_now = restart && step == kRestartAfterStep;
    if (crash_now) h.broker().HoldDeliveryReports(true);
    Status s = h.engine().Step(std::chrono::milliseconds(0));
    ASSERT_TRUE(s.ok()) << "storm Step " << step << ": " << s.error().ToString();
    if (crash_now) {
      // The process dies: what it sent in this Step is on the topics, unconfirmed.
      h.broker().HoldDeliveryReports(false);
      h.Restart();
    }
    for (auto it = uncommitted.begin(); it != uncommitted.end();) {
      auto seen = h.StoreFor(subject_of[*it]).SeenEvent(*it);
      ASSERT_TRUE(seen.ok()) << seen.error().ToString();
      if (!*seen) {
        ++it;
        continue;
      }
      run.max_commit_latency = std::max(run.max_commit_latency, step - published_before[*it] + 1);
      it = uncommitted.erase(it);
    }
    events.ForEachNew([&](const Envelope& e) {
      if (IsTimerEvent(e)) {
        if (run.timer_events[e.event_id()]++ == 0) {
          ++(e.has_deadline_warning() ? run.warnings : run.breaches);
        }
      } else if (e.has_referral_received()) {
        auto it = published_before.find(e.referral_received().inbound_event_id());
        if (it != published_before.end()) {
          run.max_emit_latency = std::max(run.max_emit_latency, step - it->second + 1);
          published_before.erase(it);
        }
      }
    });
  }
  ASSERT_LT(step, kMaxStormSteps) << "the storm did not end within " << kMaxStormSteps
                                  << " Steps: " << run.warnings + run.breaches << " of " << due
                                  << " due timers emitted, " << published_before.size()
                                  << " referrals not emitted";
  ASSERT_GT(step, kRestartAfterStep) << "the restart run's crash point is inside the storm";
  Status idle = h.RunUntilIdle(2000);
  ASSERT_TRUE(idle.ok()) << "the engine did not settle after the storm: "
                         << idle.error().ToString();
  events.ForEachNew([&](const Envelope& e) {
    if (IsTimerEvent(e)) ++run.timer_events[e.event_id()];
  });
  EXPECT_EQ(h.PendingOutputs(), 0u) << "every output was delivered";
  run.cases = h.Cases();
}

// The crash-free run, shared by the tests (computed once per process).
const StormRun& CrashFreeRun() {
  static const StormRun run = [] {
    StormRun r;
    RunStorm(/*restart=*/false, r);
    return r;
  }();
  return run;
}

std::set<std::string> Ids(const std::map<std::string, int>& copies) {
  std::set<std::string> out;
  for (const auto& [id, n] : copies) out.insert(id);
  return out;
}

void Report(const char* name, const StormRun& run) {
  std::cout << name << ": " << run.expected.warnings << " warnings + " << run.expected.breaches
            << " breaches due at once, all fired within " << run.storm_steps << " Steps; "
            << run.referrals << " referrals meanwhile, max latency " << run.max_commit_latency
            << " Step(s) to commit, " << run.max_emit_latency << " Step(s) to emit\n";
}

TEST(TimerStorm, InboundLatencyStaysBoundedWhileEveryDueDeadlineFiresOnce) {
  const StormRun& run = CrashFreeRun();
  ASSERT_FALSE(HasFailure()) << "the crash-free run failed (see above)";
  Report("crash-free", run);

  // The scenario is what it claims: every undecided request has both timers due, and
  // there are far more than one Step can fire.
  const auto undecided = static_cast<size_t>(kChildren - (kChildren + 4) / 5);
  ASSERT_EQ(run.expected.breaches, undecided)
      << "each undecided request has exactly one pending deadline due before the storm day";
  ASSERT_EQ(run.expected.warnings, undecided) << "none of them was warned before the jump";
  ASSERT_GT(run.storm_steps, kPublishSteps)
      << "the storm outlasts the per-Step timer bound many times, and every referral meets it";

  // (2) Every due deadline fired exactly once: no id twice (no crash here, so no
  // resend either), as many as the case states imply, and the simulator's ids.
  size_t copies = 0;
  for (const auto& [id, n] : run.timer_events) {
    copies += static_cast<size_t>(n);
    EXPECT_EQ(n, 1) << "timer event " << id << " was emitted " << n << " times without a crash";
  }
  EXPECT_EQ(copies, run.timer_events.size()) << "distinct timer event ids == timer events emitted";
  EXPECT_EQ(run.warnings, run.expected.warnings) << "one DeadlineWarning per due warning";
  EXPECT_EQ(run.breaches, run.expected.breaches) << "one DeadlineBreached per due deadline";
  EXPECT_EQ(Ids(run.timer_events), run.simulated)
      << "the engine fired exactly the warnings and breaches the simulator fires";

  // (1) Inbound latency stays bounded while the timers are due (header comment).
  EXPECT_LE(run.max_commit_latency, 1)
      << "a referral read in Step k is decided and committed in Step k: FireTimers fires at "
         "most max_batch timers per partition before the commands";
  EXPECT_LE(run.max_emit_latency, kLatencyBoundSteps)
      << "a referral's events must be on pathway.events.v1 within " << kLatencyBoundSteps
      << " Steps of its publication however many timers are due; they waited behind the "
         "timers' outbox entries (the outbox drains fewer entries per Step than the fired "
         "timers add: see the header comment)";
}

TEST(TimerStorm, ARestartMidStormFiresNothingTwiceAndMissesNothing) {
  const StormRun& reference = CrashFreeRun();
  ASSERT_FALSE(HasFailure()) << "the crash-free run failed (see above)";
  StormRun run;
  RunStorm(/*restart=*/true, run);
  ASSERT_FALSE(HasFatalFailure());
  Report("restarted mid-storm", run);

  // Outputs sent but not confirmed before the restart go out again (at-least-once on
  // the wire, with the same ids); the distinct ids are exactly the crash-free run's.
  EXPECT_EQ(Ids(run.timer_events), Ids(reference.timer_events))
      << "after a restart mid-storm the distinct warning and breach ids equal the crash-free "
         "run's: nothing missed, nothing extra";
  size_t copies = 0;
  for (const auto& [id, n] : run.timer_events) copies += static_cast<size_t>(n);
  EXPECT_GT(copies, run.timer_events.size())
      << "the crash left sent but unconfirmed warnings or breaches, sent again after the "
         "restart with the same ids (otherwise this test does not exercise the resend)";
  EXPECT_EQ(run.warnings, reference.expected.warnings) << "every due warning fired";
  EXPECT_EQ(run.breaches, reference.expected.breaches) << "every due breach fired";
  // Fired once in the record: each case's state and history (where a warning or breach
  // fired twice would show) equal the crash-free run's.
  ASSERT_EQ(run.cases.size(), reference.cases.size()) << "the same cases in both runs";
  size_t differing = 0;
  for (const auto& [subject, value] : reference.cases) {
    auto it = run.cases.find(subject);
    if (it == run.cases.end() || it->second != value) ++differing;
  }
  EXPECT_EQ(differing, 0u) << "cases whose state or history differ from the crash-free run's";
}

}  // namespace
}  // namespace pathway::engine
