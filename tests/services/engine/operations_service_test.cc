// The operations the engine runs for the gateway's operations role
// (services/engine/operations_service.h), over a real history: the engine runs on the
// in-memory bus, and the service answers from the stores it commits to, through the
// query endpoint's own dispatch (QueryService).
#include "services/engine/operations_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/bus/key_partition.h"
#include "services/operations/case_reports.h"
#include "services/operations/inspection.h"
#include "services/topics.h"
#include "tests/common/http_answers.h"
#include "tests/common/recording_sink.h"
#include "tests/common/served_history.h"
#include "workflow/clock.h"
#include "workflow/rebuild.h"
#include "workflow/redrive.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

using gateway::HttpRequest;
using gateway::HttpResponse;
using pathway::testing::RecordingSink;
using pathway::testing::RuleOf;
using pathway::testing::ServedHistory;

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kKek(32, 'k');
const std::string kReason = "INC-7: family says the assessment date is wrong";

HttpRequest Post(std::string path, std::string body, std::string token = kToken) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.body = std::move(body);
  if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

std::string Body(std::string_view operator_id, std::string_view reason) {
  return R"({"operatorId": ")" + std::string(operator_id) + R"(", "reason": ")" +
         std::string(reason) + R"("})";
}

class OperationsServiceTest : public ::testing::Test, protected ServedHistory {
 protected:
  HttpResponse Inspect(const std::string& id, const std::string& body) {
    return query.Handle(Post("/internal/v1/operations/children/" + id + "/inspect", body));
  }
  HttpResponse Check(const std::string& id) {
    return query.Handle(
        Post("/internal/v1/operations/children/" + id + "/check", Body("ops.jones", kReason)));
  }
  HttpResponse Redrive(const std::string& id, const std::string& scope) {
    return query.Handle(
        Post("/internal/v1/operations/children/" + id + "/redrive",
             R"({"operatorId": "ops.jones", "reason": "INC-8", "redrive": )" + scope + "}"));
  }
  // The stored case and the history it holds, as the command stage reads them.
  std::pair<store::CaseState, std::vector<v1::Envelope>> Stored() {
    auto state = h.StoreFor(child).LoadCase(child);
    EXPECT_TRUE(state.ok() && state->has_value());
    auto history = h.StoreFor(child).HistoryFrom(child, (*state)->history_kept_from());
    EXPECT_TRUE(history.ok());
    workflow::KeepHeld(*history, **state);
    return {**state, *history};
  }
  std::vector<v1::OperationPhase> Phases() const {
    std::vector<v1::OperationPhase> out;
    for (const auto& [key, e] : sink.records) {
      if (e.has_operation_recorded()) out.push_back(e.operation_recorded().phase());
    }
    return out;
  }

  RecordingSink sink;
  RecordingSink commands;
  OperationsService operations{kKek, {sink, commands}, gate, h.time(), StepSettingsOf({})};
  QueryService query{QueryServiceOptions{kToken, 50, 200, nullptr, &operations}, h.keyer(), gate,
                     h.time(), [] { return true; }};
};

TEST_F(OperationsServiceTest, InspectAnswersTheCaseAsPathwayctlPrintsItAfterRecordingWhoAndWhy) {
  HttpResponse r = Inspect(child, Body("ops.jones", kReason));
  ASSERT_EQ(r.status, 200) << r.body;

  // STARTED, the child on its own trail, FINISHED: in that order, each confirmed.
  ASSERT_EQ(sink.records.size(), 3u);
  const v1::Envelope& started = sink.records[0].second;
  ASSERT_TRUE(started.has_operation_recorded());
  const auto& op = started.operation_recorded();
  EXPECT_EQ(op.phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(op.operation(), "inspect");
  EXPECT_EQ(op.operator_id(), "ops.jones");
  EXPECT_EQ(op.scope(), "subject " + child);
  EXPECT_EQ(started.source().system(), "pathway-gateway");
  auto reason = operations::OpenReason(kKek, op);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, kReason);
  EXPECT_EQ(op.sealed_reason().find("INC-7"), std::string::npos);

  EXPECT_EQ(sink.records[1].first, child);
  ASSERT_TRUE(sink.records[1].second.has_audit_recorded());
  EXPECT_EQ(sink.records[1].second.audit_recorded().action(), v1::AUDIT_ACTION_OPERATIONS_INSPECT);
  EXPECT_EQ(sink.records[1].second.audit_recorded().actor_id(), "ops.jones");
  EXPECT_EQ(sink.records[2].second.operation_recorded().phase(), v1::OPERATION_PHASE_FINISHED);

  // The same document pathwayctl inspect --json prints from the same store.
  auto state = h.StoreFor(child).LoadCase(child);
  ASSERT_TRUE(state.ok() && state->has_value());
  auto expected = operations::LoadInspection(
      h.StoreFor(child), bus::KeyPartition(child, kPartitions), child, std::move(**state));
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(r.body, operations::InspectionJson(*expected, op.operation_id()));
  EXPECT_NE(r.body.find(R"("subject_key":")" + child), std::string::npos);
  EXPECT_EQ(r.body.find(nhs), std::string::npos) << "no NHS number in an inspection";
}

TEST_F(OperationsServiceTest, WithoutOperatorOrReasonNothingIsReadOrRecorded) {
  struct Case {
    std::string body;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {Body("ops.jones", ""), "operation.reason"},
           {Body("ops.jones", "   "), "operation.reason"},
           {Body("ops.jones", std::string(2001, 'x')), "operation.reason"},
           {Body("", kReason), "operation.operator_id"},
           {R"({"reason": "x", "surprise": 1})", "body.invalid_json"},
           {"not json", "body.invalid_json"},
       }) {
    HttpResponse r = Inspect(child, c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 60);
    EXPECT_EQ(RuleOf(r), c.rule) << c.body.substr(0, 60);
  }
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(OperationsServiceTest, AnUnknownChildIsNotFoundAndTheOperationEndsWithNoCaseShown) {
  const std::string unknown(64, 'a');
  HttpResponse r = Inspect(unknown, Body("ops.jones", kReason));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(RuleOf(r), "child.not_found");
  EXPECT_EQ(Phases(), (std::vector{v1::OPERATION_PHASE_STARTED, v1::OPERATION_PHASE_FINISHED}));
  for (const auto& [key, e] : sink.records) EXPECT_FALSE(e.has_audit_recorded());

  // Not a child id at all: not found before anything is recorded.
  sink.records.clear();
  EXPECT_EQ(Inspect("not-a-key", Body("ops.jones", kReason)).status, 404);
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(OperationsServiceTest, AnotherInstancesChildIsRefusedAsNotOwnerWithNothingRecorded) {
  gate.Stop(bus::KeyPartition(child, kPartitions));
  HttpResponse r = Inspect(child, Body("ops.jones", kReason));
  EXPECT_EQ(r.status, 421);
  EXPECT_EQ(RuleOf(r), "engine.not_owner");
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(OperationsServiceTest, NoAuditRecordNoAction) {
  // STARTED not confirmed: nothing is read.
  sink.refuse_from = 0;
  HttpResponse r = Inspect(child, Body("ops.jones", kReason));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "audit.unavailable");
  EXPECT_EQ(r.body.find(child), std::string::npos);

  // The child's own trail not confirmed: the case is not shown.
  sink.refuse_from = 1;
  r = Inspect(child, Body("ops.jones", kReason));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "audit.unavailable");
  EXPECT_EQ(r.body.find("\"pathways\""), std::string::npos);
}

TEST_F(OperationsServiceTest, OnlyPostAndOnlyWithTheServiceToken) {
  HttpRequest get = Post("/internal/v1/operations/children/" + child + "/inspect", "");
  get.method = "GET";
  EXPECT_EQ(query.Handle(get).status, 405);
  EXPECT_EQ(query
                .Handle(Post("/internal/v1/operations/children/" + child + "/inspect",
                             Body("ops.jones", kReason), "wrong"))
                .status,
            401);
  EXPECT_EQ(
      query.Handle(Post("/internal/v1/operations/nothing", Body("ops.jones", kReason))).status,
      404);
  EXPECT_TRUE(sink.records.empty());

  // An engine started without operations says so.
  QueryService reads_only{QueryServiceOptions{kToken}, h.keyer(), gate, h.time(),
                          [] { return true; }};
  HttpResponse r = reads_only.Handle(
      Post("/internal/v1/operations/children/" + child + "/inspect", Body("ops.jones", kReason)));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "operations.unavailable");
}

TEST_F(OperationsServiceTest, CheckReportsTheCaseAsRebuildDoesAndFindsADamagedState) {
  HttpResponse r = Check(child);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("diverged":false)"), std::string::npos) << r.body;
  auto [state, history] = Stored();
  const int32_t partition = bus::KeyPartition(child, kPartitions);
  const auto clean = workflow::CheckCase(child, state, history, h.time().Now(), StepSettingsOf({}));
  EXPECT_NE(r.body.find(operations::CaseCheckJson(child, partition, clean)), std::string::npos);
  ASSERT_FALSE(sink.records.empty());
  EXPECT_EQ(sink.records.front().second.operation_recorded().operation(), "rebuild");
  EXPECT_TRUE(sink.records.front().second.operation_recorded().dry_run());

  // A state damaged at rest: a pathway's state changed behind the engine's back.
  store::CaseState damaged = state;
  ASSERT_GT(damaged.pathways_size(), 0);
  damaged.mutable_pathways(0)->set_state(damaged.pathways(0).state() + "-damaged");
  state::Batch batch;
  batch.subject_key = child;
  batch.new_state = damaged;
  batch.partition = partition;
  ASSERT_TRUE(h.StoreFor(child).Commit(std::span<const state::Batch>(&batch, 1)).ok());
  r = Check(child);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("diverged":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("history_differs":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("pathways[0].state")"), std::string::npos) << r.body;
  EXPECT_TRUE(commands.records.empty()) << "a check changes nothing";
}

TEST_F(OperationsServiceTest,
       ARedriveDryRunListsWhatLeavingOutAPartnersWeekWouldChangeAndSendsNothing) {
  const std::string scope = R"({"excludeSource": "rio", "from": "2025-04-01", "to": "2025-12-31"})";
  HttpResponse r = Redrive(child, scope);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("dry_run":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("would_change":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("sent":false)"), std::string::npos) << r.body;

  auto [state, history] = Stored();
  workflow::RedriveFilter filter;
  filter.source_system = "rio";
  filter.from = workflow::ParseDate("2025-04-01");
  filter.to = workflow::ParseDate("2025-12-31");
  const auto plan =
      workflow::PlanRedrive(child, state, history, filter, h.time().Now(), StepSettingsOf({}));
  ASSERT_FALSE(plan.excluded.empty());
  EXPECT_NE(
      r.body.find(operations::RedrivePlanJson(child, bus::KeyPartition(child, kPartitions), plan)),
      std::string::npos);
  EXPECT_TRUE(commands.records.empty());
  const auto& started = sink.records.front().second.operation_recorded();
  EXPECT_EQ(started.operation(), "redrive");
  EXPECT_TRUE(started.dry_run());
  EXPECT_EQ(started.scope(), "subject " + child + ", without rio from 2025-04-01 to 2025-12-31");
}

TEST_F(OperationsServiceTest,
       ARedriveAppliedSendsOneRedriveCommandThroughTheEngineAndTheEngineCorrectsTheCase) {
  const std::string scope =
      R"({"excludeSource": "rio", "from": "2025-04-01", "to": "2025-12-31", "apply": true})";
  HttpResponse r = Redrive(child, scope);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("sent":true)"), std::string::npos) << r.body;
  ASSERT_EQ(commands.records.size(), 1u);
  const auto& [key, command] = commands.records.front();
  EXPECT_EQ(key, child);
  ASSERT_TRUE(command.has_case_redrive_requested());
  EXPECT_EQ(command.source().system(), "pathway-gateway");
  EXPECT_EQ(command.actor().id(), "ops.jones");
  EXPECT_EQ(command.case_redrive_requested().withdraw_source_system(), "rio");
  EXPECT_FALSE(command.case_redrive_requested().withdraw_event_ids().empty());
  EXPECT_EQ(command.case_redrive_requested().operation_id(),
            sink.records.front().second.operation_recorded().operation_id());
  EXPECT_FALSE(sink.records.front().second.operation_recorded().dry_run());

  // Through the engine's normal path: the case is corrected, and nothing is left to do.
  const std::string topic(topics::kCommands);
  h.broker().Append(topic, h.broker().PartitionFor(topic, key), key, command.SerializeAsString());
  ASSERT_TRUE(h.RunUntilIdle().ok());
  commands.records.clear();
  r = Redrive(child, scope);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("would_change":false)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("excluded_commands":[])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("sent":false)"), std::string::npos) << r.body;
  EXPECT_TRUE(commands.records.empty());
}

// An audit sink whose first record waits until the test lets it through: an operation
// held mid-way, deterministically.
class HeldSink final : public operations::AuditSink {
 public:
  Status Publish(const std::string& key, const v1::Envelope& e) override {
    {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
    }
    return inner.Publish(key, e);
  }
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [this] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  RecordingSink inner;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// A second operation does not wait for the first: waiting would hold the query
// endpoint's threads, and its reads with them.
TEST_F(OperationsServiceTest, AnOperationAskedForWhileAnotherRunsIsBusyAtOnce) {
  HeldSink held;
  OperationsService busy_ops{kKek, {held, commands}, gate, h.time(), StepSettingsOf({})};
  QueryService busy_query{QueryServiceOptions{kToken, 50, 200, nullptr, &busy_ops}, h.keyer(), gate,
                          h.time(), [] { return true; }};
  HttpResponse first;
  std::thread running([&] {
    first = busy_query.Handle(
        Post("/internal/v1/operations/children/" + child + "/inspect", Body("ops.jones", kReason)));
  });
  ASSERT_TRUE(held.WaitEntered());
  HttpResponse second = busy_query.Handle(
      Post("/internal/v1/operations/children/" + child + "/check", Body("ops.smith", kReason)));
  held.Release();
  running.join();

  EXPECT_EQ(second.status, 503) << second.body;
  EXPECT_NE(second.body.find("operation.busy"), std::string::npos) << second.body;
  bool retry_after = false;
  for (const auto& [name, value] : second.headers)
    retry_after = retry_after || name == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(first.status, 200) << first.body;
  for (const auto& [key, e] : held.inner.records) {
    if (e.has_operation_recorded()) {
      EXPECT_EQ(e.operation_recorded().operator_id(), "ops.jones")
          << "the busy one recorded nothing";
    }
  }
  // Once it is done, the next one runs.
  HttpResponse after = busy_query.Handle(
      Post("/internal/v1/operations/children/" + child + "/check", Body("ops.smith", kReason)));
  EXPECT_EQ(after.status, 200) << after.body;
}

TEST_F(OperationsServiceTest, ARedriveScopeIsCheckedBeforeAnythingIsRecorded) {
  struct Case {
    std::string scope;
    int status;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"from": "2025-04-01"})", 400, "operation.redrive.exclude_source"},
           {R"({"excludeSource": "rio", "from": "2025-13-01"})", 400, "operation.redrive.from"},
           {R"({"excludeSource": "rio", "to": "yesterday"})", 400, "operation.redrive.to"},
           {R"({"excludeSource": "rio", "from": "2025-05-01", "to": "2025-04-01"})", 400,
            "operation.redrive.to"},
           {R"({"excludeSource": ")" + std::string(201, 'x') + R"("})", 400,
            "operation.redrive.exclude_source"},
       }) {
    HttpResponse r = Redrive(child, c.scope);
    EXPECT_EQ(r.status, c.status) << c.scope;
    EXPECT_EQ(RuleOf(r), c.rule) << c.scope;
  }
  EXPECT_TRUE(sink.records.empty());
  // Another child's pathway: refused once the case is read; the operation ends.
  HttpResponse r = Redrive(child, R"({"instanceId": "not-this-childs", "apply": true})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(RuleOf(r), "operation.redrive.instance_id");
  EXPECT_TRUE(commands.records.empty());
  // Only a re-drive has a scope.
  r = query.Handle(Post("/internal/v1/operations/children/" + child + "/check",
                        R"({"operatorId": "o", "reason": "r", "redrive": {"apply": true}})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RuleOf(r), "operation.redrive");
}

}  // namespace
}  // namespace pathway::engine
