// The audit trail of operations actions (services/pathwayctl/operation.h).
#include "services/pathwayctl/operation.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/common/commands.h"
#include "tests/common/recording_sink.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;

using pathway::testing::RecordingSink;

const std::string kKek(32, 'k');

OperatorFlags Who() {
  OperatorFlags who;
  who.operator_id = "ops.jones";
  who.reason = "INC-42: partner resent a bad week for Alice Smith";
  return who;
}

TEST(OperationAudit, StartedAndFinishedNameTheOperatorScopeAndCountsWithTheReasonSealed) {
  RecordingSink sink;
  SimulatedTimeSource time(pathway::testing::At("2026-12-05"));
  auto audit = OperationAudit::Start(sink, Who(), {"rebuild", "partition 3", true}, kKek, time);
  ASSERT_TRUE(audit.ok()) << audit.error().ToString();
  ASSERT_TRUE((*audit)->Finish({{"cases", 12}, {"diverged", 1}}).ok());

  ASSERT_EQ(sink.records.size(), 2u);
  const auto& [key, started] = sink.records[0];
  EXPECT_EQ(key, "operation:" + (*audit)->id());
  ASSERT_TRUE(started.has_operation_recorded());
  const v1::OperationRecorded& op = started.operation_recorded();
  EXPECT_EQ(op.phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(op.operation(), "rebuild");
  EXPECT_EQ(op.operator_id(), "ops.jones");
  EXPECT_EQ(op.operator_role(), "operations");
  EXPECT_EQ(op.scope(), "partition 3");
  EXPECT_TRUE(op.dry_run());
  EXPECT_EQ(started.actor().id(), "ops.jones");
  // The reason may name someone: only its sealed form is published.
  EXPECT_TRUE(op.reason().empty());
  EXPECT_EQ(started.SerializeAsString().find("Alice"), std::string::npos);
  auto reason = OpenReason(kKek, op);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, Who().reason);
  EXPECT_FALSE(OpenReason(std::string(32, 'x'), op).ok());

  const v1::OperationRecorded& done = sink.records[1].second.operation_recorded();
  EXPECT_EQ(done.phase(), v1::OPERATION_PHASE_FINISHED);
  EXPECT_EQ(done.operation_id(), op.operation_id());
  ASSERT_EQ(done.counts_size(), 2);
  EXPECT_EQ(done.counts(0).name(), "cases");
  EXPECT_EQ(done.counts(0).value(), 12u);
  EXPECT_EQ(done.counts(1).name(), "diverged");
  EXPECT_NE(sink.records[0].second.event_id(), sink.records[1].second.event_id());
}

TEST(OperationAudit, NoStartedRecordMeansNoAction) {
  RecordingSink sink;
  sink.refuse_from = 0;
  SimulatedTimeSource time(pathway::testing::At("2026-12-05"));
  auto audit = OperationAudit::Start(sink, Who(), {"inspect", "subject x", false}, kKek, time);
  ASSERT_FALSE(audit.ok());
  EXPECT_NE(audit.error().detail.find("broker down"), std::string::npos);
}

TEST(OperationAudit, AChildShownIsAuditedOnTheChildsKeyAndAFailureIsRecordedWithItsDetail) {
  RecordingSink sink;
  SimulatedTimeSource time(pathway::testing::At("2026-12-05"));
  auto audit = OperationAudit::Start(sink, Who(), {"inspect", "one child", false}, kKek, time);
  ASSERT_TRUE(audit.ok());
  const std::string subject(64, 'a');
  ASSERT_TRUE((*audit)->ChildShown(subject).ok());
  ASSERT_TRUE((*audit)->Fail("store unreadable", {{"cases", 0}}).ok());
  ASSERT_EQ(sink.records.size(), 3u);
  EXPECT_EQ(sink.records[1].first, subject);
  const v1::Envelope& shown = sink.records[1].second;
  EXPECT_EQ(shown.subject_key(), subject);
  ASSERT_TRUE(shown.has_audit_recorded());
  EXPECT_EQ(shown.audit_recorded().action(), v1::AUDIT_ACTION_OPERATIONS_INSPECT);
  EXPECT_EQ(shown.audit_recorded().actor_id(), "ops.jones");
  EXPECT_EQ(shown.audit_recorded().cause_event_id(), (*audit)->id());
  const v1::OperationRecorded& failed = sink.records[2].second.operation_recorded();
  EXPECT_EQ(failed.phase(), v1::OPERATION_PHASE_FAILED);
  EXPECT_EQ(failed.detail(), "store unreadable");
}

TEST(OperatorFlags, OperatorAndReasonAreRequired) {
  OperatorFlags none;
  ::unsetenv("PATHWAY_OPERATOR");
  auto error = none.Check();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("--operator"), std::string::npos);
  OperatorFlags no_reason;
  no_reason.operator_id = "ops.jones";
  error = no_reason.Check();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("--reason"), std::string::npos);
  ::setenv("PATHWAY_OPERATOR", "ops.env", 1);
  OperatorFlags from_env;
  from_env.reason = "INC-1";
  EXPECT_FALSE(from_env.Check().has_value());
  EXPECT_EQ(from_env.operator_id, "ops.env");
  ::unsetenv("PATHWAY_OPERATOR");
  OperatorFlags long_reason = Who();
  long_reason.reason = std::string(5000, 'r');
  EXPECT_TRUE(long_reason.Check().has_value());
}

}  // namespace
}  // namespace pathway::ctl
