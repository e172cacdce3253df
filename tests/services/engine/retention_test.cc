// Retention of the engine's bookkeeping over the in-memory bus (docs/operations.md,
// "Retention of the engine's bookkeeping"; decision 126): dedupe entries go a window
// after they were made, by the engine's own clock, and a repeat that comes after is
// still recognised by its case's history.
#include <gtest/gtest.h>

#include <chrono>

#include "services/engine/engine.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "workflow/case_step.h"
#include "workflow/rebuild.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

EngineOptions WithWindow(int days) {
  EngineOptions options;
  options.dedupe_retention_days = days;
  options.closed_history_retention_days = 0;
  options.retention_batch = 2;  // several slices per pass
  return options;
}

constexpr int64_t kDay = 86400;

// A step of a referral's intake pathway on `date`, as the hub's system sends it.
Envelope IntakeStep(const std::string& event_id, const std::string& referral_id,
                    const std::string& date, bool declined) {
  return pathway::testing::Command(event_id, date, [&](Envelope& e) {
    e.mutable_source()->set_system("spa-hub");
    e.mutable_actor()->set_id("staff-12");
    e.mutable_actor()->set_role("SPA coordinator");
    if (declined) {
      auto* d = e.mutable_referral_declined();
      d->set_referral_id(referral_id);
      *d->mutable_declined_on() = pathway::testing::Day(date);
      d->set_reason("Needs met by universal services.");
    } else {
      auto* s = e.mutable_referral_screened();
      s->set_referral_id(referral_id);
      *s->mutable_screened_on() = pathway::testing::Day(date);
      s->set_early_help_offered(true);
    }
  });
}

// Steps enough for every sweep of the day to finish (bounded).
void Sweep(EngineHarness& h) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(h.engine().Step(std::chrono::milliseconds(0)).ok());
}

size_t Count(const std::vector<Envelope>& events, bool (Envelope::*has)() const) {
  size_t n = 0;
  for (const auto& e : events) n += (e.*has)() ? 1 : 0;
  return n;
}

size_t DedupeEntries(EngineHarness& h) {
  size_t n = 0;
  for (int32_t partition : h.stores().OpenPartitions()) {
    auto s = h.stores().Find(partition)->Scan(state::ColumnFamily::kDedupe,
                                              [&](std::string_view, std::string_view) { ++n; });
    EXPECT_TRUE(s.ok());
  }
  return n;
}

uint64_t HistoryLength(EngineHarness& h, const std::string& subject) {
  auto state = h.StoreFor(subject).LoadCase(subject);
  EXPECT_TRUE(state.ok() && state->has_value());
  return state.ok() && state->has_value() ? (*state)->history_length() : 0;
}

TEST(Retention, DedupeEntriesGoAfterTheWindowAndARepeatIsStillRecognisedByItsHistory) {
  EngineHarness h(WithWindow(10));
  const std::string subject = h.SubjectOf(pathway::testing::kValidNhsNumber);
  for (int i = 0; i < 3; ++i) {
    std::string id = "evt-";
    id += std::to_string(i);
    h.Publish(ValidReferral(id));
  }
  ASSERT_TRUE(h.RunUntilIdle().ok());
  ASSERT_EQ(Count(h.Read(topics::kEvents), &Envelope::has_referral_received), 3u);
  ASSERT_EQ(DedupeEntries(h), 3u);

  // Within the window the table recognises a repeat.
  h.Publish(ValidReferral("evt-0"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.engine().stats().duplicates, 1u);

  // Nine days on nothing has gone; eleven days on every entry has (by the engine's
  // clock: the referrals' business dates do not move it).
  h.time().Advance(std::chrono::hours(24 * 9));
  Sweep(h);
  EXPECT_EQ(DedupeEntries(h), 3u);
  EXPECT_EQ(h.engine().stats().dedupe_expired, 0u);
  h.time().Advance(std::chrono::hours(24 * 2));
  Sweep(h);
  EXPECT_EQ(h.engine().stats().dedupe_expired, 3u);
  EXPECT_EQ(DedupeEntries(h), 0u);

  // The partner sends evt-1 again, weeks late: its case kept it, so it is a repeat.
  const uint64_t length = HistoryLength(h, subject);
  const size_t events = h.Read(topics::kEvents).size();
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.engine().stats().duplicates, 2u);
  EXPECT_EQ(h.Read(topics::kEvents).size(), events) << "nothing emitted, not even a correction";
  EXPECT_TRUE(h.Read(topics::kRejections).empty());
  EXPECT_EQ(HistoryLength(h, subject), length) << "nothing recorded";
  EXPECT_EQ(DedupeEntries(h), 1u) << "remembered again: the next repeat is a lookup";

  // And under the same id a different message dated before it: refused as a reused id.
  Envelope changed = ValidReferral("evt-2");
  changed.mutable_occurred_at()->set_seconds(changed.occurred_at().seconds() - 86400);
  changed.mutable_referral_submitted()->mutable_received_on()->set_day(9);
  h.Publish(changed);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  ASSERT_TRUE(rejections[0].has_command_rejected());
  EXPECT_EQ(rejections[0].command_rejected().rule(), "event_id.reused_with_different_content");
  EXPECT_EQ(Count(h.Read(topics::kEvents), &Envelope::has_referral_received), 3u);
  EXPECT_EQ(HistoryLength(h, subject), length);
}

TEST(Retention, AWindowOfZeroKeepsEveryEntry) {
  EngineHarness h(WithWindow(0));
  h.Publish(ValidReferral("evt-0"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.time().Advance(std::chrono::hours(24 * 4000));
  Sweep(h);
  EXPECT_EQ(DedupeEntries(h), 1u);
  EXPECT_EQ(h.engine().stats().dedupe_expired, 0u);
}

TEST(Retention, AClosedCasesHistoryIsTrimmedAfterItsWindowAndStillChecksAndReDecides) {
  EngineOptions options;
  options.closed_history_retention_days = 30;
  options.retention_batch = 20;
  EngineHarness h(options);
  const std::string subject = h.SubjectOf(pathway::testing::kValidNhsNumber);
  h.Publish(ValidReferral("ref-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.time().Advance(std::chrono::hours(24 * 2));
  h.Publish(IntakeStep("declined-1", "REF-ref-1", "2025-03-12", true));  // closes it
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto closed = h.StoreFor(subject).LoadCase(subject);
  ASSERT_TRUE(closed.ok() && closed->has_value());
  ASSERT_EQ((*closed)->pathways(0).state(), "declined");
  const uint64_t length = (*closed)->history_length();
  const size_t events = h.Read(topics::kEvents).size();

  // 29 days later it is kept whole; 31 days later (by business date and by the
  // engine's clock) it is trimmed, and nothing is emitted for it.
  h.time().Advance(std::chrono::hours(24 * 29));
  Sweep(h);
  EXPECT_EQ(h.engine().stats().histories_trimmed, 0u);
  h.time().Advance(std::chrono::hours(24 * 2));
  Sweep(h);
  EXPECT_EQ(h.engine().stats().histories_trimmed, 1u);
  EXPECT_EQ(h.Read(topics::kEvents).size(), events);
  auto trimmed = h.StoreFor(subject).LoadCase(subject);
  auto history = h.StoreFor(subject).History(subject);
  ASSERT_TRUE(trimmed.ok() && trimmed->has_value() && history.ok());
  ASSERT_EQ(history->size(), 1u);
  ASSERT_TRUE(history->front().has_history_trimmed());
  EXPECT_EQ(history->front().history_trimmed().entries_removed(), length);
  EXPECT_EQ((*trimmed)->history_kept_from(), length);
  EXPECT_EQ((*trimmed)->history_length(), length + 1);
  EXPECT_EQ(workflow::CanonicalCase(**trimmed), workflow::CanonicalCase(**closed));
  // rebuild's two checks still hold: the history folds to the case, and re-deciding
  // from the case it carries gives the case.
  const workflow::CaseCheck check =
      workflow::CheckCase(subject, **trimmed, *history, h.time().Now(), workflow::StepSettings{});
  EXPECT_FALSE(check.diverged()) << (check.history_differences.empty()
                                         ? std::string("re-decided differs")
                                         : check.history_differences.front());
  // A second pass has nothing more to remove.
  h.time().Advance(std::chrono::hours(24));
  Sweep(h);
  EXPECT_EQ(h.engine().stats().histories_trimmed, 1u);

  // A step dated before the trim can no longer be decided in its place: refused,
  // naming its date field, and the case is unchanged.
  h.Publish(IntakeStep("screened-1", "REF-ref-1", "2025-03-11", false));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].command_rejected().rule(), "history.trimmed");
  EXPECT_EQ(rejections[0].command_rejected().field(), "referral_screened.screened_on");

  // A new referral reopens the case; a late step of it is re-decided from the case the
  // trim carries, which keeps the first referral's pathway as it was.
  Envelope second = ValidReferral("ref-2");
  second.mutable_occurred_at()->set_seconds(second.occurred_at().seconds() + 40 * kDay);
  second.mutable_referral_submitted()->mutable_received_on()->set_month(4);
  second.mutable_referral_submitted()->mutable_received_on()->set_day(19);
  h.Publish(second);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.Publish(IntakeStep("declined-2", "REF-ref-2", "2025-04-20", true));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const uint64_t corrections_before = h.engine().stats().redecisions;
  Envelope late = IntakeStep("screened-2", "REF-ref-2", "2025-04-19", false);
  h.Publish(late);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.engine().stats().redecisions, corrections_before + 1);
  auto reopened = h.StoreFor(subject).LoadCase(subject);
  ASSERT_TRUE(reopened.ok() && reopened->has_value());
  ASSERT_EQ((*reopened)->pathways_size(), 2);
  EXPECT_EQ((*reopened)->pathways(0).state(), "declined");
  EXPECT_EQ((*reopened)->pathways(1).state(), "declined");
  EXPECT_EQ(h.Read(topics::kRejections).size(), 1u) << "the late step is accepted";
  auto now_history = h.StoreFor(subject).History(subject);
  ASSERT_TRUE(now_history.ok());
  const workflow::CaseCheck after = workflow::CheckCase(subject, **reopened, *now_history,
                                                        h.time().Now(), workflow::StepSettings{});
  EXPECT_FALSE(after.diverged());
}

TEST(Retention, AnOpenCaseKeepsItsWholeHistory) {
  EngineOptions options;
  options.closed_history_retention_days = 30;
  options.retention_batch = 20;
  EngineHarness h(options);
  const std::string subject = h.SubjectOf(pathway::testing::kValidNhsNumber);
  h.Publish(ValidReferral("ref-1"));  // intake stays open: received
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const uint64_t length = HistoryLength(h, subject);
  h.time().Advance(std::chrono::hours(24 * 400));
  Sweep(h);
  EXPECT_EQ(h.engine().stats().histories_trimmed, 0u);
  auto history = h.StoreFor(subject).History(subject);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), length);
}

}  // namespace
}  // namespace pathway::engine
