// Event identity (issue 11): commands are processed once per source, event id and
// child, and a reused id with other content is rejected, in the simulator as in the
// engine.
#include "workflow/event_identity.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/common/fixtures.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
using pathway::testing::ValidReferral;
namespace v1 = pathway::v1;

std::string Key(std::string_view nhs) { return "subject-" + std::string(nhs); }

v1::Envelope Routed(v1::Envelope e) {
  e.set_subject_key(Key(e.referral_submitted().child().nhs_number()));
  return e;
}

TEST(EventIdentity, SourceEventIdAndSubjectEachChangeTheIdentity) {
  v1::Envelope base = Routed(ValidReferral("evt-1"));
  std::set<std::string> identities{CommandIdentity(base)};
  v1::Envelope other = base;
  other.mutable_source()->set_agency("100000");
  identities.insert(CommandIdentity(other));
  other = base;
  other.mutable_source()->set_system("another-system");
  identities.insert(CommandIdentity(other));
  other = base;
  other.set_event_id("evt-2");
  identities.insert(CommandIdentity(other));
  other = base;
  other.set_subject_key("subject-other");
  identities.insert(CommandIdentity(other));
  EXPECT_EQ(identities.size(), 5u);
  // Length prefixes: moving a character from one field to the next is another identity.
  v1::Envelope a = base, b = base;
  a.mutable_source()->set_agency("ab");
  a.mutable_source()->set_system("c");
  b.mutable_source()->set_agency("a");
  b.mutable_source()->set_system("bc");
  EXPECT_NE(CommandIdentity(a), CommandIdentity(b));
}

TEST(EventIdentity, TheDigestIgnoresTransportTimeOnlyAndOutputIdsFollowTheIdentity) {
  v1::Envelope base = Routed(ValidReferral("evt-1"));
  v1::Envelope restamped = base;
  restamped.mutable_recorded_at()->set_seconds(1);
  EXPECT_EQ(ContentDigest(base), ContentDigest(restamped));
  EXPECT_EQ(ContentDigest(base).size(), 16u);
  v1::Envelope changed = base;
  changed.mutable_referral_submitted()->set_concerns("other");
  EXPECT_NE(ContentDigest(base), ContentDigest(changed));

  v1::Envelope other_source = base;
  other_source.mutable_source()->set_system("another-system");
  TimePoint now = pathway::testing::March10th2025();
  EXPECT_NE(DerivedEnvelope(base, 0, now).event_id(),
            DerivedEnvelope(other_source, 0, now).event_id());
  EXPECT_NE(MakeReusedIdRejection(changed, ContentDigest(changed), now).event_id(),
            DerivedEnvelope(base, 0, now).event_id());
}

TEST(EventIdentity, TheSimulatorIgnoresRepeatsAndRejectsAReusedIdAsTheEngineDoes) {
  Simulator sim(Key);
  TimePoint now = pathway::testing::March10th2025();
  v1::Envelope first = ValidReferral("evt-1");
  v1::Envelope changed = first;
  changed.mutable_referral_submitted()->set_reason(v1::REFERRAL_REASON_ATTENTION);
  v1::Envelope other_child = ValidReferral("evt-1", pathway::testing::kOtherValidNhsNumber);
  sim.Process(first, now);
  sim.Process(first, now);
  sim.Process(changed, now);
  sim.Process(other_child, now);
  const auto& child = sim.subjects().at(Key(pathway::testing::kValidNhsNumber));
  ASSERT_EQ(child.rejections.size(), 1u);
  EXPECT_EQ(child.rejections[0].command_rejected().rule(),
            "event_id.reused_with_different_content");
  EXPECT_EQ(child.state.referrals_size(), 1);
  EXPECT_EQ(sim.subjects().at(Key(pathway::testing::kOtherValidNhsNumber)).state.referrals_size(),
            1)
      << "the same id about another child is another event";
}

}  // namespace
}  // namespace pathway::workflow
