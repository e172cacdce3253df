// Migration (workflow/case_step.h PlanMigration, workflow/redrive.h PlanMigrate;
// decision 128): running neurodevelopmental instances started on version 1 moved to
// version 2, whose only change is the ADHD-only first-appointment standard (18 weeks
// instead of 13). Over every realistic history, in random arrival orders, with each
// neurodevelopmental referral as it is and as an ADHD-only and an autism assessment.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "tests/common/redecide_fixture.h"
#include "workflow/pathway.h"
#include "workflow/rebuild.h"
#include "workflow/redrive.h"
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

constexpr auto kNd = v1::PATHWAY_KIND_NEURODEVELOPMENTAL;

// New neurodevelopmental instances start on version 1: a deployment before version 2.
const std::map<v1::PathwayKind, uint32_t> kStartOnV1{{kNd, 1}};

StepSettings StartOn(uint32_t version) {
  StepSettings s;
  if (version == 1) s.decide.start_versions = &kStartOnV1;
  return s;
}

// Every state of the neurodevelopmental pathway mapped to itself (v2 keeps the names).
MigrationRequest Identity() {
  MigrationRequest r;
  r.kind = kNd;
  r.from_version = 1;
  r.to_version = 2;
  for (auto s : FindDefinition(kNd, 1)->states) r.mapping[std::string(s)] = std::string(s);
  return r;
}

// The first-appointment deadlines of a case's neurodevelopmental instances.
std::map<std::string, std::string> FirstAppointments(const store::CaseState& state) {
  std::map<std::string, std::string> out;
  for (const auto& p : state.pathways()) {
    if (p.pathway() != kNd) continue;
    if (const store::Deadline* d = FindDeadline(p, "first_appointment")) {
      out[p.instance_id()] = d->SerializeAsString();
    }
  }
  return out;
}

bool AdhdOnly(const store::CaseState& state) {
  for (const auto& p : state.pathways()) {
    if (p.pathway() == kNd && HasFact(p, "assessment", "adhd")) return true;
  }
  return false;
}

TEST(Migrate, Version1To2ChangesExactlyTheAdhdOnlyChildrenAndGivesTheCaseStartedOnVersion2) {
  int compared = 0, changed = 0, moved = 0;
  for (std::string_view name : kHistories) {
    const std::vector<v1::Envelope> full = ReadHistory(std::string(name));
    // Each neurodevelopmental referral as it is, as ADHD only and as autism.
    for (const auto assessment : {v1::ND_ASSESSMENT_TYPE_UNSPECIFIED, v1::ND_ASSESSMENT_TYPE_ADHD,
                                  v1::ND_ASSESSMENT_TYPE_AUTISM}) {
      std::vector<v1::Envelope> variant = full;
      for (auto& c : variant) {
        if (c.has_nd_referral_accepted() && assessment != v1::ND_ASSESSMENT_TYPE_UNSPECIFIED) {
          c.mutable_nd_referral_accepted()->set_assessment(assessment);
        }
      }
      for (uint32_t seed = 1; seed <= 4; ++seed) {
        std::vector<v1::Envelope> arrival = variant;
        std::mt19937 rng(seed);
        if (seed > 1) std::shuffle(arrival.begin() + 1, arrival.end(), rng);
        const TimePoint end = LatestSent(full) + std::chrono::hours(24 * 30);

        const Simulator on_v1 = Simulate(arrival, end, StartOn(1));
        const Simulator on_v2 = Simulate(arrival, end, StartOn(2));
        for (const auto& [key, subject] : on_v1.subjects()) {
          const store::CaseState v2_case =
              FiredThrough(key, on_v2.subjects().at(key).state, end, {});
          const store::CaseState v1_case = FiredThrough(key, subject.state, end, {});
          // What version 2 changes for this child, worked out without PlanMigrate.
          const bool differs = FirstAppointments(v1_case) != FirstAppointments(v2_case);
          EXPECT_EQ(differs, AdhdOnly(v1_case)) << name << " seed " << seed;

          const MigratePlan plan =
              PlanMigrate(key, subject.state, subject.events, Identity(), end, {});
          const std::string where = std::string(name) + " seed " + std::to_string(seed) +
                                    " assessment " + std::to_string(assessment);
          EXPECT_EQ(plan.changes, differs) << where << ": " << plan.diff.ShortDebugString();
          // The diff lists only first-appointment deadlines.
          for (const auto& d : plan.diff.deadlines())
            EXPECT_EQ(d.name(), "first_appointment") << where;
          EXPECT_EQ(plan.diff.steps_size(), 0) << where;
          EXPECT_EQ(plan.diff.rejections_size(), 0) << where;
          // Every version 1 instance moves (identity mapping), and the migrated case is
          // the case the same commands give when started on version 2.
          for (const auto& i : plan.instances) EXPECT_TRUE(i.moved) << where << ": " << i.why;
          EXPECT_EQ(CanonicalCase(plan.after), CanonicalCase(v2_case)) << where;
          ++compared;
          changed += plan.changes;
          moved += static_cast<int>(plan.moved);
        }
      }
    }
  }
  EXPECT_EQ(compared, 8 * 3 * 4);  // one child per history
  // Not vacuous: multi_pathway_child as it is, and the three ND histories made ADHD-only.
  EXPECT_EQ(changed, 4 * (1 + 3));
  EXPECT_GE(moved, 3 * 3 * 4);
}

// One ADHD-only child's case started on version 1 (multi_pathway_child: first
// appointment due 14 April under version 1, attended 22 April).
struct V1Case {
  std::string key;
  store::CaseState state;
  std::vector<v1::Envelope> history;
  TimePoint end;
};

V1Case AdhdChildOnV1() {
  const std::vector<v1::Envelope> full = ReadHistory("multi_pathway_child.jsonl");
  V1Case c;
  c.end = OccurredAt(full.back()) + std::chrono::hours(24);
  const Simulator sim = Simulate(full, c.end, StartOn(1));
  const auto& [key, subject] = *sim.subjects().begin();
  c.key = key;
  c.state = subject.state;
  c.history = subject.events;
  return c;
}

const store::PathwayInstance& NdInstance(const store::CaseState& state) {
  for (const auto& p : state.pathways()) {
    if (p.pathway() == kNd) return p;
  }
  throw std::runtime_error("no neurodevelopmental instance");
}

TEST(Migrate, AnInstanceWhoseStateIsNotMappedIsListedAndNotMoved) {
  const V1Case c = AdhdChildOnV1();
  ASSERT_EQ(NdInstance(c.state).state(), "diagnosed");
  MigrationRequest request = Identity();
  request.mapping.erase("diagnosed");
  const MigratePlan plan = PlanMigrate(c.key, c.state, c.history, request, c.end, {});
  ASSERT_EQ(plan.instances.size(), 1u);
  EXPECT_FALSE(plan.instances[0].moved);
  EXPECT_EQ(plan.instances[0].why, "its state 'diagnosed' is not in the mapping");
  EXPECT_EQ(plan.moved, 0u);
  EXPECT_FALSE(plan.changes);
  EXPECT_EQ(NdInstance(plan.after).version(), 1u);

  // Mapped to another state than the one version 2 re-decides it to: not moved either.
  request = Identity();
  request.mapping["diagnosed"] = "assessing";
  const MigratePlan other = PlanMigrate(c.key, c.state, c.history, request, c.end, {});
  ASSERT_EQ(other.instances.size(), 1u);
  EXPECT_FALSE(other.instances[0].moved);
  EXPECT_EQ(other.instances[0].why,
            "re-decided under version 2 it ends in 'diagnosed', not 'assessing'");
}

// The engine's side: a CaseMigrateRequested decided as the engine decides it.
v1::Envelope MigrateCommand(const std::string& key, const std::string& id,
                            const MigrationRequest& request, TimePoint at) {
  v1::Envelope e;
  e.set_event_id(id);
  e.set_subject_key(key);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathwayctl");
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  e.mutable_occurred_at()->set_seconds(secs.count());
  v1::CaseMigrateRequested* m = e.mutable_case_migrate_requested();
  m->set_operation_id("op-1");
  m->set_pathway(request.kind);
  m->set_from_version(request.from_version);
  m->set_to_version(request.to_version);
  for (const auto& [from, to] : request.mapping) {
    v1::StateMapping* s = m->add_mapping();
    s->set_from_state(from);
    s->set_to_state(to);
  }
  for (const auto& id_ : request.instance_ids) m->add_instance_ids(id_);
  return e;
}

TEST(MigrateCommand, MovesTheInstanceCorrectsTheCaseOnceAndALateCommandKeepsVersion2) {
  V1Case c = AdhdChildOnV1();
  const v1::Envelope migrate = MigrateCommand(c.key, "migrate-1", Identity(), c.end);
  ASSERT_TRUE(DecideCommand(c.state, migrate, c.end, {}).needs_log);
  const std::vector<v1::Envelope> log = CommandsOf(c.history);
  const CaseStep step = DecideCommand(c.state, migrate, c.end, {}, &log);
  ASSERT_FALSE(step.rejection.has_value()) << step.rejection->rule;
  ASSERT_EQ(step.history.size(), 2u);
  ASSERT_TRUE(step.history[0].has_pathways_migrated());
  EXPECT_EQ(step.history[0].pathways_migrated().instance_ids_size(), 1);
  ASSERT_TRUE(step.history[1].has_case_corrected());
  EXPECT_EQ(step.history[1].case_corrected().caused_by(), "migrate-1");
  int published = 0;
  for (const auto& out : step.outputs) {
    EXPECT_FALSE(out.envelope.has_pathways_migrated());
    if (out.envelope.has_case_corrected()) {
      ++published;
      const auto& corrected = out.envelope.case_corrected();
      ASSERT_EQ(corrected.deadlines_size(), 1);
      EXPECT_EQ(corrected.deadlines(0).name(), "first_appointment");
      EXPECT_EQ(corrected.deadlines(0).status_before(), v1::DEADLINE_STATUS_BREACHED);
      EXPECT_EQ(corrected.deadlines(0).status(), v1::DEADLINE_STATUS_MET);
    }
  }
  EXPECT_EQ(published, 1);
  ASSERT_TRUE(step.new_state.has_value());
  c.state = *step.new_state;
  for (const auto& e : step.history) c.history.push_back(e);
  EXPECT_EQ(NdInstance(c.state).version(), 2u);
  // The history still folds to the case, and re-deciding it keeps version 2.
  const CaseCheck check = CheckCase(c.key, c.state, c.history, c.end, {});
  EXPECT_FALSE(check.diverged()) << check.redecided.ShortDebugString();

  // Delivered again (or a run killed and run again, with another id): nothing.
  const std::vector<v1::Envelope> after = CommandsOf(c.history);
  for (const char* id : {"migrate-1", "migrate-2"}) {
    const CaseStep again =
        DecideCommand(c.state, MigrateCommand(c.key, id, Identity(), c.end), c.end, {}, &after);
    EXPECT_FALSE(again.new_state.has_value()) << id;
    EXPECT_TRUE(again.outputs.empty()) << id;
  }

  // A late command afterwards re-decides the case with the instance on version 2.
  v1::Envelope late;
  for (const auto& k : log) {
    if (k.has_nd_support_offered() || k.has_nd_risk_assessed()) late = k;
  }
  if (late.event_id().empty()) {
    late = pathway::testing::Command(
        "late-support", "2025-07-01",
        [&](v1::Envelope& e) {
          auto* s = e.mutable_nd_support_offered();
          s->set_referral_id(NdInstance(c.state).reference());
          *s->mutable_offered_on() = pathway::testing::Day("2025-02-10");
          s->set_support("parent workshop");
        },
        "6541003238");
  } else {
    late.set_event_id("late-support");
  }
  late.set_subject_key(c.key);
  const CaseStep later = DecideCommand(c.state, late, c.end, {}, &after);
  ASSERT_TRUE(later.new_state.has_value());
  EXPECT_EQ(NdInstance(*later.new_state).version(), 2u);
  EXPECT_EQ(FindDeadline(NdInstance(*later.new_state), "first_appointment")->status(),
            v1::DEADLINE_STATUS_MET);
}

TEST(MigrateCommand, IsNotAPartnersCommandAndRefusesAStateNoVersionHas) {
  v1::Envelope e = MigrateCommand("", "migrate-x", Identity(), pathway::testing::At("2026-01-01"));
  e.mutable_subject()->set_nhs_number("9434765919");
  const Routing routing = RouteCommand(e);
  ASSERT_TRUE(routing.rejection.has_value());
  EXPECT_EQ(routing.rejection->rule, "payload.not_a_command");

  V1Case c = AdhdChildOnV1();
  MigrationRequest request = Identity();
  request.mapping["waitng"] = "waiting";
  const std::vector<v1::Envelope> log = CommandsOf(c.history);
  const CaseStep step =
      DecideCommand(c.state, MigrateCommand(c.key, "migrate-y", request, c.end), c.end, {}, &log);
  ASSERT_TRUE(step.rejection.has_value());
  EXPECT_EQ(step.rejection->rule, "migrate.unknown_state");
  EXPECT_FALSE(step.new_state.has_value());
}

}  // namespace
}  // namespace pathway::workflow
