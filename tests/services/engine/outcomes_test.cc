// Every inbound message gets exactly one outcome, on its sender's own topic (issue 16,
// docs/partners.md): whole streams through the engine over the in-memory bus.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "pathway/v1/outcome.pb.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "workflow/outcome.h"

namespace pathway::engine {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;
using pathway::v1::MessageOutcome;

constexpr std::string_view kTrust = "pathway.outcomes.v1.trust";
constexpr std::string_view kCouncil = "pathway.outcomes.v1.council";

EngineOptions WithPartners() {
  auto registry = workflow::ParsePartnerRegistry(R"({"partners": [
      {"id": "trust", "agencies": ["RQM"], "principal": "User:trust"},
      {"id": "council", "agencies": ["209"], "principal": "User:council"}]})");
  if (!registry) throw std::runtime_error(registry.error().detail);
  EngineOptions options;
  options.partners = workflow::PartnerDirectory(*registry);
  return options;
}

// Every outcome on every outcome topic, by outcome id, with the topic it was on; an
// outcome id seen twice fails the test.
std::map<std::string, std::pair<std::string, MessageOutcome>> Outcomes(EngineHarness& h) {
  std::map<std::string, std::pair<std::string, MessageOutcome>> out;
  for (std::string_view topic : {kTrust, kCouncil, topics::kUnaddressedOutcomes}) {
    for (const auto& m : h.broker().ReadAll(std::string(topic))) {
      MessageOutcome o;
      EXPECT_TRUE(o.ParseFromString(m.value)) << topic;
      EXPECT_EQ(m.key.value_or(""), o.outcome_id()) << "keyed by its id";
      const bool fresh = out.emplace(o.outcome_id(), std::pair{std::string(topic), o}).second;
      EXPECT_TRUE(fresh) << "two outcomes for " << o.outcome_id();
    }
  }
  return out;
}

std::string Place(int64_t offset) { return "pathway.inbound.v1/0/" + std::to_string(offset); }

std::set<std::string> Types(const pathway::v1::OutcomeAccepted& accepted) {
  std::set<std::string> types;
  for (const auto& e : accepted.events()) types.insert(e.type());
  return types;
}

TEST(Outcomes, EveryInboundMessageGetsExactlyOneOnItsSendersTopic) {
  EngineHarness h(WithPartners());
  // 0: three mistakes.
  Envelope bad = ValidReferral("evt-1");
  bad.mutable_referral_submitted()->mutable_child()->clear_given_name();
  bad.mutable_referral_submitted()->clear_reason();
  bad.mutable_referral_submitted()->mutable_received_on()->set_day(11);
  h.Publish(bad);
  // 1: corrected, under a new id.
  const Envelope good = ValidReferral("evt-2");
  h.Publish(good);
  // 2: the same message again.
  h.Publish(good);
  // 3: the same id with other content.
  Envelope reused = good;
  reused.mutable_referral_submitted()->set_referral_id("REF-other");
  h.Publish(reused);
  // 4: a second referral with the same referral id, a day later: refused for the
  // case's state.
  Envelope again = good;
  again.set_event_id("evt-3");
  again.mutable_occurred_at()->set_seconds(good.occurred_at().seconds() + 86400);
  again.mutable_referral_submitted()->mutable_received_on()->set_day(11);
  h.Publish(again);
  // 5: damaged after its source: dead-lettered, answered to the trust all the same.
  std::string damaged = ValidReferral("evt-4").SerializeAsString();
  damaged.resize(damaged.size() - 5);
  h.PublishRaw(damaged);
  // 6: bytes that say nothing of their sender.
  h.PublishRaw("not a protobuf at all");
  // 7: a sender nobody registered.
  Envelope stranger = ValidReferral("evt-5");
  stranger.mutable_source()->set_agency("X99999");
  h.Publish(stranger);
  // 8: no event id.
  Envelope anonymous = ValidReferral("evt-6");
  anonymous.clear_event_id();
  h.Publish(anonymous);
  // 9: the council, about the same child: a message of another partner.
  Envelope council = ValidReferral("evt-7");
  council.mutable_source()->set_agency("209");
  council.mutable_referral_submitted()->set_referral_id("REF-council");
  h.Publish(council);
  ASSERT_TRUE(h.RunUntilIdle().ok());

  auto outcomes = Outcomes(h);
  ASSERT_EQ(outcomes.size(), 10u) << "one per inbound message";
  for (int64_t offset = 0; offset < 10; ++offset) {
    ASSERT_TRUE(outcomes.count(Place(offset))) << "no outcome for message " << offset;
    const MessageOutcome& o = outcomes[Place(offset)].second;
    EXPECT_EQ(o.place().topic(), topics::kInbound);
    EXPECT_EQ(o.place().offset(), offset);
    EXPECT_TRUE(o.has_decided_at());
  }
  const std::string child = h.SubjectOf(kValidNhsNumber);

  auto [topic0, rejected] = outcomes[Place(0)];
  EXPECT_EQ(topic0, kTrust);
  EXPECT_EQ(rejected.inbound_event_id(), "evt-1");
  ASSERT_TRUE(rejected.has_rejected());
  ASSERT_EQ(rejected.rejected().violations_size(), 3);
  EXPECT_EQ(rejected.rejected().violations(0).field(), "referral_submitted.child.given_name");
  EXPECT_EQ(rejected.rejected().violations(1).field(), "referral_submitted.reason");
  EXPECT_EQ(rejected.rejected().violations(2).field(), "referral_submitted.received_on");
  EXPECT_EQ(rejected.subject_key(), child);

  auto [topic1, accepted] = outcomes[Place(1)];
  EXPECT_EQ(topic1, kTrust);
  EXPECT_EQ(accepted.inbound_event_id(), "evt-2");
  EXPECT_EQ(accepted.source().agency(), "RQM");
  EXPECT_EQ(accepted.subject_key(), child);
  ASSERT_TRUE(accepted.has_accepted());
  EXPECT_TRUE(Types(accepted.accepted()).count("referral_received"));
  // Exactly the events the referral published, by id.
  std::set<std::string> published, named;
  for (const auto& e : h.Read(topics::kEvents)) {
    if (e.causation_id() == "evt-2") published.insert(e.event_id());
  }
  for (const auto& e : accepted.accepted().events()) named.insert(e.event_id());
  EXPECT_EQ(named, published);

  auto [topic2, duplicate] = outcomes[Place(2)];
  EXPECT_EQ(topic2, kTrust);
  ASSERT_TRUE(duplicate.has_duplicate());
  EXPECT_EQ(duplicate.duplicate().first_outcome_id(), Place(1));
  EXPECT_EQ(Types(duplicate.duplicate().first()), Types(accepted.accepted()));

  auto [topic3, reused_outcome] = outcomes[Place(3)];
  ASSERT_TRUE(reused_outcome.has_rejected());
  EXPECT_EQ(reused_outcome.rejected().field(), "event_id");

  auto [topic4, state_rejected] = outcomes[Place(4)];
  ASSERT_TRUE(state_rejected.has_rejected()) << state_rejected.DebugString();
  EXPECT_EQ(state_rejected.rejected().rule(), "referral.duplicate");
  EXPECT_EQ(state_rejected.inbound_event_id(), "evt-3");

  auto [topic5, dead] = outcomes[Place(5)];
  EXPECT_EQ(topic5, kTrust) << "its sender was readable";
  EXPECT_EQ(dead.inbound_event_id(), "evt-4");
  ASSERT_TRUE(dead.has_dead_lettered());
  EXPECT_NE(dead.dead_lettered().reason(), "");
  std::set<std::string> dead_letters;
  for (const auto& d : h.Read(topics::kDeadLetter)) dead_letters.insert(d.event_id());
  EXPECT_TRUE(dead_letters.count(dead.dead_lettered().dead_letter_id()));

  auto [topic6, garbage] = outcomes[Place(6)];
  EXPECT_EQ(topic6, topics::kUnaddressedOutcomes);
  EXPECT_TRUE(garbage.has_dead_lettered());
  EXPECT_EQ(garbage.inbound_event_id(), "");

  auto [topic7, unknown] = outcomes[Place(7)];
  EXPECT_EQ(topic7, topics::kUnaddressedOutcomes);
  EXPECT_TRUE(unknown.has_accepted());

  auto [topic8, unidentified] = outcomes[Place(8)];
  EXPECT_EQ(topic8, kTrust);
  EXPECT_EQ(unidentified.inbound_event_id(), "");
  ASSERT_TRUE(unidentified.has_rejected());
  EXPECT_EQ(unidentified.rejected().violations(0).field(), "event_id");

  auto [topic9, council_outcome] = outcomes[Place(9)];
  EXPECT_EQ(topic9, kCouncil);
  EXPECT_TRUE(council_outcome.has_accepted());
}

TEST(Outcomes, AReDeliveredCommandIsNotAnsweredAgainButAPartnersRepeatIs) {
  EngineHarness h(WithPartners());
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  ASSERT_EQ(Outcomes(h).size(), 1u);
  // The intake read the message again after a restart and routed it again: the same
  // command, from the same place.
  auto commands = h.broker().ReadAll(std::string(topics::kCommands));
  ASSERT_EQ(commands.size(), 1u);
  h.broker().Append(std::string(topics::kCommands), commands[0].partition, commands[0].key,
                    commands[0].value);
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_EQ(Outcomes(h).size(), 1u) << "answered once";
  // The partner sends it again: read from another place, it is a repeat.
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto outcomes = Outcomes(h);
  ASSERT_EQ(outcomes.size(), 2u);
  ASSERT_TRUE(outcomes[Place(1)].second.has_duplicate());
  EXPECT_EQ(outcomes[Place(1)].second.duplicate().first_outcome_id(), Place(0));
}

TEST(Outcomes, TheEnginesOwnCommandsAnswerNobody) {
  EngineHarness h(WithPartners());
  // A command on the commands topic that no partner sent (no inbound place), as the
  // engine's follow-ons and operations write them.
  Envelope command = ValidReferral("evt-1");
  command.set_subject_key(h.SubjectOf(kValidNhsNumber));
  h.broker().Append(std::string(topics::kCommands),
                    h.broker().PartitionFor(std::string(topics::kCommands), command.subject_key()),
                    command.subject_key(), command.SerializeAsString());
  ASSERT_TRUE(h.RunUntilIdle().ok());
  EXPECT_FALSE(h.Read(topics::kEvents).empty()) << "it was decided";
  EXPECT_TRUE(Outcomes(h).empty());
}

TEST(Outcomes, WithoutPartnersEveryOutcomeIsUnaddressed) {
  EngineHarness h;
  h.Publish(ValidReferral("evt-1"));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  auto outcomes = Outcomes(h);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes.begin()->second.first, topics::kUnaddressedOutcomes);
}

}  // namespace
}  // namespace pathway::engine
