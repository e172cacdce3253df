// Migration through the engine over the in-memory bus (docs/operations.md, "migrate";
// decision 128): a neurodevelopmental instance started on version 1 moved to version 2
// by a CaseMigrateRequested on pathway.commands.v1, as `pathwayctl migrate --apply`
// sends it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "services/engine/engine.h"
#include "services/topics.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "workflow/pathway.h"
#include "workflow/rebuild.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
using pathway::v1::Envelope;
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr auto kNd = v1::PATHWAY_KIND_NEURODEVELOPMENTAL;
constexpr const char* kChild = "6541003238";  // multi_pathway_child.jsonl: ADHD only

// The migration of `subject`'s neurodevelopmental instances from version 1 to 2, every
// state mapped to itself but those in `unmapped`.
Envelope Migration(const std::string& id, const std::string& subject, TimePoint at,
                   const std::string& unmapped = "") {
  Envelope e;
  e.set_event_id(id);
  e.set_subject_key(subject);
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathwayctl");
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  e.mutable_occurred_at()->set_seconds(secs.count());
  auto* m = e.mutable_case_migrate_requested();
  m->set_operation_id("op-" + id);
  m->set_pathway(kNd);
  m->set_from_version(1);
  m->set_to_version(2);
  for (auto s : workflow::FindDefinition(kNd, 1)->states) {
    if (s == unmapped) continue;
    auto* pair = m->add_mapping();
    pair->set_from_state(std::string(s));
    pair->set_to_state(std::string(s));
  }
  return e;
}

void SendCommand(EngineHarness& h, const Envelope& e) {
  const std::string topic(topics::kCommands);
  h.broker().Append(topic, h.broker().PartitionFor(topic, e.subject_key()), e.subject_key(),
                    e.SerializeAsString());
}

store::CaseState CaseOf(EngineHarness& h, const std::string& subject) {
  auto loaded = h.StoreFor(subject).LoadCase(subject);
  if (!loaded || !loaded->has_value()) throw std::runtime_error("no case");
  return **loaded;
}

const store::PathwayInstance& Nd(const store::CaseState& state) {
  for (const auto& p : state.pathways()) {
    if (p.pathway() == kNd) return p;
  }
  throw std::runtime_error("no neurodevelopmental instance");
}

size_t CorrectionsBy(EngineHarness& h, const std::string& id) {
  size_t n = 0;
  for (const auto& e : h.Read(topics::kEvents)) {
    n += e.has_case_corrected() && e.case_corrected().caused_by() == id ? 1 : 0;
  }
  return n;
}

TEST(EngineMigrate, AVersion1InstanceMovesOnceThroughTheEngineAndStaysOnVersion2) {
  // A deployment that started neurodevelopmental instances on version 1.
  EngineHarness h;
  h.options().start_versions = {{kNd, 1}};
  h.Restart();
  const std::vector<Envelope> history = ReadHistory("multi_pathway_child.jsonl");
  for (const auto& e : history) {
    h.time().Set(OccurredAt(e));
    h.Publish(e);
    ASSERT_TRUE(h.RunUntilIdle().ok());
  }
  const TimePoint end = OccurredAt(history.back()) + std::chrono::hours(24);
  h.time().Set(end);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const std::string subject = h.SubjectOf(kChild);
  ASSERT_EQ(Nd(CaseOf(h, subject)).version(), 1u);
  ASSERT_EQ(workflow::FindDeadline(Nd(CaseOf(h, subject)), "first_appointment")->status(),
            v1::DEADLINE_STATUS_BREACHED);

  // Rolled forward: new instances on version 2; the running one stays on 1.
  h.options().start_versions.clear();
  h.Restart();
  const size_t events_before = h.Read(topics::kEvents).size();

  // Its state left out of the mapping: listed by the dry run, and not moved.
  SendCommand(h, Migration("migrate-unmapped", subject, end, "diagnosed"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Nd(CaseOf(h, subject)).version(), 1u);
  EXPECT_EQ(h.Read(topics::kEvents).size(), events_before);

  // Mapped: moved, one correction (the breach becomes met: 18 weeks), recorded.
  const Envelope migrate = Migration("migrate-1", subject, end);
  SendCommand(h, migrate);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  store::CaseState migrated = CaseOf(h, subject);
  EXPECT_EQ(Nd(migrated).version(), 2u);
  EXPECT_EQ(workflow::FindDeadline(Nd(migrated), "first_appointment")->status(),
            v1::DEADLINE_STATUS_MET);
  EXPECT_EQ(CorrectionsBy(h, "migrate-1"), 1u);
  auto stored = h.StoreFor(subject).History(subject);
  ASSERT_TRUE(stored);
  size_t records = 0;
  for (const auto& e : *stored) records += e.has_pathways_migrated() ? 1 : 0;
  EXPECT_EQ(records, 1u);
  for (const auto& e : h.Read(topics::kEvents)) EXPECT_FALSE(e.has_pathways_migrated());
  const workflow::CaseCheck check = workflow::CheckCase(subject, migrated, *stored, end, {});
  EXPECT_FALSE(check.diverged());

  // Delivered again, and sent again by a second run: nothing more.
  const size_t events_after = h.Read(topics::kEvents).size();
  SendCommand(h, migrate);
  SendCommand(h, Migration("migrate-2", subject, end));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.Read(topics::kEvents).size(), events_after);
  EXPECT_EQ(CorrectionsBy(h, "migrate-1"), 1u);

  // A late command afterwards re-decides the case with the instance on version 2.
  const Envelope late = pathway::testing::Command(
      "nd-late-support", "2025-07-30",
      [&](Envelope& e) {
        auto* s = e.mutable_nd_support_offered();
        s->set_referral_id(Nd(migrated).reference());
        *s->mutable_offered_on() = pathway::testing::Day("2025-02-10");
        s->set_support("parent workshop");
      },
      kChild);
  h.Publish(late);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const store::CaseState after_late = CaseOf(h, subject);
  EXPECT_GT(after_late.history_length(), migrated.history_length());
  EXPECT_EQ(Nd(after_late).version(), 2u);
  EXPECT_EQ(workflow::FindDeadline(Nd(after_late), "first_appointment")->status(),
            v1::DEADLINE_STATUS_MET);
}

}  // namespace
}  // namespace pathway::engine
