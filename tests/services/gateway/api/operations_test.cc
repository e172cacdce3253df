// The gateway's operations routes against a real engine: the engine runs a real history
// on the in-memory bus, its query endpoint runs the operations (OperationsService), and
// the gateway's OperationsApi reaches it through an in-process EngineCaller.
#include "services/gateway/api/operations.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/time_source.h"
#include "services/bus/memory_bus.h"
#include "services/engine/engine_options.h"
#include "services/engine/operations_service.h"
#include "services/engine/outputs.h"
#include "services/engine/subject_keyer.h"
#include "services/topics.h"
#include "tests/common/fixtures.h"
#include "tests/common/http_answers.h"
#include "tests/common/recording_sink.h"
#include "tests/common/served_history.h"
#include "tests/services/gateway/api/api_fakes.h"
#include "tests/services/gateway/api/engine_fakes.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using pathway::testing::RecordingSink;
using pathway::testing::RuleOf;
using pathway::testing::ServedHistory;
using testing::Answers;
using testing::FakeDirectory;
using testing::kEngineToken;
using testing::LocalEngines;

const std::string kKek(32, 'k');

HttpRequest Post(std::string path, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

Principal Operator() { return {"ops.jones", Role::kOperations, "pathway", "", false}; }

class OperationsApiTest : public ::testing::Test, protected ServedHistory {
 protected:
  HttpResponse Call(const HttpRequest& request, const Principal& who) {
    Answers a;
    api.Handle(request, who, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses.front();
  }
  HttpResponse Inspect(const std::string& body, const Principal& who = Operator()) {
    return Call(Post("/v1/operations/inspect", body), who);
  }
  const v1::OperationRecorded* Started() const {
    for (const auto& [key, e] : sink.records) {
      if (e.has_operation_recorded() &&
          e.operation_recorded().phase() == v1::OPERATION_PHASE_STARTED) {
        return &e.operation_recorded();
      }
    }
    return nullptr;
  }

  RecordingSink sink;
  RecordingSink commands;
  engine::OperationsService operations{
      kKek, {sink, commands}, gate, h.time(), engine::StepSettingsOf({})};
  engine::QueryService service{
      engine::QueryServiceOptions{kEngineToken, 50, 200, nullptr, &operations}, h.keyer(), gate,
      h.time(), [] { return true; }};
  FakeDirectory directory;
  LocalEngines engines{service};
  OperationsApi api{ReadApiOptions{}, directory, engines};
};

TEST_F(OperationsApiTest,
       AnOperatorInspectsAChildByNhsNumberInTheBodyAndTheEngineRecordsWhoAndWhy) {
  HttpResponse r = Inspect(R"({"nhsNumber": ")" + nhs + R"(", "reason": "INC-9: wrong state"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("subject_key":")" + child), std::string::npos);
  EXPECT_NE(r.body.find(R"("pathways":[{)"), std::string::npos);
  EXPECT_EQ(r.body.find(nhs), std::string::npos);

  // Who is the signed-in operator, never the body's; the NHS number went in a body only.
  const v1::OperationRecorded* started = Started();
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->operator_id(), "ops.jones");
  EXPECT_EQ(started->scope(), "subject " + child);
  auto reason = operations::OpenReason(kKek, *started);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, "INC-9: wrong state");
  for (const auto& call : engines.calls) {
    EXPECT_EQ(call.target.find(nhs), std::string::npos) << call.target;
  }
  ASSERT_FALSE(engines.calls.empty());
  EXPECT_EQ(engines.calls.back().target, "/internal/v1/operations/children/" + child + "/inspect");
}

TEST_F(OperationsApiTest, ByChildIdTheSameCase) {
  HttpResponse r = Inspect(R"({"childId": ")" + child + R"(", "reason": "INC-9"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("subject_key":")" + child), std::string::npos);
}

TEST_F(OperationsApiTest, OnlyTheOperationsRoleAndNothingReachesTheEngineOtherwise) {
  for (Role role : {Role::kClinician, Role::kCaseworker, Role::kTeamManager, Role::kPartnerSystem,
                    Role::kAuditor}) {
    Principal who{"staff-9", role, "RV5", "", false};
    HttpResponse r = Inspect(R"({"childId": ")" + child + R"(", "reason": "x"})", who);
    EXPECT_EQ(r.status, 403) << RoleName(role);
    EXPECT_EQ(RuleOf(r), "authorisation.role");
  }
  EXPECT_TRUE(engines.calls.empty());
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(OperationsApiTest, AReasonAndExactlyOneChildAreRequired) {
  struct Case {
    std::string body;
    int status;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"childId": ")" + child + R"("})", 400, "operation.reason"},
           {R"({"childId": ")" + child + R"(", "reason": "  "})", 400, "operation.reason"},
           {R"({"reason": "x"})", 422, "operation.one_child"},
           {R"({"childId": ")" + child + R"(", "nhsNumber": ")" + nhs + R"(", "reason": "x"})", 422,
            "operation.one_child"},
           {R"({"childId": "x", "surprise": 1})", 400, "body.invalid_json"},
           {R"({"childId": "not-a-child-id", "reason": "x"})", 404, "child.not_found"},
           {R"({"nhsNumber": "1234567890", "reason": "x"})", 422, "nhs_number.modulus11"},
       }) {
    HttpResponse r = Inspect(c.body);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_EQ(RuleOf(r), c.rule) << c.body;
  }
  EXPECT_TRUE(sink.records.empty()) << "nothing was run, so nothing is recorded";
}

TEST_F(OperationsApiTest, CheckAndRedriveReachTheOwnerWithTheScopeAndTheSignedInOperator) {
  HttpResponse r =
      Call(Post("/v1/operations/check", R"({"nhsNumber": ")" + nhs + R"(", "reason": "INC-10"})"),
           Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("diverged":false)"), std::string::npos) << r.body;
  EXPECT_EQ(engines.calls.back().target, "/internal/v1/operations/children/" + child + "/check");

  r = Call(Post("/v1/operations/redrive",
                R"({"childId": ")" + child +
                    R"(", "reason": "INC-11", "redrive": {"excludeSource": "rio", "from": )"
                    R"("2025-04-01", "apply": true}})"),
           Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("sent":true)"), std::string::npos) << r.body;
  ASSERT_EQ(commands.records.size(), 1u);
  EXPECT_EQ(commands.records[0].second.actor().id(), "ops.jones");
  EXPECT_EQ(commands.records[0].second.case_redrive_requested().withdraw_source_system(), "rio");

  // The engine's refusal of a scope passes through, naming the field.
  r = Call(
      Post("/v1/operations/redrive",
           R"({"childId": ")" + child + R"(", "reason": "x", "redrive": {"from": "2025-04-01"}})"),
      Operator());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RuleOf(r), "operation.redrive.exclude_source");
  // An unknown field of the scope is refused by the gateway itself.
  r = Call(
      Post("/v1/operations/redrive",
           R"({"childId": ")" + child + R"(", "reason": "x", "redrive": {"everything": true}})"),
      Operator());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RuleOf(r), "body.invalid_json");
  EXPECT_EQ(commands.records.size(), 1u);
}

TEST_F(OperationsApiTest, OnlyPostAndOnlyInspect) {
  HttpRequest get = Post("/v1/operations/inspect", "");
  get.method = "GET";
  EXPECT_EQ(Call(get, Operator()).status, 405);
  EXPECT_EQ(Call(Post("/v1/operations/rebuild", "{}"), Operator()).status, 404);
  EXPECT_TRUE(OperationsApi::Serves("/v1/operations/inspect"));
  EXPECT_FALSE(OperationsApi::Serves("/v1/children/search"));
}

// The dead-letter routes against an engine whose dead-letter actions run on the memory
// bus. A dead letter is no child's: any instance is asked.
class DeadLetterOperationsApiTest : public ::testing::Test {
 protected:
  DeadLetterOperationsApiTest() {
    for (auto topic : topics::kAll) broker.CreateTopic(std::string(topic), 2);
    gate.SetPartitionCount(4);
    // A referral the engine's intake dead-lettered: its place.
    const std::string inbound(topics::kInbound);
    const std::string value = pathway::testing::ValidReferral("evt-1").SerializeAsString();
    const int64_t at = broker.Append(inbound, 1, std::string("partner-key"), value);
    const std::string coordinates = inbound + "/1/" + std::to_string(at);
    auto d = engine::DeadLetter(coordinates, inbound, 1, at, value, "does not decode",
                                operations::DeadLetterKey(kKek));
    EXPECT_TRUE(d.ok());
    place = "0/" + std::to_string(broker.Append(std::string(topics::kDeadLetter), 0, coordinates,
                                                d.value().SerializeAsString()));
  }
  HttpResponse Call(const std::string& action, const std::string& body,
                    const Principal& who = Operator()) {
    Answers a;
    api.Handle(Post("/v1/operations/deadletters/" + action, body), who, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses.front();
  }
  std::string Body(const std::string& reason = "INC-12: the partner fixed it") const {
    return R"({"deadLetter": ")" + place + R"(", "reason": ")" + reason + R"("})";
  }

  bus::MemoryBroker broker;
  engine::SubjectKeyer keyer = engine::SubjectKeyer::FromSecret(std::string(32, 's'));
  SimulatedTimeSource time{TimePoint{}};
  engine::ReadGate gate;
  RecordingSink sink;
  RecordingSink commands;
  engine::OperationsService operations{
      kKek,
      {sink, commands},
      gate,
      time,
      engine::StepSettingsOf({}),
      {[this]() -> Result<std::unique_ptr<bus::Consumer>> {
         return bus::NewMemoryConsumer(broker, "");
       },
       [this](bus::DeliveryCallback delivered) -> Result<std::unique_ptr<bus::Producer>> {
         return bus::NewMemoryProducer(broker, std::move(delivered));
       },
       [this](std::string_view nhs) { return keyer.Key(nhs); }, std::chrono::seconds(5)}};
  engine::QueryService service{
      engine::QueryServiceOptions{kEngineToken, 50, 200, nullptr, &operations}, keyer, gate, time,
      [] { return true; }};
  FakeDirectory directory;
  LocalEngines engines{service};
  OperationsApi api{ReadApiOptions{}, directory, engines};
  std::string place;
};

TEST_F(DeadLetterOperationsApiTest, AnOperatorSeesTheOriginalRecordedAsTheSignedInOperator) {
  HttpResponse r = Call("show", Body());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("payload":"referral_submitted")"), std::string::npos) << r.body;
  ASSERT_EQ(engines.calls.size(), 1u);
  EXPECT_EQ(engines.calls[0].target, "/internal/v1/operations/deadletters/" + place + "/show");
  ASSERT_FALSE(sink.records.empty());
  const v1::OperationRecorded& op = sink.records[0].second.operation_recorded();
  EXPECT_EQ(op.operation(), "deadletters show");
  EXPECT_EQ(op.operator_id(), "ops.jones");
  auto reason = operations::OpenReason(kKek, op);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, "INC-12: the partner fixed it");

  // Who is never the body's.
  r = Call("show", R"({"deadLetter": ")" + place + R"(", "reason": "x", "operatorId": "root"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RuleOf(r), "body.invalid_json");
}

TEST_F(DeadLetterOperationsApiTest, ResubmitOnceThenTheEnginesRefusalsPassThrough) {
  HttpResponse r = Call("resubmit", Body());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("disposition":"resubmitted")"), std::string::npos);
  r = Call("discard", Body());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(RuleOf(r), "deadletter.closed");
  r = Call("show", R"({"deadLetter": "1/40", "reason": "x"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(RuleOf(r), "deadletter.not_found");

  sink.refuse_from = sink.records.size();
  r = Call("show", Body());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "audit.unavailable");

  // What the gateway does not relay is its own 503.
  engines.script.push_back([](const EngineRequest&) -> std::optional<Result<HttpResponse>> {
    HttpResponse teapot;
    teapot.status = 500;
    return Result<HttpResponse>(teapot);
  });
  r = Call("show", Body());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.unavailable");
  directory.known = false;
  r = Call("show", Body());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.unavailable");
}

TEST_F(DeadLetterOperationsApiTest, OnlyTheOperationsRoleWithAReasonAndAPlaceReachesTheEngine) {
  for (Role role : {Role::kClinician, Role::kCaseworker, Role::kTeamManager, Role::kPartnerSystem,
                    Role::kAuditor}) {
    HttpResponse r = Call("show", Body(), Principal{"staff-9", role, "RV5", "", false});
    EXPECT_EQ(r.status, 403) << RoleName(role);
    EXPECT_EQ(RuleOf(r), "authorisation.role");
  }
  struct Case {
    std::string body;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"deadLetter": ")" + place + R"("})", "operation.reason"},
           {Body("  "), "operation.reason"},
           {R"({"reason": "x"})", "operation.dead_letter"},
           {R"({"deadLetter": "0", "reason": "x"})", "operation.dead_letter"},
           {R"({"deadLetter": "0/1/show", "reason": "x"})", "operation.dead_letter"},
           {R"({"deadLetter": "-1/2", "reason": "x"})", "operation.dead_letter"},
           {R"({"deadLetter": 3, "reason": "x", "surprise": 1})", "body.invalid_json"},
       }) {
    HttpResponse r = Call("discard", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(RuleOf(r), c.rule) << c.body;
  }
  HttpRequest get = Post("/v1/operations/deadletters/show", Body());
  get.method = "GET";
  Answers a;
  api.Handle(get, Operator(), a.Callback());
  ASSERT_EQ(a.responses.size(), 1u);
  EXPECT_EQ(a.responses[0].status, 405);
  EXPECT_EQ(Call("open", Body()).status, 404);
  EXPECT_EQ(Call("", Body()).status, 404);
  EXPECT_TRUE(engines.calls.empty());
  EXPECT_TRUE(sink.records.empty());
  EXPECT_TRUE(broker.ReadAll(std::string(topics::kDeadLetterDispositions)).empty());
}

}  // namespace
}  // namespace pathway::gateway
