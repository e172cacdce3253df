// The partner registry, reading a message's sender from damaged bytes, and what a
// case's history says of the first message with an id (workflow/outcome.h).
#include "workflow/outcome.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "services/topics.h"
#include "tests/common/commands.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
using pathway::testing::ValidReferral;

std::string Registry(std::string partners) { return R"({"partners": [)" + partners + "]}"; }
constexpr const char* kCouncil =
    R"({"id": "council", "name": "County", "agencies": ["209"], "principal": "User:council"})";

std::string ErrorOf(const std::string& json) {
  auto parsed = ParsePartnerRegistry(json);
  return parsed ? "" : parsed.error().detail;
}

TEST(PartnerRegistry, TheShippedFileParsesAndAddressesTheDemoAgencies) {
  std::ifstream in(PATHWAY_CONFIG "/partners.json");
  ASSERT_TRUE(in) << "cannot read " << PATHWAY_CONFIG "/partners.json";
  std::stringstream text;
  text << in.rdbuf();
  auto registry = ParsePartnerRegistry(text.str());
  ASSERT_TRUE(registry) << registry.error().detail;
  PartnerDirectory directory(*registry);
  EXPECT_EQ(directory.TopicFor("209"), "pathway.outcomes.v1.council");
  EXPECT_EQ(directory.TopicFor("Y00001"), "pathway.outcomes.v1.icb");
  EXPECT_EQ(directory.TopicFor("RQM"), "pathway.outcomes.v1.trust-rqm");
  EXPECT_EQ(directory.TopicFor("100001"), "pathway.outcomes.v1.schools");
  EXPECT_EQ(directory.TopicFor("X99999"), topics::kUnaddressedOutcomes);
  EXPECT_EQ(directory.TopicFor(""), topics::kUnaddressedOutcomes);
  EXPECT_EQ(directory.Topics().back(), topics::kUnaddressedOutcomes);
  EXPECT_EQ(directory.Topics().size(), static_cast<size_t>(registry->partners_size()) + 1);
}

TEST(PartnerRegistry, WithoutPartnersEveryOutcomeIsUnaddressed) {
  PartnerDirectory none;
  EXPECT_EQ(none.TopicFor("209"), topics::kUnaddressedOutcomes);
  EXPECT_EQ(none.Topics(), std::vector<std::string>{std::string(topics::kUnaddressedOutcomes)});
}

TEST(PartnerRegistry, EachMistakeIsNamedByPartnerAndField) {
  EXPECT_EQ(ErrorOf(Registry(kCouncil)), "");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"id": "Council", "agencies": ["209"], "principal": "User:c"})",
       "partners[1] (\"Council\").id"},
      {R"({"id": "_unaddressed", "agencies": ["209"], "principal": "User:c"})",
       "partners[1] (\"_unaddressed\").id"},
      {R"({"id": "", "agencies": ["209"], "principal": "User:c"})", "partners[1].id"},
      {std::string(R"({"id": ")") + std::string(64, 'a') +
           R"(", "agencies": ["209"], "principal": "User:c"})",
       ").id"},
      {R"({"id": "a.b", "agencies": ["209"], "principal": "User:c"})", "(\"a.b\").id"},
      {R"({"id": "icb", "agencies": [], "principal": "User:c"})", "(\"icb\").agencies: required"},
      {R"({"id": "icb", "agencies": [" 209"], "principal": "User:c"})", "(\"icb\").agencies"},
      {R"({"id": "icb", "agencies": ["Y1", "Y1"], "principal": "User:c"})", "listed twice"},
      {R"({"id": "icb", "agencies": ["209"], "principal": "User:c"})", "listed twice"},
      {R"({"id": "council", "agencies": ["X"], "principal": "User:c"})", "duplicate"},
      {R"({"id": "icb", "agencies": ["Y1"], "principal": "icb"})", "(\"icb\").principal"},
      {R"({"id": "icb", "agencies": ["Y1"], "principal": "User:"})", "(\"icb\").principal"},
      {R"({"id": "icb", "agencies": ["Y1"], "principal": "User:c", "topic": "x"})",
       "not a PartnerRegistry"},
  };
  // After a valid partner, so that each error names the second: partners[1].
  for (const auto& [partner, expected] : cases) {
    const std::string error = ErrorOf(Registry(std::string(kCouncil) + ", " + partner));
    EXPECT_NE(error.find(expected), std::string::npos) << partner << " gave: " << error;
  }
}

TEST(ReadSender, ReadsTheIdAndSourceOfAWholeMessage) {
  v1::Envelope e = ValidReferral("evt-1");
  Sender s = ReadSender(e.SerializeAsString());
  EXPECT_EQ(s.event_id, "evt-1");
  EXPECT_EQ(s.source.agency(), e.source().agency());
  EXPECT_EQ(s.source.system(), e.source().system());
}

TEST(ReadSender, ReadsThemBeforeADamagedPayload) {
  v1::Envelope e = ValidReferral("evt-1");
  std::string bytes = e.SerializeAsString();
  // Cut inside the payload (the last field written): the whole no longer decodes.
  bytes.resize(bytes.size() - 5);
  ASSERT_FALSE(v1::Envelope().ParseFromString(bytes));
  Sender s = ReadSender(bytes);
  EXPECT_EQ(s.event_id, "evt-1");
  EXPECT_EQ(s.source.agency(), e.source().agency());
}

TEST(ReadSender, GarbageEmptyAndBadTextGiveNothing) {
  for (const std::string& bytes :
       {std::string(), std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
        std::string("not a protobuf at all"), std::string(1000, '\x0b')}) {
    Sender s = ReadSender(bytes);
    EXPECT_EQ(s.event_id, "") << bytes.size();
    EXPECT_EQ(s.source.agency(), "") << bytes.size();
  }
  v1::Envelope e;
  e.set_event_id("ok");
  std::string bytes = e.SerializeAsString();
  bytes[2] = '\xc3';  // "ok" becomes a broken UTF-8 sequence
  EXPECT_EQ(ReadSender(bytes).event_id, "");
}

TEST(ReadSender, ReadsNoFurtherThanItsLimit) {
  v1::Envelope e;
  e.set_pathway_instance_id(std::string(1000, 'p'));  // field 3, before the source
  e.mutable_source()->set_agency("209");
  EXPECT_EQ(ReadSender(e.SerializeAsString()).source.agency(), "209");
  EXPECT_EQ(ReadSender(e.SerializeAsString(), 500).source.agency(), "");
}

TEST(Outcome, IsNamedByItsPlaceAndRepeatsNothingOverLong) {
  const v1::MessagePlace place = PlaceOf("pathway.inbound.v1", 3, 42);
  Sender sender{std::string(kMaxOutcomeText + 1, 'e'), {}};
  sender.source.set_agency("209");
  v1::MessageOutcome o = OutcomeOf(place, sender, "key", TimePoint{});
  EXPECT_EQ(o.outcome_id(), "pathway.inbound.v1/3/42");
  EXPECT_EQ(o.inbound_event_id(), "") << "too long to repeat";
  EXPECT_EQ(o.source().agency(), "209");
  sender.event_id = "evt-1";
  sender.source.set_system(std::string(kMaxOutcomeText + 1, 's'));
  o = OutcomeOf(place, sender, "key", TimePoint{});
  EXPECT_EQ(o.inbound_event_id(), "evt-1");
  EXPECT_FALSE(o.has_source()) << "too long to repeat";
}

TEST(Outcome, CausedEventsAreNamedByTheirPayloadField) {
  v1::Envelope e;
  e.set_event_id("e1");
  e.set_pathway_instance_id("p1");
  e.mutable_referral_received();
  v1::CausedEvent c = CausedEventOf(e);
  EXPECT_EQ(c.event_id(), "e1");
  EXPECT_EQ(c.type(), "referral_received");
  EXPECT_EQ(c.pathway_instance_id(), "p1");
}

TEST(Outcome, AThousandEventsAreNamedAndTheRestCounted) {
  v1::OutcomeAccepted accepted;
  v1::Envelope e;
  e.mutable_referral_received();
  // Appended piece by piece: GCC 12 at -O3 warns falsely on "literal" + std::string.
  auto id = [](int i) {
    std::string out = "e";
    out += std::to_string(i);
    return out;
  };
  for (int i = 0; i < kMaxOutcomeEvents + 5; ++i) {
    e.set_event_id(id(i));
    AddCausedEvent(accepted, e);
  }
  ASSERT_EQ(accepted.events_size(), kMaxOutcomeEvents);
  EXPECT_EQ(accepted.events(kMaxOutcomeEvents - 1).event_id(), id(kMaxOutcomeEvents - 1));
  EXPECT_EQ(accepted.events_not_listed(), 5u);
}

TEST(Outcome, TheFirstMessageIsFoundByItsKeptCommandAndCause) {
  v1::Envelope command = ValidReferral("evt-1");
  *command.mutable_inbound_place() = PlaceOf("pathway.inbound.v1", 1, 7);
  const std::string identity = "some-identity";
  std::vector<v1::Envelope> history(4);
  history[0].set_event_id(pathway::DerivedEventId("recorded|" + identity, 0));
  history[0].mutable_command_recorded()->set_command(command.SerializeAsString());
  history[1].set_event_id("r1");
  history[1].set_causation_id("evt-1");
  history[1].mutable_referral_received();
  history[2].set_event_id("other");
  history[2].set_causation_id("evt-2");
  history[2].mutable_referral_received();
  history[3].set_event_id("trim");
  history[3].set_causation_id("evt-1");
  history[3].mutable_history_trimmed();
  FirstMessage first = FirstMessageOf(history, identity, "evt-1");
  ASSERT_TRUE(first.place.has_value());
  EXPECT_EQ(OutcomeId(*first.place), "pathway.inbound.v1/1/7");
  ASSERT_EQ(first.caused.events_size(), 1);
  EXPECT_EQ(first.caused.events(0).event_id(), "r1");
  // Another identity's kept command is not the first message.
  EXPECT_FALSE(FirstMessageOf(history, "another", "evt-1").place.has_value());
}

}  // namespace
}  // namespace pathway::workflow
