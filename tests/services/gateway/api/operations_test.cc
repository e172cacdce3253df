// The gateway's operations routes against a real engine: the engine runs a real history
// on the in-memory bus, its query endpoint runs the operations (OperationsService), and
// the gateway's OperationsApi reaches it through an in-process EngineCaller.
#include "services/gateway/api/operations.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "services/engine/operations_service.h"
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

}  // namespace
}  // namespace pathway::gateway
