// Hostile and oversized input through the engine over the in-memory bus (issue 11):
// no message can stop the engine or its partition, every output fits the broker's
// limit or is dead-lettered (bounded), and event ids are scoped by source and child.
#include <gtest/gtest.h>

#include <set>

#include "common/crypto.h"
#include "services/engine/engine.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"

namespace pathway::engine {
namespace {
using pathway::testing::Command;
using pathway::testing::EngineHarness;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

// What librdkafka and a default broker accept, so that any output the engine did not
// bound shows up as refused.
constexpr size_t kBrokerLimit = 1'000'000;

int CountReceived(const EngineHarness& h) {
  int n = 0;
  for (const auto& e : h.Read(topics::kEvents)) n += e.has_referral_received() ? 1 : 0;
  return n;
}

// Every record on every topic fits the broker's limit.
void ExpectEveryRecordFits(const bus::MemoryBroker& broker) {
  for (auto topic : topics::kAll) {
    for (const auto& m : broker.ReadAll(std::string(topic))) {
      EXPECT_LE(m.key.value_or("").size() + m.value.size(), kBrokerLimit) << topic;
    }
  }
}

struct Outcome {
  std::vector<Envelope> rejections;
  std::vector<Envelope> dead_letters;
};

// Publishes `hostile` then a valid referral for another child on the same inbound
// partition; the engine must stay up, say something about the hostile message and
// process the valid one.
Outcome RunHostileThenValid(EngineHarness& h, const std::string& hostile) {
  h.broker().SetMaxMessageBytes(kBrokerLimit);
  h.PublishRaw(hostile);
  h.Publish(ValidReferral("next-valid", kOtherValidNhsNumber));
  Status s = h.RunUntilIdle();
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(h.engine().live());
  EXPECT_EQ(CountReceived(h), 1) << "the next valid message was processed";
  EXPECT_EQ(h.engine().stats().outputs_dead_lettered, 0u)
      << "every output was bounded before it was committed, none refused by the broker";
  EXPECT_EQ(h.PendingOutputs(), 0u);
  ExpectEveryRecordFits(h.broker());
  return {h.Read(topics::kRejections), h.Read(topics::kDeadLetter)};
}

TEST(HostileInput, AReferralWithA400KbEventIdIsRefusedAndTheEngineGoesOn) {
  EngineHarness h;
  Envelope e = ValidReferral(std::string(400 * 1024, 'e'));
  Outcome out = RunHostileThenValid(h, e.SerializeAsString());
  EXPECT_EQ(out.rejections.size() + out.dead_letters.size(), 1u);
  for (const auto& r : out.rejections) {
    EXPECT_FALSE(r.command_rejected().field().empty());
    EXPECT_FALSE(r.command_rejected().rule().empty());
  }
}

TEST(HostileInput, AnAlmostOneMebibyteReferralIsDeadLetteredWithADigestNotACopy) {
  EngineHarness h;
  Envelope e = ValidReferral("big-1");
  e.mutable_referral_submitted()->set_concerns(std::string(990'000, 'c'));
  const std::string bytes = e.SerializeAsString();
  Outcome out = RunHostileThenValid(h, bytes);
  ASSERT_EQ(out.dead_letters.size(), 1u);
  const auto& d = out.dead_letters[0].dead_lettered();
  EXPECT_NE(d.reason().find("exceeds"), std::string::npos) << d.reason();
  EXPECT_EQ(d.original_size(), bytes.size());
  EXPECT_EQ(d.original_sha256(), Sha256(bytes));
  EXPECT_EQ(d.original(), bytes.substr(0, 4096)) << "an excerpt, never the whole value";
  EXPECT_LT(out.dead_letters[0].ByteSizeLong(), 8192u);
}

TEST(HostileInput, ACommandWhoseOutputsWouldNotFitARecordIsRejectedBeforeCommit) {
  // Under the inbound limit, but its event id is copied into several outputs and into
  // the case: the command is refused (or dead-lettered) whole, never half written.
  EngineHarness h;
  h.options().max_message_bytes = 900'000;
  h.Restart();
  Envelope e = ValidReferral(std::string(300 * 1024, 'i'));
  Outcome out = RunHostileThenValid(h, e.SerializeAsString());
  ASSERT_EQ(out.rejections.size() + out.dead_letters.size(), 1u);
  EXPECT_FALSE(
      h.StoreFor(h.SubjectOf(kValidNhsNumber)).LoadCase(h.SubjectOf(kValidNhsNumber))->has_value())
      << "nothing of the refused command was committed";
}

TEST(HostileInput, FactsThatWouldGrowACaseBeyondItsBudgetAreRejectedNamingTheRule) {
  EngineHarness h;
  h.options().max_case_bytes = 8 * 1024;
  h.Restart();
  h.broker().SetMaxMessageBytes(kBrokerLimit);
  h.Publish(ValidReferral("ref-1"));
  for (int i = 0; i < 4; ++i) {
    h.Publish(Command("fact-" + std::to_string(i), "2025-03-10", [i](Envelope& e) {
      e.mutable_fact_provided()->set_type(i % 2 ? pathway::v1::FACT_TYPE_FAMILY_VIEWS
                                                : pathway::v1::FACT_TYPE_CURRENT_SETTING);
      e.mutable_fact_provided()->set_content(std::string(3000, static_cast<char>('a' + i)));
    }));
  }
  h.Publish(ValidReferral("next-valid", kOtherValidNhsNumber));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  int too_large = 0;
  for (const auto& r : h.Read(topics::kRejections)) {
    if (r.command_rejected().rule() == "case.too_large") {
      ++too_large;
      EXPECT_EQ(r.command_rejected().field(), "subject_key");
    }
  }
  EXPECT_GE(too_large, 1) << "the fact that would pass the budget is rejected";
  auto state = h.StoreFor(h.SubjectOf(kValidNhsNumber)).LoadCase(h.SubjectOf(kValidNhsNumber));
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_LE((*state)->ByteSizeLong(), 8u * 1024);
  EXPECT_EQ(CountReceived(h), 2) << "the other child's referral was still processed";
  EXPECT_GE(h.engine().stats().size_rejections, 1u);
}

TEST(HostileInput, AnOutputTheBrokerRefusesIsDeadLetteredInsteadOfStoppingThePartition) {
  // The broker's limit is lower than the engine was told (a misconfigured topic): the
  // refused outputs go to the dead-letter topic, bounded, and later ones still flow.
  EngineHarness h;
  h.broker().SetMaxMessageBytes(300, std::string(topics::kEvents));
  Envelope referral = ValidReferral("ref-1");
  h.Publish(referral);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  h.Publish(ValidReferral("ref-2", kOtherValidNhsNumber));
  Status s = h.RunUntilIdle();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(h.engine().live());
  EXPECT_GE(h.engine().stats().outputs_dead_lettered, 1u);
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_FALSE(dead.empty());
  for (const auto& d : dead) {
    EXPECT_EQ(d.dead_lettered().topic(), topics::kEvents);
    EXPECT_NE(d.dead_lettered().reason().find("refused"), std::string::npos);
    EXPECT_EQ(d.dead_lettered().original_sha256().size(), 32u);
  }
  EXPECT_EQ(h.PendingOutputs(), 0u) << "nothing waits for ever";
  // The refused outputs' cases are intact in the store.
  EXPECT_TRUE(h.StoreFor(h.SubjectOf(kOtherValidNhsNumber))
                  .LoadCase(h.SubjectOf(kOtherValidNhsNumber))
                  ->has_value());
}

TEST(HostileInput, ARoutedCommandTheBrokerRefusesDeadLettersItsInboundMessage) {
  EngineHarness h;
  h.broker().SetMaxMessageBytes(200, std::string(topics::kCommands));
  h.Publish(ValidReferral("ref-1"));
  Status s = h.RunUntilIdle();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].dead_lettered().topic(), topics::kInbound);
  EXPECT_NE(dead[0].dead_lettered().reason().find("refused"), std::string::npos);
  // The inbound offset was committed: a restart does not meet the message again.
  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(h.Read(topics::kDeadLetter).size(), 1u);
}

TEST(HostileInput, TransientDeliveryFailuresAreRetriedNotFatal) {
  EngineOptions options;
  options.retry_backoff_min = std::chrono::milliseconds(0);
  options.retry_backoff_max = std::chrono::milliseconds(0);
  EngineHarness h(options);
  h.Publish(ValidReferral("ref-1"));
  h.broker().FailNextDeliveries(5, std::string(topics::kEvents));
  for (int i = 0; i < 50 && (i < 2 || h.PendingOutputs() > 0); ++i) {
    Status s = h.engine().Step(std::chrono::milliseconds(0));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }
  EXPECT_GE(h.engine().stats().send_retries, 5u);
  EXPECT_EQ(CountReceived(h), 1);
  EXPECT_EQ(h.PendingOutputs(), 0u);
}

TEST(HostileInput, DeadLettersAreSealedUnderTheDeadLetterKey) {
  EngineOptions options;
  options.dead_letter_key = std::string(32, 'D');
  EngineHarness h(options);
  const std::string poison = "\x0a\xff Amara Okafor SE1 7PB not an envelope";
  h.PublishRaw(poison);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto dead = h.Read(topics::kDeadLetter);
  ASSERT_EQ(dead.size(), 1u);
  const auto& d = dead[0].dead_lettered();
  EXPECT_TRUE(d.original().empty()) << "nothing a partner sent goes out in clear";
  for (const auto& m : h.broker().ReadAll(std::string(topics::kDeadLetter))) {
    EXPECT_EQ(m.value.find("Okafor"), std::string::npos);
  }
  auto opened = AeadOpen(options.dead_letter_key, d.sealed_excerpt(),
                         "pathway.deadletter.v1|" + dead[0].event_id());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, poison);
  EXPECT_EQ(d.original_sha256(), Sha256(poison));
}

// --- Event ids are scoped by source and child.

TEST(EventIds, TwoPartnersUsingOneEventIdAreBothProcessedWithDistinctOutputIds) {
  EngineHarness h;
  Envelope gp = ValidReferral("evt-1");
  Envelope school = ValidReferral("evt-1", kOtherValidNhsNumber);
  school.mutable_source()->set_agency("100000");
  school.mutable_source()->set_system("school-mis");
  school.mutable_referral_submitted()->mutable_referrer()->set_agency("100000");
  h.Publish(gp);
  h.Publish(school);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(CountReceived(h), 2);
  EXPECT_EQ(h.engine().stats().duplicates, 0u);
  std::set<std::string> ids;
  auto events = h.Read(topics::kEvents);
  for (const auto& e : events) ids.insert(e.event_id());
  EXPECT_EQ(ids.size(), events.size()) << "no two outputs share an id";
}

TEST(EventIds, OnePartnerUsingOneIdForTwoChildrenOnOnePartitionLosesNeither) {
  EngineOptions options;
  EngineHarness h(options);
  // Two children whose subjects share a partition of pathway.commands.v1.
  std::string first = kValidNhsNumber;
  std::string second;
  const int32_t p = h.broker().PartitionFor(std::string(topics::kCommands), h.SubjectOf(first));
  for (long i = 0; i < 1000 && second.empty(); ++i) {
    std::string nhs = pathway::testing::TestNhsNumber(i);
    if (nhs != first &&
        h.broker().PartitionFor(std::string(topics::kCommands), h.SubjectOf(nhs)) == p) {
      second = nhs;
    }
  }
  ASSERT_FALSE(second.empty());
  h.Publish(ValidReferral("evt-1", first));
  h.Publish(ValidReferral("evt-1", second));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(CountReceived(h), 2) << "the second child's message is not a duplicate";
  std::set<std::string> ids;
  auto events = h.Read(topics::kEvents);
  for (const auto& e : events) ids.insert(e.event_id());
  EXPECT_EQ(ids.size(), events.size());
}

TEST(EventIds, TheSameIdResentWithDifferentContentIsRejectedVisibly) {
  EngineHarness h;
  Envelope first = ValidReferral("evt-1");
  Envelope changed = first;
  changed.mutable_referral_submitted()->set_reason(pathway::v1::REFERRAL_REASON_ATTENTION);
  h.Publish(first);
  h.Publish(first);  // a transport retry: ignored
  h.Publish(changed);
  h.Publish(changed);  // the same reuse again: the same rejection id
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(CountReceived(h), 1);
  auto rejections = h.Read(topics::kRejections);
  ASSERT_EQ(rejections.size(), 2u);
  for (const auto& r : rejections) {
    EXPECT_EQ(r.command_rejected().field(), "event_id");
    EXPECT_EQ(r.command_rejected().rule(), "event_id.reused_with_different_content");
    EXPECT_EQ(r.command_rejected().rejected_event_id(), "evt-1");
  }
  EXPECT_EQ(rejections[0].event_id(), rejections[1].event_id());
  std::set<std::string> event_ids;
  for (const auto& e : h.Read(topics::kEvents)) event_ids.insert(e.event_id());
  EXPECT_EQ(event_ids.count(rejections[0].event_id()), 0u) << "no clash with the first's outputs";
  EXPECT_EQ(h.engine().stats().duplicates, 1u);
}

TEST(EventIds, ARestoredStoreStillTellsARepeatFromAReusedId) {
  // The digest travels with the dedupe entry through the changelog.
  EngineHarness h;
  Envelope first = ValidReferral("evt-1");
  h.Publish(first);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EngineHarness restored(h.broker());  // a new owner, restoring from the changelog
  Envelope changed = first;
  changed.mutable_referral_submitted()->set_concerns("something else");
  restored.Publish(first);
  restored.Publish(changed);
  ASSERT_TRUE(restored.RunUntilIdle().ok());
  EXPECT_EQ(restored.engine().stats().duplicates, 1u);
  int reused = 0;
  for (const auto& r : restored.Read(topics::kRejections)) {
    reused += r.command_rejected().rule() == "event_id.reused_with_different_content" ? 1 : 0;
  }
  EXPECT_EQ(reused, 1);
}

}  // namespace
}  // namespace pathway::engine
