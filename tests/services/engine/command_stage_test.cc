#include "services/engine/command_stage.h"

#include <gtest/gtest.h>

#include "services/bus/memory_bus.h"
#include "services/engine/subject_keyer.h"
#include "tests/common/commands.h"
#include "tests/common/fixtures.h"
#include "tests/services/engine/stage_fixture.h"
#include "workflow/identity.h"

namespace pathway::engine {
namespace {
using pathway::testing::Command;
using pathway::testing::ValidReferral;
using std::chrono::milliseconds;
namespace v1 = pathway::v1;

// The command stage on partition 0 of the memory bus, with a committer fake.
class CommandStageTest : public testing::StageFixture {
 protected:
  CommandStageTest()
      : keyer_(SubjectKeyer::FromSecret(std::string(32, 'k'))),
        time_(pathway::testing::March10th2025()),
        producer_([](const bus::Delivery&) {}),
        outbox_(context_, producer_, committer_),
        intake_(bus::NewMemoryConsumer(broker_, "g.intake")),
        processor_(bus::NewMemoryConsumer(broker_, "g.commands")),
        purger_(context_, *intake_, *processor_),
        stage_(context_, time_, *processor_, committer_, outbox_, purger_) {
    for (auto topic : topics::kAll) broker_.CreateTopic(std::string(topic), 1);
    EXPECT_TRUE(processor_->Assign({{std::string(topics::kCommands), 0, 0}}).ok());
    Own(0);
    outbox_.Assigned(0);
  }

  // Routes `e` as the intake would and appends it to pathway.commands.v1.
  std::string Route(const v1::Envelope& e) {
    workflow::IntakeOutput routed =
        workflow::Intake(e, [this](std::string_view id) { return keyer_.Key(id); });
    EXPECT_FALSE(routed.rejection);
    EXPECT_EQ(routed.commands.size(), 1u);
    const v1::Envelope& c = routed.commands.at(0);
    broker_.Append(std::string(topics::kCommands), 0, c.subject_key(), c.SerializeAsString());
    return c.subject_key();
  }
  state::CaseStore& Store() { return *stores_.Find(0); }

  SubjectKeyer keyer_;
  SimulatedTimeSource time_;
  bus::MemoryBroker broker_;
  testing::FakeCommitter committer_;
  testing::FakeProducer producer_;
  OutboxSender outbox_;
  std::unique_ptr<bus::Consumer> intake_;
  std::unique_ptr<bus::Consumer> processor_;
  LandingPurger purger_;
  CommandStage stage_;
};

TEST_F(CommandStageTest, DecidesABatchCommitsItOnceAndHandsTheOffsetsOn) {
  const std::string child = Route(ValidReferral("ref-1"));
  Route(ValidReferral("ref-2", pathway::testing::kOtherValidNhsNumber));
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  EXPECT_EQ(stats_.commands, 2u);
  EXPECT_GT(stats_.events, 0u);
  auto state = Store().LoadCase(child);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->has_value());
  EXPECT_EQ(Store().NextOffset(topics::kCommands, 0)->value_or(-1), 2);
  ASSERT_EQ(committer_.command_offsets.size(), 1u);
  EXPECT_EQ(committer_.command_offsets[0], (std::map<int32_t, int64_t>{{0, 2}}));
  EXPECT_FALSE(Outputs(Store()).empty()) << "the events wait in the outbox";
}

TEST_F(CommandStageTest, ARepeatedEventIdIsDroppedAndOnlyItsOffsetMoves) {
  Route(ValidReferral("ref-1"));
  Route(ValidReferral("ref-1"));  // a repeat in the same batch: decided on the group
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  Route(ValidReferral("ref-1"));  // and in a later one, on the store
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  EXPECT_EQ(stats_.duplicates, 2u);
  EXPECT_EQ(Store().NextOffset(topics::kCommands, 0)->value_or(-1), 3);
}

TEST_F(CommandStageTest, AMalformedCommandIsDeadLettered) {
  broker_.Append(std::string(topics::kCommands), 0, "k", "not a routed command");
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  EXPECT_EQ(stats_.dead_letters, 1u);
  std::vector<std::string> outputs = Outputs(Store());
  ASSERT_EQ(outputs.size(), 1u);
  v1::Envelope dead;
  ASSERT_TRUE(dead.ParseFromString(outputs[0]));
  EXPECT_EQ(dead.dead_lettered().topic(), topics::kCommands);
}

TEST_F(CommandStageTest, ACommandOfAnotherOwnersPartitionIsSkipped) {
  Route(ValidReferral("ref-1"));
  stores_.Close(0);
  owned_.clear();
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  EXPECT_EQ(stats_.events, 0u);
  ASSERT_EQ(committer_.command_offsets.size(), 1u);
  EXPECT_TRUE(committer_.command_offsets[0].empty()) << "its new owner processes it";
}

TEST_F(CommandStageTest, NewChildrensKeysGoFirstWhereEachDeliveryConfirms) {
  Route(ValidReferral("ref-1"));
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  auto outbox = Outbox(Store());
  ASSERT_FALSE(outbox.empty());
  EXPECT_TRUE(outbox[0].entry.confirm_before_later()) << "the key's record, written first";
  for (size_t i = 1; i < outbox.size(); ++i) {
    EXPECT_FALSE(outbox[i].entry.confirm_before_later());
  }
}

TEST_F(CommandStageTest, CheckSizesRejectsWhatCouldNeverBeWritten) {
  state::Batch fine;
  fine.subject_key = std::string(64, 'a');
  fine.new_state.emplace();
  EXPECT_FALSE(stage_.CheckSizes(fine));

  options_.max_case_bytes = 8;
  state::Batch large_case = fine;
  large_case.new_state->set_linked_subject_key(std::string(64, 'l'));
  auto r = stage_.CheckSizes(large_case);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule, "case.too_large");

  options_.max_record_bytes = 1000;
  state::Batch large_output = fine;
  AddToOutbox(large_output, topics::kEvents, "k", std::string(1000, 'x'));
  r = stage_.CheckSizes(large_output);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule, "output.too_large");
}

TEST_F(CommandStageTest, DueDeadlinesFireOnceAndNotWhileTheOutboxIsBacklogged) {
  Route(Command("ehc-1", "2025-03-10", [](v1::Envelope& e) {
    auto* r = e.mutable_ehc_assessment_requested();
    r->set_request_id("EHC-1");
    r->set_requested_by(v1::EHC_REQUESTER_PARENT);
    *r->mutable_received_on() = pathway::testing::Day("2025-03-10");
  }));
  time_.Set(pathway::testing::At("2025-03-10"));
  ASSERT_TRUE(stage_.Run(milliseconds(0)).ok());
  ASSERT_TRUE(stage_.FireTimers().ok());
  EXPECT_EQ(stats_.timers_fired, 0u) << "nothing due on the day of the request";

  // Six weeks on: the warning and the breach of decision_to_assess are due, but the
  // outbox has not been sent: the partition's backlog holds them back.
  time_.Set(pathway::testing::At("2025-05-01"));
  options_.outbox_batch = 2;
  ASSERT_TRUE(stage_.FireTimers().ok());
  EXPECT_EQ(stats_.timers_fired, 0u);

  options_.outbox_batch = 1024;
  ASSERT_TRUE(stage_.FireTimers().ok());
  EXPECT_EQ(stats_.timers_fired, 2u);
  ASSERT_TRUE(stage_.FireTimers().ok());
  EXPECT_EQ(stats_.timers_fired, 2u) << "fired timers are removed";
}

}  // namespace
}  // namespace pathway::engine
