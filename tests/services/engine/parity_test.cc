// Parity: the engine over the memory bus and workflow::Simulator (`pathwayctl
// simulate`) decide the same. Both carry out the same case steps (workflow/case_step.h);
// this checks everything around them too: intake and routing, dedupe, sealing and
// opening, timers in RocksDB against timers in memory, commands an event sends on
// through pathway.commands.v1 against the simulator's in-process queue.
//
// Every realistic history and a few hundred random mixes of every pathway's commands
// (tests/common/random_mix.h) go through both, each command at its own occurred_at;
// then both advance to one as-of date. Per subject they must agree on every event
// (personal fields opened), every rejection (rejected event id, field, rule) and the
// deadline table of every pathway instance.
//
// What is normalised, and why:
//  - recorded_at is cleared: it is the processing instant, which is the point of the
//    comparison to differ (the engine fires a deadline when its clock passes it, the
//    simulator at noon of the day it is due).
//  - the simulator's events are compared in the form the engine publishes
//    (Simulator::Subject::outputs): a held command and a kept command stay in the case
//    history only.
//  - after each command the simulator is advanced to that command's day, as the
//    engine, running until idle at that time, fires every timer then due. Process
//    alone fires due timers only before its command, so a deadline a command sets
//    already overdue (a draft plan issued after the final plan was due) would breach
//    in the engine at once and in the simulator only at the next command's day: after
//    a late command (dated before the breach) in one and before it in the other.
//  - ReferralReceived.age_years is cleared: sealing adds it as the stand-in for the
//    sealed date of birth (workflow/personal_fields.h); the simulator seals nothing.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "services/engine/engine.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "tests/common/random_mix.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/identity.h"
#include "workflow/personal_fields.h"
#include "workflow/simulator.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::OccurredAt;
using pathway::v1::Envelope;
namespace store = pathway::store::v1;

// The settings both sides run with; the test also runs them apart to see it fail.
struct Settings {
  int warning_lead_days = workflow::kDefaultWarningLeadDays;
  int identity_hold_days = workflow::kDefaultIdentityHoldDays;
};

// What one side said about one subject, normalised for comparison.
struct Observed {
  std::vector<Envelope> events;
  std::vector<std::string> rejections;  // "event id | field | rule", in order
  std::vector<std::string> deadlines;   // "instance | name | due | status | met on"
};
using View = std::map<std::string, Observed>;  // subject key ("" for unrouted) -> what

void Normalise(Envelope& e) {
  e.clear_recorded_at();
  if (e.has_referral_received()) e.mutable_referral_received()->set_age_years(0);
}

std::string Rejection(const Envelope& e) {
  const auto& r = e.command_rejected();
  return r.rejected_event_id() + " | " + r.field() + " | " + r.rule();
}

std::string Date(const pathway::v1::Date& d) {
  auto civil = workflow::ToCivil(d);
  return civil ? workflow::FormatDate(*civil) : "-";
}

std::vector<std::string> Deadlines(const store::CaseState& state) {
  std::vector<std::string> out;
  for (const auto& p : state.pathways()) {
    for (const auto& d : p.deadlines()) {
      out.push_back(p.instance_id() + " | " + d.name() + " | " + Date(d.due()) + " | " +
                    pathway::v1::DeadlineStatus_Name(d.status()) + " | " +
                    (d.has_met_on() ? Date(d.met_on()) : "-"));
    }
  }
  return out;
}

View SimulatorView(const workflow::Simulator& sim) {
  View out;
  for (const auto& [key, subject] : sim.subjects()) {
    Observed& o = out[key];
    // What the simulator would send on pathway.events.v1: the case step's own plan of
    // outputs (kept commands stay in the history, a correction goes without its state).
    for (const Envelope& output : subject.outputs) {
      if (output.has_command_rejected()) continue;  // compared as rejections below
      Envelope e = output;
      Normalise(e);
      o.events.push_back(std::move(e));
    }
    for (const auto& r : subject.rejections) o.rejections.push_back(Rejection(r));
    o.deadlines = Deadlines(subject.state);
  }
  for (const auto& r : sim.unrouted_rejections()) out[""].rejections.push_back(Rejection(r));
  return out;
}

View EngineView(EngineHarness& h) {
  View out;
  for (Envelope e : h.Read(topics::kEvents)) {
    const std::string subject = e.subject_key();
    Status opened =
        workflow::OpenPersonalFields(e, [&](std::string_view sealed, std::string_view field) {
          return h.StoreFor(subject).OpenField(subject, sealed, field);
        });
    EXPECT_TRUE(opened.ok()) << e.event_id() << ": " << opened.error().ToString();
    Normalise(e);
    out[subject].events.push_back(std::move(e));
  }
  for (const Envelope& r : h.Read(topics::kRejections)) {
    out[r.subject_key()].rejections.push_back(Rejection(r));
  }
  // Every subject either side knows of has its stored case read back.
  for (auto& [subject, o] : out) {
    if (subject.empty()) continue;
    auto state = h.StoreFor(subject).LoadCase(subject);
    EXPECT_TRUE(state.ok()) << state.error().ToString();
    if (state.ok() && state->has_value()) o.deadlines = Deadlines(**state);
  }
  return out;
}

// Loads the stored case of each subject only the simulator names (one with no event
// on the topic and no rejection would otherwise be missed).
void AddStoredCases(EngineHarness& h, const View& sim, View& engine) {
  for (const auto& [subject, o] : sim) {
    if (subject.empty() || engine.contains(subject)) continue;
    auto state = h.StoreFor(subject).LoadCase(subject);
    ASSERT_TRUE(state.ok()) << state.error().ToString();
    if (state->has_value()) engine[subject].deadlines = Deadlines(**state);
  }
}

std::string Show(const Envelope& e) {
  std::string text = e.ShortDebugString();
  return text.size() > 600 ? text.substr(0, 600) + "..." : text;
}

// Compares the two views; on a difference, names the subject and the first item that
// differs. Returns the number of subjects compared.
size_t ExpectSame(const View& engine, const View& sim, const std::string& label,
                  const std::map<std::string, std::string>& names) {
  std::set<std::string> subjects;
  for (const auto& [k, v] : engine) subjects.insert(k);
  for (const auto& [k, v] : sim) subjects.insert(k);
  const Observed none;
  for (const auto& subject : subjects) {
    auto name = names.find(subject);
    const std::string who =
        label + ", subject " + (name != names.end() ? name->second : "'" + subject + "'");
    const Observed& a = engine.contains(subject) ? engine.at(subject) : none;
    const Observed& b = sim.contains(subject) ? sim.at(subject) : none;
    for (size_t i = 0; i < std::max(a.events.size(), b.events.size()); ++i) {
      if (i >= a.events.size() || i >= b.events.size() ||
          !google::protobuf::util::MessageDifferencer::Equals(a.events[i], b.events[i])) {
        ADD_FAILURE() << who << ": event " << i << " differs\n  engine:    "
                      << (i < a.events.size() ? Show(a.events[i]) : "(none)")
                      << "\n  simulator: " << (i < b.events.size() ? Show(b.events[i]) : "(none)");
        return subjects.size();
      }
    }
    EXPECT_EQ(a.rejections, b.rejections) << who << ": rejections differ";
    EXPECT_EQ(a.deadlines, b.deadlines) << who << ": deadline tables differ";
    if (a.rejections != b.rejections || a.deadlines != b.deadlines) return subjects.size();
  }
  return subjects.size();
}

struct Outcome {
  View engine;
  View sim;
  std::map<std::string, std::string> names;  // subject key -> readable name
  size_t events = 0;
};

// A stretch of commands, after which both sides advance to `as_of`.
struct Phase {
  std::vector<Envelope> commands;
  workflow::CivilDate as_of;
  std::string label;  // names its children in failure messages
};

// Drives each phase's commands through both, each at its occurred_at, then both to
// the phase's as-of date. Phases about different children share one engine (a new
// engine costs a RocksDB open per partition); the clock may go back between them.
Outcome RunBoth(const std::vector<Phase>& phases, const Settings& engine_settings,
                const Settings& sim_settings) {
  EngineOptions options;
  options.warning_lead_days = engine_settings.warning_lead_days;
  options.identity_hold_days = engine_settings.identity_hold_days;
  EngineHarness h(options);
  workflow::Simulator sim(
      [&](std::string_view nhs) { return h.SubjectOf(std::string(nhs)); },
      workflow::StepSettings{.decide = {.identity_hold_days = sim_settings.identity_hold_days},
                             .warning_lead_days = sim_settings.warning_lead_days});
  Outcome out;
  for (const Phase& phase : phases) {
    for (const auto& e : phase.commands) {
      h.time().Set(OccurredAt(e));
      h.Publish(e);
      Status s = h.RunUntilIdle();
      EXPECT_TRUE(s.ok()) << e.event_id() << ": " << s.error().ToString();
      sim.Process(e, OccurredAt(e));
      // As the engine does while it runs until idle: fire what is due by now, including
      // a deadline this very command set already overdue (see the file comment).
      sim.AdvanceTo(workflow::LondonDate(OccurredAt(e)));
      // Test data, not real children: a failure may name them.
      const std::string& nhs = e.has_referral_submitted()
                                   ? e.referral_submitted().child().nhs_number()
                                   : e.subject().nhs_number();
      if (!nhs.empty()) out.names[h.SubjectOf(nhs)] = phase.label + ", nhs " + nhs;
    }
    // Noon of as_of: the day has begun in London whatever the season, so every timer
    // due on or before it fires.
    h.time().Set(TimePoint(std::chrono::sys_days{phase.as_of} + std::chrono::hours(12)));
    Status s = h.RunUntilIdle(2000);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    sim.AdvanceTo(phase.as_of);
  }
  out.engine = EngineView(h);
  out.sim = SimulatorView(sim);
  AddStoredCases(h, out.sim, out.engine);
  for (const auto& [k, o] : out.sim) out.events += o.events.size();
  return out;
}

workflow::CivilDate LastDay(const std::vector<Envelope>& commands, int days_after) {
  workflow::CivilDate last = *workflow::ParseDate("2000-01-01");
  for (const auto& e : commands) {
    if (auto day = workflow::CommandDay(e); day && *day > last) last = *day;
  }
  return workflow::AddDays(last, days_after);
}

TEST(Parity, TheDemoData) {
  // What scripts/run.sh shows (its referrals, late ones and invalid ones, and the tell
  // it once story) gives the same events, refusals and deadlines in both.
  for (const char* name :
       {"../../../scripts/demo/referrals.jsonl", "../../../scripts/demo/tell_it_once.jsonl"}) {
    auto history = pathway::testing::ReadHistory(name);
    ASSERT_FALSE(history.empty()) << name;
    Outcome o = RunBoth({{history, LastDay(history, 365), name}}, {}, {});
    EXPECT_GT(o.events, 0u) << name;
    ExpectSame(o.engine, o.sim, name, o.names);
  }
}

TEST(Parity, EveryRealisticHistory) {
  for (const char* name :
       {"ehc_assessment.jsonl", "annual_review.jsonl", "neurodevelopmental.jsonl",
        "preparing_for_adulthood.jsonl", "disagreement.jsonl", "multi_pathway_child.jsonl",
        "exceptional_needs_grant.jsonl", "tell_it_once_three_pathways.jsonl"}) {
    auto history = pathway::testing::ReadHistory(name);
    ASSERT_FALSE(history.empty()) << name;
    // A year on: every statutory clock of the history has run out.
    Outcome o = RunBoth({{history, LastDay(history, 365), name}}, {}, {});
    EXPECT_GT(o.events, 0u) << name;
    ExpectSame(o.engine, o.sim, name, o.names);
  }
}

// Seeds [first, last] (those in `skip` left out), `per_engine` to an engine, each seed
// with children of its own and its own local id. Returns what was compared.
struct Coverage {
  size_t events = 0;
  std::set<int> pathways_moved;
  std::map<std::string, size_t> kinds;  // payload name -> events of that kind
};
Coverage RunSeeds(const std::vector<Envelope>& pool, uint32_t first_seed, uint32_t last_seed,
                  uint32_t per_engine, const std::set<uint32_t>& skip) {
  Coverage coverage;
  std::vector<uint32_t> seeds;
  for (uint32_t seed = first_seed; seed <= last_seed; ++seed) {
    if (!skip.contains(seed)) seeds.push_back(seed);
  }
  for (size_t first = 0; first < seeds.size(); first += per_engine) {
    std::vector<Phase> phases;
    for (size_t i = first; i < first + per_engine && i < seeds.size(); ++i) {
      const uint32_t seed = seeds[i];
      pathway::testing::MixCast cast;
      cast.children.clear();
      for (long k = 0; k < 3; ++k) {
        cast.children.push_back(pathway::testing::TestNhsNumber(3 * long{seed} + k));
      }
      cast.alias_kind = pathway::v1::IDENTIFIER_KIND_LOCAL_ID;
      cast.alias = "school-mis:pupil-" + std::to_string(seed);
      auto mix = pathway::testing::RandomMix(pool, seed, 60, cast);
      phases.push_back({mix, LastDay(mix, 120), "seed " + std::to_string(seed)});
    }
    Outcome o = RunBoth(phases, {}, {});
    coverage.events += o.events;
    for (const auto& [subject, observed] : o.sim) {
      for (const auto& e : observed.events) {
        const auto* payload = Envelope::descriptor()->FindFieldByNumber(e.payload_case());
        if (payload) ++coverage.kinds[payload->name()];
        if (e.has_pathway_step_recorded()) {
          coverage.pathways_moved.insert(e.pathway_step_recorded().pathway());
        }
      }
    }
    ExpectSame(o.engine, o.sim, "seeds from " + phases.front().label, o.names);
    if (::testing::Test::HasFailure()) break;  // the first engine that differs is enough
  }
  return coverage;
}

TEST(Parity, RandomMixesOfEveryPathwaysCommands) {
  // Seeds 1..300 are the corpus, 25 to an engine (a new engine costs a RocksDB open
  // per partition); a failure names the seed and the child.
  const auto pool = pathway::testing::HistoryPool();
  ASSERT_GT(pool.size(), 50u);
  Coverage c = RunSeeds(pool, 1, 300, 25, {});
  // Not vacuous: every pathway moves, deadlines warn and breach, commands wait for
  // their identifier's link and are released, late commands are decided.
  EXPECT_GT(c.events, 20000u);
  EXPECT_EQ(c.pathways_moved.size(), 7u);
  for (const char* kind : {"deadline_warning", "deadline_breached", "deadline_met",
                           "deadline_superseded", "command_held", "held_command_released",
                           "fact_recorded", "fact_reused", "referral_received"}) {
    EXPECT_GT(c.kinds[kind], 10u) << kind;
  }
}

TEST(Parity, ADeadlineSupersededByOneDueTheSameDayStillBreaches) {
  // The smallest case of seeds 44 and 258. The decision letter of 19 May gives an
  // appeal deadline of 19 July; a mediation certificate on 2 June gives one month from
  // it (2 July) or the two months, whichever is later: 19 July again. The old deadline
  // is superseded by a new one with the same name and due date, and its timer key is
  // the same.
  auto history = pathway::testing::ReadHistory("disagreement.jsonl");
  ASSERT_GE(history.size(), 5u);
  Envelope certificate = history[4];
  ASSERT_TRUE(certificate.has_mediation_certificate_issued());
  certificate.mutable_occurred_at()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(
          pathway::testing::At("2025-06-02").time_since_epoch())
          .count());
  *certificate.mutable_mediation_certificate_issued()->mutable_issued_on() =
      pathway::testing::Day("2025-06-02");
  Outcome o =
      RunBoth({{{history[0], certificate}, *workflow::ParseDate("2025-12-31"), "dis"}}, {}, {});
  ExpectSame(o.engine, o.sim, "disagreement, early certificate", o.names);
  int breached = 0;
  for (const auto& [subject, observed] : o.engine) {
    for (const auto& e : observed.events) {
      breached += e.has_deadline_breached() && e.deadline_breached().name() == "tribunal_appeal";
    }
  }
  EXPECT_EQ(breached, 1) << "the appeal deadline of 19 July 2025 passed unnoticed";
}

TEST(Parity, FailsWhenTheSidesRunWithDifferentSettings) {
  // The comparison can fail: a warning lead of 14 days against 7 shows in the first
  // history with a deadline.
  auto history = pathway::testing::ReadHistory("ehc_assessment.jsonl");
  Outcome o = RunBoth({{history, LastDay(history, 365), "ehc"}}, {.warning_lead_days = 14},
                      {.warning_lead_days = 7});
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    ExpectSame(o.engine, o.sim, "perturbed", o.names);
  }
  ASSERT_GT(failures.size(), 0) << "a different warning lead went unnoticed";
  EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("differs"), std::string::npos)
      << failures.GetTestPartResult(0).message();
}

}  // namespace
}  // namespace pathway::engine
