#include "services/engine/intake_stage.h"

#include <gtest/gtest.h>

#include "services/bus/memory_bus.h"
#include "services/engine/delivery_confirmed_committer.h"
#include "services/engine/delivery_router.h"
#include "tests/common/fixtures.h"
#include "tests/services/engine/stage_fixture.h"

namespace pathway::engine {
namespace {
using pathway::testing::ValidReferral;
using std::chrono::milliseconds;

// The intake over the memory bus with the delivery-confirmed committer (or, where a
// test says, a committer fake).
class IntakeStageTest : public testing::StageFixture {
 protected:
  IntakeStageTest()
      : keyer_(SubjectKeyer::FromSecret(std::string(32, 'k'))),
        time_(pathway::testing::March10th2025()),
        producer_(bus::NewMemoryProducer(broker_, router_.callback())),
        intake_(bus::NewMemoryConsumer(broker_, "g.intake")),
        processor_(bus::NewMemoryConsumer(broker_, "g.commands")),
        committer_(context_, *producer_, *intake_, *processor_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 4);
    EXPECT_TRUE(intake_->Subscribe({std::string(topics::kInbound)}, nullptr).ok());
  }

  // An intake stage on `committer`, listening to its delivery reports.
  std::unique_ptr<IntakeStage> Stage(Committer& committer) {
    auto stage =
        std::make_unique<IntakeStage>(context_, keyer_, time_, *producer_, *intake_, committer);
    registration_ = {};
    auto registration = router_.Register(
        DeliveryRouter::Channel::kIntake,
        [s = stage.get()](uint64_t local, const bus::Delivery& d) { s->OnDelivery(local, d); });
    EXPECT_TRUE(registration.ok());
    registration_ = std::move(*registration);
    return stage;
  }
  void Publish(const pathway::v1::Envelope& e) {
    broker_.Append(std::string(topics::kInbound), 0, e.event_id(), e.SerializeAsString());
  }
  std::optional<int64_t> CommittedIntake(int32_t partition) {
    auto& offsets = broker_.CommittedOffsets();
    auto it =
        offsets.find("g.intake/" + std::string(topics::kInbound) + "/" + std::to_string(partition));
    if (it == offsets.end()) return std::nullopt;
    return it->second;
  }
  size_t On(std::string_view topic) { return broker_.ReadAll(std::string(topic)).size(); }

  SubjectKeyer keyer_;
  SimulatedTimeSource time_;
  bus::MemoryBroker broker_;
  DeliveryRouter router_;
  std::unique_ptr<bus::Producer> producer_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  DeliveryConfirmedCommitter committer_;
  DeliveryRouter::Registration registration_;
};

TEST_F(IntakeStageTest, RoutesACommandBySubjectAndCommitsTheOffsetOnceDelivered) {
  auto stage = Stage(committer_);
  Publish(ValidReferral("ref-1"));
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok());
  auto commands = broker_.ReadAll(std::string(topics::kCommands));
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].key, keyer_.Key(pathway::testing::kValidNhsNumber));
  pathway::v1::Envelope routed;
  ASSERT_TRUE(routed.ParseFromString(commands[0].value));
  EXPECT_EQ(routed.subject_key(), *commands[0].key);
  EXPECT_EQ(CommittedIntake(0), 1);
  EXPECT_EQ(stats_.inbound, 1u);
}

TEST_F(IntakeStageTest, UndecodableBytesAreDeadLetteredAndStillCommitted) {
  auto stage = Stage(committer_);
  broker_.Append(std::string(topics::kInbound), 0, std::nullopt, "\xff\xff not protobuf");
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok());
  EXPECT_EQ(On(topics::kDeadLetter), 1u);
  EXPECT_EQ(On(topics::kCommands), 0u);
  EXPECT_EQ(stats_.dead_letters, 1u);
  EXPECT_EQ(CommittedIntake(0), 1);
}

TEST_F(IntakeStageTest, AnInvalidCommandIsRejectedNamingTheRule) {
  auto stage = Stage(committer_);
  Publish(ValidReferral("ref-bad", "9434765918"));  // fails the modulus 11 check
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok());
  auto rejections = broker_.ReadAll(std::string(topics::kRejections));
  ASSERT_EQ(rejections.size(), 1u);
  pathway::v1::Envelope r;
  ASSERT_TRUE(r.ParseFromString(rejections[0].value));
  EXPECT_EQ(r.command_rejected().rule(), "nhs_number.modulus11");
  EXPECT_EQ(stats_.rejections, 1u);
}

TEST_F(IntakeStageTest, AnOutputTheBrokerRefusesIsReplacedByADeadLetterOfTheMessage) {
  auto stage = Stage(committer_);
  broker_.SetMaxMessageBytes(64, std::string(topics::kCommands));
  Publish(ValidReferral("ref-1"));
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok());
  EXPECT_EQ(On(topics::kCommands), 0u);
  auto dead = broker_.ReadAll(std::string(topics::kDeadLetter));
  ASSERT_EQ(dead.size(), 1u);
  pathway::v1::Envelope d;
  ASSERT_TRUE(d.ParseFromString(dead[0].value));
  EXPECT_EQ(d.dead_lettered().topic(), topics::kInbound);
  EXPECT_EQ(CommittedIntake(0), 1) << "dealt with: the engine does not stop on it";
}

TEST_F(IntakeStageTest, AnOutputNotDeliveredFailsTheBatchBeforeItsOffsetIsCommitted) {
  auto stage = Stage(committer_);
  broker_.FailNextDeliveries(1, std::string(topics::kCommands));
  Publish(ValidReferral("ref-1"));
  Status s = stage->Run(milliseconds(0));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, make_error_code(bus::errc::kDelivery));
  EXPECT_FALSE(CommittedIntake(0)) << "read again after the restart";
}

TEST_F(IntakeStageTest, WhereACommitDecidesAFailedOutputIsTheCommittersToReport) {
  testing::FakeCommitter committer;
  committer.confirms_each = false;
  auto stage = Stage(committer);
  broker_.FailNextDeliveries(1, std::string(topics::kCommands));
  Publish(ValidReferral("ref-1"));
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok());
  ASSERT_TRUE(producer_->Flush(milliseconds(0)).ok());  // the report: the committer notes it
  ASSERT_EQ(committer.delivered.size(), 1u);
  EXPECT_TRUE(committer.delivered[0].delivery.error);
  EXPECT_FALSE(committer.delivered[0].outbox);
  EXPECT_GE(committer.opened, 1);
  ASSERT_EQ(committer.intake_offsets.size(), 1u);
  EXPECT_EQ(committer.intake_offsets[0], (std::map<int32_t, int64_t>{{0, 1}}));
  ASSERT_TRUE(stage->Run(milliseconds(0)).ok()) << "the stage itself does not fail";
}

}  // namespace
}  // namespace pathway::engine
