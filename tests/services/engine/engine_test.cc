// The engine over the in-memory bus: every path of one inbound message, and
// restarts on the same data (issue 2, "Deliver" 7 and 9).
#include "services/engine/engine.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <utility>

#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "workflow/simulator.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ReadHistory;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

// The ReferralReceived events among `events` (each referral also starts its intake
// pathway, with events of its own).
std::vector<Envelope> Received(const std::vector<Envelope>& events) {
  std::vector<Envelope> out;
  for (const auto& e : events) {
    if (e.has_referral_received()) out.push_back(e);
  }
  return out;
}

std::set<std::string> Ids(const std::vector<Envelope>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.event_id());
  return ids;
}

TEST(Engine, ValidReferralIsStoredAndAnsweredKeyedBySubject) {
  EngineHarness h;
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());

  std::string subject = h.SubjectOf(kValidNhsNumber);
  auto events = h.broker().ReadAll(std::string(topics::kEvents));
  ASSERT_EQ(events.size(), 2u) << "ReferralReceived and the intake pathway's first step";
  EXPECT_EQ(events[0].key, subject);
  Envelope e;
  ASSERT_TRUE(e.ParseFromString(events[0].value));
  ASSERT_TRUE(e.has_referral_received());
  EXPECT_EQ(e.subject_key(), subject);
  EXPECT_EQ(e.causation_id(), "evt-1");

  // Re-keyed onto the commands topic by subject (the repartition step).
  auto commands = h.broker().ReadAll(std::string(topics::kCommands));
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].key, subject);

  auto state = h.StoreFor(subject).LoadCase(subject);
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->referrals_size(), 1);
  // The command kept (for re-deciding in date order), then its two events.
  EXPECT_EQ(h.StoreFor(subject).History(subject)->size(), 3u);
  EXPECT_EQ(h.PendingOutputs(), 0u) << "delivered entries are deleted";
  EXPECT_TRUE(h.Read(topics::kRejections).empty());
  EXPECT_TRUE(h.Read(topics::kDeadLetter).empty());
}

TEST(Engine, InvalidNhsNumberIsRejectedAtIntakeNamingTheField) {
  EngineHarness h;
  Envelope bad = ValidReferral("evt-1");
  bad.mutable_referral_submitted()->mutable_child()->set_nhs_number("9434765918");
  h.Publish(bad);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].command_rejected().field(), "referral_submitted.child.nhs_number");
  EXPECT_EQ(rejections[0].command_rejected().rule(), "nhs_number.modulus11");
  EXPECT_EQ(rejections[0].command_rejected().rejected_event_id(), "evt-1");
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_TRUE(h.Read(topics::kCommands).empty());
  // The rejection's Kafka key must not be the (invalid) NHS number.
  for (const auto& m : h.broker().ReadAll(std::string(topics::kRejections))) {
    EXPECT_EQ(m.key->find("9434765918"), std::string::npos);
  }
}

TEST(Engine, AReferralWithThreeMistakesGetsOneRejectionNamingAllThree) {
  EngineHarness h;
  Envelope bad = ValidReferral("evt-1");
  auto* referral = bad.mutable_referral_submitted();
  referral->mutable_child()->clear_given_name();
  referral->clear_reason();
  referral->mutable_received_on()->set_day(11);  // after the message itself
  h.Publish(bad);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  const auto& r = rejections[0].command_rejected();
  EXPECT_EQ(r.rejected_event_id(), "evt-1");
  // Fields 2-4 keep their meaning: the first violation.
  EXPECT_EQ(r.field(), "referral_submitted.child.given_name");
  EXPECT_EQ(r.rule(), "required");
  ASSERT_EQ(r.violations_size(), 3);
  EXPECT_EQ(r.violations(0).field(), "referral_submitted.child.given_name");
  EXPECT_EQ(r.violations(1).field(), "referral_submitted.reason");
  EXPECT_EQ(r.violations(1).rule(), "required");
  EXPECT_EQ(r.violations(2).field(), "referral_submitted.received_on");
  EXPECT_EQ(r.violations(2).rule(), "date.not_in_future");
  // The NHS number is valid: the rejection is the child's.
  EXPECT_EQ(rejections[0].subject_key(), h.SubjectOf(kValidNhsNumber));
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_TRUE(h.Read(topics::kCommands).empty());
}

// A pathway command's own required fields are the schema's (docs/decisions.md 142):
// two missing, and no subject either, is ONE rejection at intake naming all three, in
// schema order, and nothing reaches a case.
TEST(Engine, APathwayCommandMissingTwoRequiredFieldsGetsOneRejectionNamingBoth) {
  EngineHarness h;
  Envelope bad = pathway::testing::NdAccepted("evt-nd", "ND-1", "2025-03-03", "RV5", "");
  bad.mutable_nd_referral_accepted()->clear_route();
  bad.mutable_nd_referral_accepted()->clear_referred_on();
  h.Publish(bad);
  Envelope unaddressed = bad;
  unaddressed.set_event_id("evt-nd-2");
  unaddressed.clear_subject();
  h.Publish(unaddressed);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 2u);
  // Unrouted, so in no particular order.
  if (rejections[0].command_rejected().rejected_event_id() != "evt-nd") {
    std::swap(rejections[0], rejections[1]);
  }
  const auto& r = rejections[0].command_rejected();
  EXPECT_EQ(r.rejected_event_id(), "evt-nd");
  EXPECT_EQ(r.field(), "nd_referral_accepted.referred_on");
  EXPECT_EQ(r.rule(), "required");
  ASSERT_EQ(r.violations_size(), 2);
  EXPECT_EQ(r.violations(0).field(), "nd_referral_accepted.referred_on");
  EXPECT_EQ(r.violations(1).field(), "nd_referral_accepted.route");
  EXPECT_EQ(r.violations(1).rule(), "required");
  const auto& r2 = rejections[1].command_rejected();
  EXPECT_EQ(r2.rejected_event_id(), "evt-nd-2");
  ASSERT_EQ(r2.violations_size(), 3);
  EXPECT_EQ(r2.violations(0).field(), "subject.nhs_number");
  EXPECT_EQ(r2.violations(0).rule(), "required");
  EXPECT_EQ(r2.violations(1).field(), "nd_referral_accepted.referred_on");
  EXPECT_EQ(r2.violations(2).field(), "nd_referral_accepted.route");
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_TRUE(h.Read(topics::kCommands).empty());
}

TEST(Engine, FutureDateOfBirthIsRejectedByTheWorkflow) {
  EngineHarness h;
  Envelope bad = ValidReferral("evt-1");
  bad.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(2030);
  h.Publish(bad);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].command_rejected().field(), "referral_submitted.child.date_of_birth");
  EXPECT_EQ(rejections[0].command_rejected().rule(), "date_of_birth.not_in_future");
  EXPECT_EQ(rejections[0].subject_key(), h.SubjectOf(kValidNhsNumber));
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_FALSE(
      h.StoreFor(h.SubjectOf(kValidNhsNumber)).LoadCase(h.SubjectOf(kValidNhsNumber))->has_value());
}

TEST(Engine, HostileValuesAreRejectedAtIntakeAndTheNextMessageIsProcessed) {
  EngineHarness h;
  // 100 KB: ValidReferral repeats the id in its referral id, and a message over the
  // inbound limit (512 KiB) is dead-lettered before intake reads it
  // (HostileInput.AReferralWithA400KbEventIdIsRefusedAndTheEngineGoesOn).
  Envelope huge_id = ValidReferral(std::string(100 * 1024, 'e'));
  Envelope unknown_enum = ValidReferral("evt-enum");
  unknown_enum.mutable_referral_submitted()->set_reason(
      static_cast<pathway::v1::ReferralReason>(99));
  Envelope far_year = ValidReferral("evt-year");
  far_year.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(67561);
  Envelope escape = ValidReferral("evt-esc");
  escape.mutable_referral_submitted()->mutable_child()->set_given_name("Amara\x1b[2J");
  Envelope far_time = ValidReferral("evt-time");
  far_time.mutable_occurred_at()->set_seconds(int64_t{1} << 40);
  for (const auto& e : {huge_id, unknown_enum, far_year, escape, far_time}) h.Publish(e);
  h.Publish(ValidReferral("evt-good"));  // same partition, after the hostile ones
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 5u);
  // Partners key their messages as they like, so the order across partitions is free.
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& r : rejections) {
    got.emplace(r.command_rejected().field(), r.command_rejected().rule());
    EXPECT_LT(r.ByteSizeLong(), 2048u) << r.command_rejected().field();
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(r, &json).ok());
  }
  const std::set<std::pair<std::string, std::string>> expected = {
      {"event_id", "string.too_long"},
      {"referral_submitted.reason", "enum.unknown_value"},
      {"referral_submitted.child.date_of_birth", "date.out_of_range"},
      {"referral_submitted.child.given_name", "string.control_character"},
      {"occurred_at", "timestamp.out_of_range"},
  };
  EXPECT_EQ(got, expected);
  auto events = h.Read(topics::kEvents);
  ASSERT_FALSE(events.empty());
  for (const auto& e : events) EXPECT_EQ(e.causation_id(), "evt-good");
}

TEST(Engine, UndecodableBytesAreDeadLetteredWithoutBlockingThePartition) {
  EngineHarness h;
  h.PublishRaw("\xff\xff\xff not protobuf");
  h.Publish(ValidReferral("evt-2"));  // same partition, after the poison message
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_EQ(dead.size(), 1u);
  const auto& d = dead[0].dead_lettered();
  EXPECT_EQ(d.topic(), topics::kInbound);
  EXPECT_EQ(d.partition(), 0);
  EXPECT_EQ(d.offset(), 0);
  EXPECT_EQ(d.original(), "\xff\xff\xff not protobuf");
  EXPECT_NE(d.reason().find("does not decode"), std::string::npos);
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 1u) << "the next message was still processed";
}

TEST(Engine, UnknownPayloadFromANewerSchemaIsDeadLettered) {
  EngineHarness h;
  Envelope e;
  e.set_event_id("evt-future");
  std::string bytes = e.SerializeAsString();
  // Field 4000 (varint 1): a payload this engine's schema does not have.
  bytes += std::string("\x80\xfa\x01\x01", 4);
  h.PublishRaw(bytes);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].dead_lettered().reason().find("field 4000"), std::string::npos);
  EXPECT_NE(dead[0].dead_lettered().reason().find("newer schema"), std::string::npos);
}

TEST(Engine, OversizedMessageIsDeadLettered) {
  EngineHarness h;
  h.options().max_message_bytes = 100;
  h.Restart();
  Envelope big = ValidReferral("evt-1");
  big.mutable_referral_submitted()->set_concerns(std::string(200, 'x'));
  h.Publish(big);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].dead_lettered().reason().find("exceeds"), std::string::npos);
}

TEST(Engine, ACaseAtItsHistoryLimitRejectsMoreAndSaysWhy) {
  // A runaway subject (a partner resending in a loop) cannot grow one case without
  // bound: the command that would pass the limit is rejected, naming the rule.
  EngineHarness h;
  h.options().max_history_per_case = 4;
  h.Restart();
  h.Publish(ValidReferral("evt-1"));  // a referral records 3 events (itself kept, and 2)
  h.Publish(ValidReferral("evt-2"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  std::string subject = h.SubjectOf(kValidNhsNumber);
  EXPECT_EQ(h.StoreFor(subject).History(subject)->size(), 3u);
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].command_rejected().rule(), "history_limit");
  EXPECT_EQ(rejections[0].command_rejected().field(), "subject_key");
  EXPECT_NE(rejections[0].command_rejected().reason().find("limit per case is 4"),
            std::string::npos);
  EXPECT_EQ(h.engine().stats().history_limit_rejections, 1u);
}

TEST(Engine, MissingEventIdIsRejected) {
  EngineHarness h;
  Envelope e = ValidReferral("evt-1");
  e.clear_event_id();
  h.Publish(e);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].command_rejected().field(), "event_id");
}

TEST(Engine, RepeatedEventIdProducesNothingNew) {
  EngineHarness h;
  h.Publish(ValidReferral("evt-1"), 0);
  h.Publish(ValidReferral("evt-1"), 2);  // a partner's retry, on another partition
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 1u);
  EXPECT_EQ(h.engine().stats().duplicates, 1u);
  EXPECT_TRUE(h.Read(topics::kRejections).empty());
}

TEST(Engine, RestartEmitsNothingTwiceAndResumesFromStoredOffsets) {
  EngineHarness h;
  h.Publish(ValidReferral("evt-1"));
  h.Publish(ValidReferral("evt-2", kOtherValidNhsNumber));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  ASSERT_EQ(Received(h.Read(topics::kEvents)).size(), 2u);

  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 2u)
      << "nothing re-emitted after a clean restart";
  EXPECT_EQ(h.engine().stats().commands, 0u) << "resumed after the stored offset";

  h.Publish(ValidReferral("evt-3"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 3u);
}

TEST(Engine, UndeliveredOutboxSurvivesRestartAndIsSent) {
  // Kafka unreachable for our output: the decision is committed in RocksDB and
  // waits in the outbox; after a restart it is sent, and nothing is lost.
  EngineHarness h;
  h.broker().FailNextDeliveries(1000, std::string(topics::kEvents));
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_EQ(h.PendingOutputs(), 2u) << "kept until delivery is confirmed";

  h.broker().FailNextDeliveries(0);
  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  ASSERT_EQ(Received(h.Read(topics::kEvents)).size(), 1u);
  EXPECT_EQ(h.PendingOutputs(), 0u);
}

TEST(Engine, FailedOutboxDeliveryIsRetriedWithoutRestart) {
  EngineHarness reference;
  reference.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(reference.RunUntilIdle().ok());

  EngineHarness h;
  h.broker().FailNextDeliveries(1, std::string(topics::kEvents));
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Ids(h.Read(topics::kEvents)), Ids(reference.Read(topics::kEvents)));
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 1u);
  EXPECT_EQ(h.PendingOutputs(), 0u);
}

TEST(Engine, IntakeDeliveryFailureStopsBeforeCommittingAndRestartRecovers) {
  // If intake output is not delivered its input offsets are not committed: the
  // process stops, and the restarted intake reads the same messages again.
  EngineHarness h;
  h.broker().FailNextDeliveries(1, std::string(topics::kCommands));
  h.Publish(ValidReferral("evt-1"));
  EXPECT_FALSE(h.RunUntilIdle().ok());
  EXPECT_TRUE(h.Read(topics::kCommands).empty());

  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 1u);
}

// The council receives a parent's EHC needs assessment request and decides to assess:
// the pathway step that needs the family's views.
void PublishEhcRequestedAndToBeAssessed(EngineHarness& h) {
  using pathway::testing::Command;
  using pathway::testing::Day;
  h.Publish(Command("ehc-req", "2025-03-10", [](Envelope& e) {
    auto* r = e.mutable_ehc_assessment_requested();
    r->set_request_id("EHC-1");
    r->set_requested_by(pathway::v1::EHC_REQUESTER_PARENT);
    *r->mutable_received_on() = Day("2025-03-10");
  }));
  h.Publish(Command("ehc-dec", "2025-03-10", [](Envelope& e) {
    auto* d = e.mutable_ehc_assessment_decided();
    d->set_request_id("EHC-1");
    d->set_decision(pathway::v1::ASSESSMENT_DECISION_ASSESS);
    *d->mutable_decided_on() = Day("2025-03-10");
  }));
}

TEST(Engine, CrashAfterCommitBeforeSendGivesTheSameIdsAsACrashFreeRun) {
  EngineHarness reference;
  EngineHarness h;
  // A known child (its data key made and confirmed), then commands whose outputs the
  // first run commits and sends but never sees confirmed.
  for (auto* harness : {&reference, &h}) {
    harness->Publish(ValidReferral("evt-1"));
    ASSERT_TRUE(harness->RunUntilIdle().ok());
    PublishEhcRequestedAndToBeAssessed(*harness);
  }
  const size_t known = h.Read(topics::kEvents).size();
  ASSERT_TRUE(reference.RunUntilIdle().ok());
  const size_t decided = reference.Read(topics::kEvents).size() - known;
  ASSERT_GT(decided, 0u);

  // The first run commits its decisions and sends them, but dies before any
  // delivery report arrives: its outbox still holds every entry.
  h.broker().HoldDeliveryReports(true);
  ASSERT_TRUE(h.engine().Step(std::chrono::milliseconds(0)).ok());
  EXPECT_EQ(h.Read(topics::kEvents).size(), known + decided);
  EXPECT_GE(h.PendingOutputs(), decided);
  h.broker().HoldDeliveryReports(false);
  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  // The re-send repeats ids (duplicates on the wire, which consumers drop by id);
  // the set of distinct ids is exactly the crash-free run's.
  EXPECT_EQ(Ids(h.Read(topics::kEvents)), Ids(reference.Read(topics::kEvents)));
  EXPECT_EQ(h.Read(topics::kEvents).size(), known + 2 * decided);
  EXPECT_EQ(h.PendingOutputs(), 0u);
}

TEST(Engine, NothingSealedUnderANewKeyLeavesBeforeTheKeysChangelogRecordIsConfirmed) {
  // Otherwise an owner dying between the two would leave events out whose sealed
  // fields no new owner can open or seal again alike: it restores without the key.
  EngineHarness h;
  h.Publish(ValidReferral("evt-1"));
  h.Publish(ValidReferral("evt-2", kOtherValidNhsNumber));
  h.broker().HoldDeliveryReports(true);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.engine().Step(std::chrono::milliseconds(0)).ok());
  size_t key_records = 0;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kChangelog))) {
    if (m.key && !m.key->empty() &&
        (*m.key)[0] == static_cast<char>(state::ColumnFamily::kDataKeys)) {
      ++key_records;
    }
  }
  EXPECT_EQ(key_records, 2u) << "both new keys in one go, not one per Step";
  EXPECT_TRUE(h.Read(topics::kEvents).empty());
  EXPECT_TRUE(h.Read(topics::kAudit).empty());

  h.broker().HoldDeliveryReports(false);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Received(h.Read(topics::kEvents)).size(), 2u);
  EXPECT_EQ(h.PendingOutputs(), 0u);
}

TEST(Engine, LogsAndKeysCarryNoPersonalData) {
  EngineHarness h;
  ::testing::internal::CaptureStderr();
  h.Publish(ValidReferral("evt-1"));
  Envelope bad = ValidReferral("evt-2");
  bad.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(2030);
  h.Publish(bad);
  h.PublishRaw("garbage 9434765919 Okafor");
  ASSERT_TRUE(h.RunUntilIdle().ok());
  std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(logs.empty());
  for (const char* personal : {kValidNhsNumber, "Amara", "Okafor", "SE1 7PB"}) {
    EXPECT_EQ(logs.find(personal), std::string::npos) << personal << " in logs:\n" << logs;
    for (auto topic : topics::kAll) {
      for (const auto& m : h.broker().ReadAll(std::string(topic))) {
        if (m.key) {
          EXPECT_EQ(m.key->find(personal), std::string::npos) << topic;
        }
      }
    }
  }
}

TEST(Engine, RunsThePathwaysAndFiresTimersExactlyAsTheSimulatorDoes) {
  // Issue 3: the engine emits the same transitions over the bus as simulate does for
  // the same input. Time is simulated: each event is published at its occurredAt.
  auto history = ReadHistory("ehc_assessment.jsonl");
  ASSERT_EQ(history.size(), 13u);
  EngineHarness h;
  workflow::Simulator sim([&h](std::string_view nhs) { return h.SubjectOf(std::string(nhs)); });
  for (const auto& e : history) {
    TimePoint at{std::chrono::seconds(e.occurred_at().seconds())};
    sim.Process(e, at);
    h.time().Set(at);
    h.Publish(e);
    ASSERT_TRUE(h.RunUntilIdle().ok());
  }
  TimePoint end = pathway::testing::At("2025-06-30");
  sim.AdvanceTo(workflow::LondonDate(end));
  h.time().Set(end);
  ASSERT_TRUE(h.RunUntilIdle().ok());

  std::string subject = h.SubjectOf(kValidNhsNumber);
  const auto& expected = sim.subjects().at(subject);
  auto stored = h.StoreFor(subject).LoadCase(subject);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  // The same pathways, states, deadlines and information requests...
  auto strip = [](pathway::store::v1::CaseState s) {
    s.clear_history_length();
    return s.SerializeAsString();
  };
  EXPECT_EQ(strip(**stored), strip(expected.state));
  // ...from the same transitions, emitted on pathway.events.v1.
  std::vector<std::string> emitted, simulated;
  for (const auto& e : h.Read(topics::kEvents)) {
    if (e.has_pathway_step_recorded() || e.has_deadline_set() || e.has_deadline_met() ||
        e.has_deadline_breached() || e.has_deadline_warning()) {
      emitted.push_back(e.event_id());
    }
  }
  for (const auto& e : expected.events) {
    if (e.has_pathway_step_recorded() || e.has_deadline_set() || e.has_deadline_met() ||
        e.has_deadline_breached() || e.has_deadline_warning()) {
      simulated.push_back(e.event_id());
    }
  }
  EXPECT_EQ(emitted, simulated);
  EXPECT_GT(h.engine().stats().timers_fired, 0u);
  EXPECT_EQ(h.Read(topics::kRejections).size(), expected.rejections.size());
}

}  // namespace
}  // namespace pathway::engine

namespace pathway::engine {
namespace {

// Tell it once through the engine (issue 5): the EHC decision asks the family for
// their views once; their answer, given once, serves the need; a repeated answer
// (the same event id) changes nothing.
TEST(Engine, AFactGivenOnceServesTheOpenNeedAndIsNotAskedAgain) {
  using pathway::testing::Command;
  using pathway::testing::Day;
  EngineHarness h;
  h.Publish(ValidReferral("ref-1"));
  PublishEhcRequestedAndToBeAssessed(h);
  auto views = Command("views-1", "2025-03-10", [](Envelope& e) {
    e.mutable_fact_provided()->set_type(pathway::v1::FACT_TYPE_FAMILY_VIEWS);
    e.mutable_fact_provided()->set_content("She wants to stay with her friends");
  });
  h.Publish(views);
  h.Publish(views);  // a partner's repeat
  ASSERT_TRUE(h.RunUntilIdle().ok());

  int asked = 0, asked_views = 0, reused = 0, recorded = 0;
  for (const auto& e : h.Read(topics::kEvents)) {
    asked += e.has_information_requested() ? 1 : 0;
    asked_views += e.information_requested().fact() == "family_views" ? 1 : 0;
    reused += e.has_fact_reused() ? 1 : 0;
    recorded += e.has_fact_recorded() ? 1 : 0;
  }
  EXPECT_EQ(asked, 5) << "what the decision to assess needs from the family, once each";
  EXPECT_EQ(asked_views, 1);
  EXPECT_EQ(recorded, 1);
  EXPECT_EQ(reused, 1);
  EXPECT_EQ(h.engine().stats().duplicates, 1u);
  auto state = h.StoreFor(h.SubjectOf(kValidNhsNumber)).LoadCase(h.SubjectOf(kValidNhsNumber));
  ASSERT_TRUE(state.ok() && state->has_value());
  ASSERT_EQ((*state)->open_needs_size(), 4) << "the answer served the EHC's need for views";
  for (const auto& need : (*state)->open_needs()) {
    EXPECT_NE(need.type(), pathway::v1::FACT_TYPE_FAMILY_VIEWS);
  }
  EXPECT_EQ((*state)->record_facts_size(), 1);

  // The reuse is audited on pathway.audit.v1, keyed by subject; so is a view, which
  // without the family's consent shows the trust nothing.
  auto view = Command("view-1", "2025-03-10", [](Envelope& e) {
    e.mutable_actor()->set_id("staff-77");
    e.mutable_actor()->set_role("clinical psychologist");
    e.mutable_record_view_requested()->set_agency("RQM");
    e.mutable_record_view_requested()->set_purpose("neurodevelopmental");
  });
  h.Publish(view);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  std::vector<pathway::v1::AuditRecorded> audit;
  for (const auto& m : h.broker().ReadAll(std::string(topics::kAudit))) {
    EXPECT_EQ(m.key, h.SubjectOf(kValidNhsNumber));
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    audit.push_back(e.audit_recorded());
  }
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action(), pathway::v1::AUDIT_ACTION_REUSE);
  EXPECT_EQ(audit[0].agency(), "209");
  EXPECT_EQ(audit[1].action(), pathway::v1::AUDIT_ACTION_VIEW);
  EXPECT_EQ(audit[1].actor_id(), "staff-77");
  EXPECT_EQ(audit[1].facts_size(), 0) << "no consent for the trust: nothing shown";
}

TEST(Engine, AUpnOnlyCommandIsHeldReleasedByItsLinkAndAnUnlinkedOneIsRejectedInTime) {
  using pathway::testing::Command;
  using pathway::testing::Day;
  constexpr const char* kUpn = "B801200005001";
  constexpr const char* kOtherUpn = "M80120000500A";
  EngineOptions options;
  options.identity_hold_days = 7;
  EngineHarness h(options);
  auto by_upn = [](const std::string& id, const char* upn) {
    return Command(id, "2025-03-10", [upn](Envelope& e) {
      e.mutable_subject()->clear_nhs_number();
      e.mutable_subject()->set_upn(upn);
      e.mutable_fact_provided()->set_type(pathway::v1::FACT_TYPE_CURRENT_SETTING);
      e.mutable_fact_provided()->set_content("Year 3, Oak Primary");
    });
  };
  h.Publish(by_upn("s-1", kUpn));
  h.Publish(by_upn("s-2", kOtherUpn));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const std::string child = h.SubjectOf(kValidNhsNumber);
  auto facts = [&] {
    auto state = h.StoreFor(child).LoadCase(child);
    if (!state.ok()) throw std::runtime_error(state.error().ToString());
    return state->has_value() ? (*state)->record_facts_size() : 0;
  };
  EXPECT_EQ(facts(), 0);

  h.Publish(Command("link-1", "2025-03-11", [kUpn](Envelope& e) {
    e.mutable_identifier_linked()->set_kind(pathway::v1::IDENTIFIER_KIND_UPN);
    e.mutable_identifier_linked()->set_value(kUpn);
    *e.mutable_identifier_linked()->mutable_linked_on() = Day("2025-03-11");
  }));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(facts(), 1) << "released to the child's partition when the link arrived";

  // The other UPN is never linked: 7 days later its command is rejected, by name.
  h.time().Advance(std::chrono::hours(24 * 7));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  std::vector<pathway::v1::CommandRejected> rejected;
  for (const auto& e : h.Read(topics::kRejections)) rejected.push_back(e.command_rejected());
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].rejected_event_id(), "s-2");
  EXPECT_EQ(rejected[0].rule(), "identity_unlinked");
  EXPECT_EQ(rejected[0].field(), "subject.upn");

  // No identifier in clear in any key, nor on the events topic (held commands'
  // content stays in the alias's own history).
  for (auto topic : {topics::kEvents, topics::kRejections, topics::kAudit}) {
    for (const auto& m : h.broker().ReadAll(std::string(topic))) {
      EXPECT_EQ(m.key.value_or("").find(kUpn), std::string::npos) << topic;
      EXPECT_EQ(m.value.find(kUpn), std::string::npos) << topic;
      EXPECT_EQ(m.value.find(kOtherUpn), std::string::npos) << topic;
    }
  }
  for (const auto& m : h.broker().ReadAll(std::string(topics::kCommands))) {
    EXPECT_EQ(m.key.value_or("").find(kUpn), std::string::npos);
    EXPECT_EQ(m.value.find(kValidNhsNumber), std::string::npos) << "the link passes intake hashed";
  }
}

TEST(Engine, StatutorySharingGivenToTheEngineServesANeedWithoutConsentAndNamesTheBasis) {
  using pathway::testing::Command;
  using pathway::testing::Day;
  EngineOptions options;
  pathway::config::v1::StatutorySharing sharing;
  auto* rule = sharing.add_rules();
  rule->set_id("la-advice");
  rule->set_agency("209");
  rule->set_purpose("ehc_needs_assessment");
  rule->add_fact_types(pathway::v1::FACT_TYPE_FAMILY_VIEWS);
  rule->set_legal_basis("SEND Regulations 2014 reg 6(1)");
  options.statutory_sharing = sharing;
  EngineHarness h(options);
  // The trust recorded the family's views; the council's EHC assessment then needs them.
  h.Publish(ValidReferral("ref-1"));
  h.Publish(Command("views-1", "2025-03-10", [](Envelope& e) {
    e.mutable_source()->set_agency("RQM");
    e.mutable_fact_provided()->set_type(pathway::v1::FACT_TYPE_FAMILY_VIEWS);
    e.mutable_fact_provided()->set_content("She wants to stay with her friends");
  }));
  PublishEhcRequestedAndToBeAssessed(h);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  std::vector<pathway::v1::FactReused> reused;
  for (const auto& e : h.Read(topics::kEvents)) {
    if (e.has_fact_reused()) reused.push_back(e.fact_reused());
    // The decision's other needs (the child's story, diagnoses, ...) are asked for.
    EXPECT_NE(e.information_requested().fact(), "family_views")
        << "the record held the views already";
  }
  ASSERT_EQ(reused.size(), 1u);
  EXPECT_EQ(reused[0].legal_basis(), "SEND Regulations 2014 reg 6(1)");
  auto audit = h.Read(topics::kAudit);
  ASSERT_EQ(audit.size(), 1u);
  ASSERT_EQ(audit[0].audit_recorded().legal_bases_size(), 1);
  EXPECT_EQ(audit[0].audit_recorded().legal_bases(0), "SEND Regulations 2014 reg 6(1)");
}

}  // namespace
}  // namespace pathway::engine
