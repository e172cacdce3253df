// The key `pathwayctl publish` gives inbound messages (decision 96): stable per child,
// spread between children, and never the identifier or any run of its digits.
#include "services/pathwayctl/inbound_key.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "tests/common/fixtures.h"

namespace pathway::ctl {
namespace {
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kValidNhsNumber;
using pathway::testing::TestNhsNumber;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

Envelope About(const std::string& event_id, const std::string& nhs) {
  Envelope e;
  e.set_event_id(event_id);
  e.mutable_subject()->set_nhs_number(nhs);
  e.mutable_consent_recorded()->set_agency("209");
  return e;
}

// Every run of 3 or more consecutive digits of `identifier`.
std::set<std::string> DigitRuns(const std::string& identifier) {
  std::set<std::string> runs;
  for (size_t i = 0; i < identifier.size(); ++i) {
    for (size_t n = 3; i + n <= identifier.size(); ++n) {
      std::string run = identifier.substr(i, n);
      if (std::all_of(run.begin(), run.end(), [](char c) { return std::isdigit(c); })) {
        runs.insert(run);
      }
    }
  }
  return runs;
}

TEST(InboundKey, IsAFixedShapeBucket) {
  const std::string key = InboundKey(About("evt-1", kValidNhsNumber));
  ASSERT_TRUE(key.starts_with(kInboundKeyPrefix)) << key;
  const std::string bucket = key.substr(kInboundKeyPrefix.size());
  ASSERT_EQ(bucket.size(), 3u) << key;
  for (char c : bucket) EXPECT_TRUE(c >= 'a' && c <= 'p') << key;
  // Pinned: the same on every run and machine; a change would move every child's
  // messages to another partition (between two publishes: out of order).
  EXPECT_EQ(key, "subject-bucket:gmi");
}

TEST(InboundKey, SameChildSameKeyAcrossEnvelopes) {
  const std::string key = InboundKey(About("evt-1", kValidNhsNumber));
  // A referral names the child in the referral; its subject may be left empty.
  Envelope referral = ValidReferral("evt-2", kValidNhsNumber);
  referral.clear_subject();
  EXPECT_EQ(InboundKey(referral), key);
  EXPECT_EQ(InboundKey(ValidReferral("evt-3", kValidNhsNumber)), key);
  Envelope other_payload = About("evt-4", kValidNhsNumber);
  other_payload.mutable_fact_provided()->set_content("anything");
  other_payload.mutable_occurred_at()->set_seconds(1);
  EXPECT_EQ(InboundKey(other_payload), key);
  // The NHS number wins over another identifier of the same child.
  Envelope both = About("evt-5", kValidNhsNumber);
  both.mutable_subject()->set_upn("B801200005001");
  EXPECT_EQ(InboundKey(both), key);
}

TEST(InboundKey, OtherIdentifiersAndNoIdentifier) {
  Envelope upn;
  upn.set_event_id("evt-1");
  upn.mutable_subject()->set_upn("B801200005001");
  Envelope upn_again = upn;
  upn_again.set_event_id("evt-2");
  EXPECT_EQ(InboundKey(upn), InboundKey(upn_again));

  Envelope local;
  local.set_event_id("evt-3");
  local.mutable_subject()->set_local_id("school-mis:12345");
  Envelope local_again = local;
  local_again.set_event_id("evt-4");
  EXPECT_EQ(InboundKey(local), InboundKey(local_again));

  // Nobody named: each message by its own event id, still a bucket.
  Envelope nobody;
  nobody.set_event_id("evt-5");
  EXPECT_TRUE(InboundKey(nobody).starts_with(kInboundKeyPrefix));
  EXPECT_EQ(InboundKey(nobody), InboundKey(nobody));
}

TEST(InboundKey, DiffersBetweenChildrenAndSpreadsOverBuckets) {
  EXPECT_NE(InboundKey(About("evt-1", kValidNhsNumber)),
            InboundKey(About("evt-2", kOtherValidNhsNumber)));
  // 2,000 children over 4,096 buckets: many distinct keys, none much fuller than chance.
  std::map<std::string, int> per_key;
  for (long i = 0; i < 2000; ++i) ++per_key[InboundKey(About("evt", TestNhsNumber(i)))];
  EXPECT_GT(per_key.size(), 1450u);
  for (const auto& [key, n] : per_key) EXPECT_LE(n, 8) << key;
}

TEST(InboundKey, NeverContainsTheIdentifierOrAnyRunOfItsDigits) {
  std::vector<std::string> identifiers = {kValidNhsNumber, kOtherValidNhsNumber};
  for (long i = 0; i < 2000; ++i) identifiers.push_back(TestNhsNumber(i));
  for (const auto& nhs : identifiers) {
    for (const Envelope& e : {About("evt", nhs), ValidReferral("evt", nhs)}) {
      const std::string key = InboundKey(e);
      EXPECT_EQ(key.find(nhs), std::string::npos) << key;
      for (const auto& run : DigitRuns(nhs)) EXPECT_EQ(key.find(run), std::string::npos) << key;
      EXPECT_TRUE(std::none_of(key.begin(), key.end(), [](char c) { return std::isdigit(c); }))
          << key;
    }
  }
  Envelope upn;
  upn.mutable_subject()->set_upn("B801200005001");
  EXPECT_EQ(InboundKey(upn).find("801200005001"), std::string::npos);
}

// examples/inbound_key_vectors.json, the reference partners' own key functions are
// tested against (docs/partners.md, "Keying"; the Python and Java ones in
// tests/partners/): each vector's key must be what this implementation gives an
// Envelope naming the child by that kind of identifier.
TEST(InboundKey, MatchesThePartnersTestVectors) {
  std::ifstream in(PATHWAY_INBOUND_KEY_VECTORS);
  ASSERT_TRUE(in) << PATHWAY_INBOUND_KEY_VECTORS;
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &doc).ok());
  ASSERT_TRUE(doc.fields().contains("vectors"));
  const auto& vectors = doc.fields().at("vectors").list_value().values();
  ASSERT_GE(vectors.size(), 10);
  std::set<std::string> kinds;
  for (const auto& vector : vectors) {
    const auto& fields = vector.struct_value().fields();
    ASSERT_TRUE(fields.contains("kind") && fields.contains("identifier") && fields.contains("key"));
    const std::string& kind = fields.at("kind").string_value();
    const std::string& identifier = fields.at("identifier").string_value();
    const std::string& key = fields.at("key").string_value();
    // The note, not the identifier, names a failing vector.
    const std::string note = fields.contains("note") ? fields.at("note").string_value() : kind;
    kinds.insert(kind);
    Envelope e;
    e.set_event_id("vector-event");
    if (kind == "nhs") {
      e.mutable_subject()->set_nhs_number(identifier);
      // The same child named only by the referral: the same key.
      Envelope referral;
      referral.set_event_id("vector-referral");
      referral.mutable_referral_submitted()->mutable_child()->set_nhs_number(identifier);
      EXPECT_EQ(InboundKey(referral), key) << note;
    } else if (kind == "upn") {
      e.mutable_subject()->set_upn(identifier);
    } else if (kind == "local") {
      e.mutable_subject()->set_local_id(identifier);
    } else if (kind == "event") {
      e.set_event_id(identifier);
    } else {
      ADD_FAILURE() << "unknown kind " << kind;
      continue;
    }
    EXPECT_EQ(InboundKey(e), key) << note;
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"nhs", "upn", "local", "event"}));
}

}  // namespace
}  // namespace pathway::ctl
