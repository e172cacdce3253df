// The engine's metrics (issue 4, operability): what the counters, gauges and the
// snapshot report after real work over the in-memory bus.
#include "services/engine/engine_metrics.h"

#include <gtest/gtest.h>

#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ValidReferral;

// The value of one series in the rendered text ("name{labels} value").
std::string Value(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "<missing " + series + ">";
  at += series.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

pathway::v1::Envelope EhcRequest(const std::string& id) {
  pathway::v1::Envelope e;
  e.set_event_id(id);
  e.mutable_occurred_at()->set_seconds(1741599000);
  e.mutable_source()->set_agency("209");
  e.mutable_source()->set_system("sen-case-management");
  e.mutable_subject()->set_nhs_number(kValidNhsNumber);
  auto* r = e.mutable_ehc_assessment_requested();
  r->set_request_id("EHC-1");
  r->set_requested_by(pathway::v1::EHC_REQUESTER_PARENT);
  r->mutable_received_on()->set_year(2025);
  r->mutable_received_on()->set_month(3);
  r->mutable_received_on()->set_day(10);
  return e;
}

TEST(EngineMetrics, CountersGaugesAndLatencyReflectTheWorkDone) {
  EngineHarness h;
  ops::Registry registry;
  EngineMetrics metrics(registry);
  h.options().on_command = [&](std::chrono::microseconds took, std::chrono::milliseconds age) {
    metrics.Observe(took, age);
  };
  h.Restart();
  h.Publish(ValidReferral("evt-1"));
  h.Publish(ValidReferral("evt-1"));  // a partner's duplicate
  h.Publish(EhcRequest("evt-2"));
  h.PublishRaw("not an envelope");
  ASSERT_TRUE(h.RunUntilIdle().ok());

  auto snapshot = h.engine().Snapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->owned_partitions, 4u);
  EXPECT_EQ(snapshot->outbox_depth, 0u) << "everything delivered";
  EXPECT_EQ(snapshot->timers_due, 0u) << "the EHC clocks are weeks away";
  EXPECT_EQ(snapshot->commands_lag, 0);
  EXPECT_GT(snapshot->rocksdb.at("estimate_num_keys"), 0u);
  metrics.Update(h.engine().stats(), *snapshot);
  std::string text = registry.Render();
  EXPECT_EQ(Value(text, "pathway_engine_inbound_messages_total"), "4");
  EXPECT_EQ(Value(text, "pathway_engine_commands_total"), "3");
  EXPECT_EQ(Value(text, "pathway_engine_duplicates_total"), "1");
  EXPECT_EQ(Value(text, "pathway_engine_dead_letters_total"), "1");
  EXPECT_EQ(Value(text, "pathway_engine_owned_partitions"), "4");
  EXPECT_EQ(Value(text, "pathway_engine_command_processing_seconds_count"), "3");
  EXPECT_EQ(Value(text, "pathway_engine_consumer_lag_messages{topic=\"pathway.commands.v1\"}"),
            "0");

  // Seven weeks later nothing has happened: the decision deadline (6 weeks) and its
  // warning are due, the oldest of them 21 days overdue (warned 14 days before due).
  h.time().Set(h.time().Now() + std::chrono::hours(24 * 7 * 7));
  snapshot = h.engine().Snapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_GT(snapshot->timers_due, 0u);
  EXPECT_EQ(snapshot->oldest_due_overdue_days, 21);
  metrics.Update(h.engine().stats(), *snapshot);
  EXPECT_EQ(Value(registry.Render(), "pathway_engine_timer_oldest_due_overdue_days"), "21");

  // Once fired, nothing is due; the counters only go up.
  ASSERT_TRUE(h.RunUntilIdle().ok());
  snapshot = h.engine().Snapshot();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ(snapshot->timers_due, 0u);
  EXPECT_EQ(snapshot->oldest_due_overdue_days, 0);
  metrics.Update(h.engine().stats(), *snapshot);
  text = registry.Render();
  EXPECT_EQ(Value(text, "pathway_engine_timers_fired_total"),
            std::to_string(h.engine().stats().timers_fired));
  EXPECT_GT(h.engine().stats().timers_fired, 0u);
}

TEST(EngineMetrics, ReadyOnlyAfterTheAssignmentAndLiveUntilAStepFails) {
  EngineHarness h;  // the memory consumer assigns (and restores) inside Start
  EXPECT_TRUE(h.engine().live());
  EXPECT_TRUE(h.engine().ready());
  h.broker().FailNextDeliveries(1, std::string(topics::kCommands));
  h.Publish(ValidReferral("evt-1"));
  EXPECT_FALSE(h.RunUntilIdle().ok());
  EXPECT_FALSE(h.engine().live());
  EXPECT_FALSE(h.engine().ready());
}

}  // namespace
}  // namespace pathway::engine
