// The operations the engine runs for the gateway's operations role
// (services/engine/operations_service.h), over a real history: the engine runs on the
// in-memory bus, and the service answers from the stores it commits to, through the
// query endpoint's own dispatch (QueryService).
#include "services/engine/operations_service.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "services/bus/key_partition.h"
#include "services/operations/inspection.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "tests/common/http_answers.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;

using gateway::HttpRequest;
using gateway::HttpResponse;
using pathway::testing::EngineHarness;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
using pathway::testing::RuleOf;

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kKek(32, 'k');
constexpr int32_t kPartitions = 4;  // EngineHarness's
const std::string kReason = "INC-7: family says the assessment date is wrong";

// Records what is published; refuses from the `refuse_from`th record on.
class RecordingSink final : public operations::AuditSink {
 public:
  Status Publish(const std::string& key, const v1::Envelope& e) override {
    if (records.size() >= refuse_from) {
      return Error{std::make_error_code(std::errc::io_error), "broker down"};
    }
    records.emplace_back(key, e);
    return {};
  }
  size_t refuse_from = 1000;
  std::vector<std::pair<std::string, v1::Envelope>> records;
};

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

class OperationsServiceTest : public ::testing::Test {
 protected:
  OperationsServiceTest() : h(Options(gate)) {
    gate.SetPartitionCount(kPartitions);
    for (const auto& e : ReadHistory("neurodevelopmental.jsonl")) {
      h.time().Set(OccurredAt(e));
      h.Publish(e);
      EXPECT_TRUE(h.RunUntilIdle().ok());
      if (nhs.empty() && e.has_referral_submitted()) {
        nhs = e.referral_submitted().child().nhs_number();
      }
    }
    child = h.SubjectOf(nhs);
  }
  static EngineOptions Options(ReadGate& gate) {
    EngineOptions o;
    o.reads = &gate;
    return o;
  }
  HttpResponse Inspect(const std::string& id, const std::string& body) {
    return query.Handle(Post("/internal/v1/operations/children/" + id + "/inspect", body));
  }
  std::vector<v1::OperationPhase> Phases() const {
    std::vector<v1::OperationPhase> out;
    for (const auto& [key, e] : sink.records) {
      if (e.has_operation_recorded()) out.push_back(e.operation_recorded().phase());
    }
    return out;
  }

  ReadGate gate;  // before the harness: the engine stops it when it goes
  EngineHarness h;
  RecordingSink sink;
  OperationsService operations{kKek, sink, gate, h.time()};
  QueryService query{QueryServiceOptions{kToken, 50, 200, nullptr, &operations}, h.keyer(), gate,
                     h.time(), [] { return true; }};
  std::string nhs, child;
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

}  // namespace
}  // namespace pathway::engine
