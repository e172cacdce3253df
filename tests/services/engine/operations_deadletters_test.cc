// The dead-letter actions the engine runs for the gateway's operations role
// (services/engine/operations_service.h, /internal/v1/operations/deadletters/...), on
// the memory bus: dead letters made by the engine's own DeadLetter (outputs.h), shown
// after the trail records who, why and the child, resubmitted once, discarded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/time_source.h"
#include "services/bus/memory_bus.h"
#include "services/engine/engine_options.h"
#include "services/engine/operations_service.h"
#include "services/engine/outputs.h"
#include "services/engine/subject_keyer.h"
#include "services/operations/deadletter_actions.h"
#include "services/topics.h"
#include "tests/common/fixtures.h"
#include "tests/common/http_answers.h"
#include "tests/common/recording_sink.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;

using gateway::HttpRequest;
using gateway::HttpResponse;
using pathway::testing::RecordingSink;
using pathway::testing::RuleOf;

const std::string kKek(32, 'k');
const std::string kReason = "INC-9: the partner fixed the referral";
const std::string kInbound(topics::kInbound);
const std::string kDead(topics::kDeadLetter);
const std::string kDispositions(topics::kDeadLetterDispositions);

HttpRequest Post(const std::string& place, const std::string& action, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/internal/v1/operations/deadletters/" + place + "/" + action;
  r.body = std::move(body);
  return r;
}

std::string Body(const std::string& reason) {
  return R"({"operatorId": "ops.jones", "reason": ")" + reason + R"("})";
}

class OperationsDeadLettersTest : public ::testing::Test {
 protected:
  OperationsDeadLettersTest() {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 2);
  }

  // Publishes `value` to inbound partition 1 and dead-letters it there as the engine's
  // intake does. Returns its place.
  std::string Poison(const std::string& value) {
    const int64_t at = broker_.Append(kInbound, 1, std::string("partner-key"), value);
    const std::string coordinates = kInbound + "/1/" + std::to_string(at);
    auto d = DeadLetter(coordinates, kInbound, 1, at, value, "does not decode",
                        operations::DeadLetterKey(kKek));
    EXPECT_TRUE(d.ok());
    const int64_t offset = broker_.Append(kDead, 0, coordinates, d.value().SerializeAsString());
    return "0/" + std::to_string(offset);
  }

  HttpResponse Run(const std::string& place, const std::string& action,
                   const std::string& reason = kReason) {
    return operations_.Handle(Post(place, action, Body(reason)));
  }

  std::vector<v1::OperationPhase> Phases() const {
    std::vector<v1::OperationPhase> out;
    for (const auto& [key, e] : sink_.records) {
      if (e.has_operation_recorded()) out.push_back(e.operation_recorded().phase());
    }
    return out;
  }

  bus::MemoryBroker broker_;
  SubjectKeyer keyer_ = SubjectKeyer::FromSecret(std::string(32, 's'));
  SimulatedTimeSource time_{TimePoint{} + std::chrono::hours(24 * 20460)};
  ReadGate gate_;
  RecordingSink sink_;
  RecordingSink commands_;
  OperationsService::DeadLetterClients clients_{
      [this]() -> Result<std::unique_ptr<bus::Consumer>> {
        return bus::NewMemoryConsumer(broker_, "");
      },
      [this](bus::DeliveryCallback delivered) -> Result<std::unique_ptr<bus::Producer>> {
        return bus::NewMemoryProducer(broker_, std::move(delivered));
      },
      [this](std::string_view nhs) { return keyer_.Key(nhs); }, std::chrono::seconds(5)};
  OperationsService operations_{kKek,  {sink_, commands_}, gate_,
                                time_, StepSettingsOf({}), clients_};
};

TEST_F(OperationsDeadLettersTest, ShowRecordsWhoWhyAndTheChildBeforeAnsweringTheOriginal) {
  const v1::Envelope original = pathway::testing::ValidReferral("evt-1");
  const std::string place = Poison(original.SerializeAsString());

  HttpResponse r = Run(place, "show");
  ASSERT_EQ(r.status, 200) << r.body;

  // STARTED, the child the original names on their own trail, FINISHED.
  ASSERT_EQ(sink_.records.size(), 3u);
  const v1::OperationRecorded& op = sink_.records[0].second.operation_recorded();
  EXPECT_EQ(op.phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(op.operation(), "deadletters show");
  EXPECT_EQ(op.scope(), "dead letter " + place);
  EXPECT_EQ(op.operator_id(), "ops.jones");
  EXPECT_EQ(sink_.records[0].second.source().system(), "pathway-gateway");
  auto reason = operations::OpenReason(kKek, op);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, kReason);
  EXPECT_EQ(sink_.records[1].first, keyer_.Key(original.referral_submitted().child().nhs_number()));
  EXPECT_TRUE(sink_.records[1].second.has_audit_recorded());
  EXPECT_EQ(sink_.records[2].second.operation_recorded().phase(), v1::OPERATION_PHASE_FINISHED);

  // The document `pathwayctl deadletters show --json` prints: the decoded envelope.
  auto consumer = bus::NewMemoryConsumer(broker_, "");
  auto found =
      operations::FindDeadLetter(*consumer, *operations::ParseDeadLetterPlace(place),
                                 std::chrono::steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(r.body.rfind(R"({"dead_letter":)" + operations::DeadLetterJson(*found), 0), 0u);
  EXPECT_NE(r.body.find(R"("source":"original")"), std::string::npos);
  EXPECT_NE(r.body.find(R"("payload":"referral_submitted")"), std::string::npos);
  EXPECT_NE(r.body.find(R"("envelope":)" + *operations::EnvelopeJson(original, false)),
            std::string::npos);
  EXPECT_NE(r.body.find(R"("operation_id":")" + op.operation_id() + "\""), std::string::npos);
  EXPECT_EQ(r.body.find(R"("hex")"), std::string::npos);
}

TEST_F(OperationsDeadLettersTest, BytesThatAreNoEnvelopeAreShownInHexWithNoChildRecorded) {
  const std::string place = Poison("not a protobuf envelope\n");
  HttpResponse r = Run(place, "show");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Phases(), (std::vector<v1::OperationPhase>{v1::OPERATION_PHASE_STARTED,
                                                       v1::OPERATION_PHASE_FINISHED}));
  EXPECT_NE(r.body.find(R"("hex":")" + HexEncode("not a protobuf envelope\n")), std::string::npos);
  EXPECT_EQ(r.body.find(R"("envelope")"), std::string::npos);
}

TEST_F(OperationsDeadLettersTest, ResubmitProducesTheOriginalOnceThenIsRefusedAsClosed) {
  const std::string value = pathway::testing::ValidReferral("evt-2").SerializeAsString();
  const std::string place = Poison(value);
  const size_t inbound = broker_.Log(kInbound, 1).size();

  HttpResponse r = Run(place, "resubmit");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("disposition":"resubmitted")"), std::string::npos);
  ASSERT_EQ(broker_.Log(kInbound, 1).size(), inbound + 1);
  EXPECT_EQ(broker_.Log(kInbound, 1).back().value, value);
  EXPECT_EQ(broker_.ReadAll(kDispositions).size(), 1u);
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].second.operation_recorded().operation(), "deadletters resubmit");
  EXPECT_EQ(sink_.records[1].second.operation_recorded().phase(), v1::OPERATION_PHASE_FINISHED);

  // Closed: refused before anything is recorded or produced, with the refusal's words.
  for (const char* action : {"resubmit", "discard"}) {
    r = Run(place, action);
    EXPECT_EQ(r.status, 409) << action;
    EXPECT_EQ(RuleOf(r), "deadletter.closed");
    EXPECT_NE(r.body.find("was resubmitted already, by ops.jones"), std::string::npos) << r.body;
  }
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), inbound + 1);
}

TEST_F(OperationsDeadLettersTest, AnOriginalThatCouldNotReEnterIsRefusedAndNothingIsProduced) {
  const std::string place = Poison("not a protobuf envelope\n");
  const size_t inbound = broker_.Log(kInbound, 1).size();
  HttpResponse r = Run(place, "resubmit");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(RuleOf(r), "deadletter.refused");
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), inbound);
  EXPECT_TRUE(broker_.ReadAll(kDispositions).empty());
  EXPECT_EQ(Phases(), (std::vector<v1::OperationPhase>{v1::OPERATION_PHASE_STARTED,
                                                       v1::OPERATION_PHASE_FAILED}));
}

TEST_F(OperationsDeadLettersTest, DiscardNeedsAReasonAndThenClosesTheDeadLetter) {
  const std::string place = Poison("not a protobuf envelope\n");
  for (const std::string& reason : {std::string(), std::string("  "), std::string(2001, 'x')}) {
    HttpResponse r = Run(place, "discard", reason);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(RuleOf(r), "operation.reason");
  }
  HttpResponse r = operations_.Handle(Post(place, "discard", R"({"reason": "x"})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(RuleOf(r), "operation.operator_id");
  r = operations_.Handle(Post(place, "discard",
                              R"({"operatorId": "a", "reason": "x", )"
                              R"("redrive": {"apply": true}})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_TRUE(broker_.ReadAll(kDispositions).empty());

  r = Run(place, "discard");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("disposition":"discarded")"), std::string::npos);
  EXPECT_EQ(broker_.ReadAll(kDispositions).size(), 1u);
  EXPECT_EQ(sink_.records[0].second.operation_recorded().operation(), "deadletters discard");
  EXPECT_EQ(RuleOf(Run(place, "discard")), "deadletter.closed");
}

TEST_F(OperationsDeadLettersTest, NoDeadLetterThereIsNotFoundWithNothingRecorded) {
  Poison("not a protobuf envelope\n");
  for (const char* place : {"0/99", "1/0", "7/0", "x/1", "0"}) {
    HttpResponse r = Run(place, "show");
    EXPECT_EQ(r.status, 404) << place;
    EXPECT_EQ(RuleOf(r), "deadletter.not_found") << place;
  }
  EXPECT_EQ(RuleOf(Run("0/0", "open")), "http.not_found");
  EXPECT_TRUE(sink_.records.empty());
}

TEST_F(OperationsDeadLettersTest, NoAuditRecordNoAction) {
  const std::string value = pathway::testing::ValidReferral("evt-3").SerializeAsString();
  const std::string place = Poison(value);
  const size_t inbound = broker_.Log(kInbound, 1).size();
  sink_.refuse_from = 0;
  for (const char* action : {"show", "resubmit", "discard"}) {
    HttpResponse r = Run(place, action);
    EXPECT_EQ(r.status, 503) << action;
    EXPECT_EQ(RuleOf(r), "audit.unavailable");
    EXPECT_EQ(r.body.find("envelope"), std::string::npos);
    EXPECT_EQ(r.body.find("Amara"), std::string::npos);
  }
  EXPECT_EQ(broker_.Log(kInbound, 1).size(), inbound);
  EXPECT_TRUE(broker_.ReadAll(kDispositions).empty());

  // The child's own trail not confirmed: nothing of theirs is shown.
  sink_.refuse_from = 1;
  HttpResponse r = Run(place, "show");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "audit.unavailable");
  EXPECT_EQ(r.body.find("Amara"), std::string::npos);
}

TEST(OperationsDeadLettersWithoutClients, AnswerThatTheEngineRunsNone) {
  RecordingSink sink;
  ReadGate gate;
  SimulatedTimeSource time{TimePoint{}};
  OperationsService operations{kKek, {sink, sink}, gate, time, StepSettingsOf({})};
  HttpResponse r = operations.Handle(Post("0/0", "show", Body(kReason)));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "operations.unavailable");
  EXPECT_TRUE(sink.records.empty());
}

}  // namespace
}  // namespace pathway::engine
