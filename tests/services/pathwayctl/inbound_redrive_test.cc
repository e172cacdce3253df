// Re-drive from pathway.inbound.v1 (services/pathwayctl/inbound_redrive.h): each
// partner message judged against a real engine's stores as the engine would judge it
// now: decided, never decided, an id reused, refused at intake, dead-lettered; a
// message whose dedupe entry is past its retention is still known by its case.
#include "services/pathwayctl/inbound_redrive.h"

#include <gtest/gtest.h>

#include "services/topics.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"

namespace pathway::ctl {
namespace {
using pathway::testing::EngineHarness;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::ValidReferral;

constexpr size_t kLimit = 512 << 10;

class InboundRedrive : public ::testing::Test {
 protected:
  InboundRedrive() : h_(Options()) {}
  static engine::EngineOptions Options() {
    engine::EngineOptions options;
    options.dedupe_retention_days = 2;
    return options;
  }

  // Every partition store the engine holds.
  std::vector<state::CaseStore*> Stores() {
    std::vector<state::CaseStore*> out;
    for (int32_t p : h_.stores().OpenPartitions()) out.push_back(h_.stores().Find(p));
    return out;
  }
  InboundVerdict Judge(const bus::Message& m) {
    auto verdict = JudgeInbound(
        m, [this](std::string_view nhs) { return h_.keyer().Key(nhs); }, Stores(), kLimit);
    EXPECT_TRUE(verdict.ok()) << verdict.error().ToString();
    return verdict.ok() ? *verdict : InboundVerdict{};
  }
  static bus::Message Inbound(const v1::Envelope& e) {
    bus::Message m;
    m.topic = std::string(topics::kInbound);
    m.value = e.SerializeAsString();
    return m;
  }
  static bus::Message Raw(std::string bytes) {
    bus::Message m;
    m.topic = std::string(topics::kInbound);
    m.value = std::move(bytes);
    return m;
  }

  EngineHarness h_;
};

TEST_F(InboundRedrive, EachMessageIsJudgedAsTheEngineWouldJudgeItNow) {
  const v1::Envelope decided = ValidReferral("ref-a");
  h_.Publish(decided);
  ASSERT_TRUE(h_.RunUntilIdle().ok());

  InboundVerdict processed = Judge(Inbound(decided));
  EXPECT_EQ(processed.fate, InboundFate::kProcessed);
  EXPECT_EQ(processed.payload, "referral_submitted");
  ASSERT_EQ(processed.subjects.size(), 1u);
  EXPECT_EQ(processed.subjects[0], h_.SubjectOf(pathway::testing::kValidNhsNumber));

  // Never reached the engine (lost with a commands topic, say).
  const v1::Envelope lost = ValidReferral("ref-b", kOtherValidNhsNumber);
  EXPECT_EQ(Judge(Inbound(lost)).fate, InboundFate::kNew);

  v1::Envelope changed = decided;
  changed.mutable_referral_submitted()->set_concerns("Something else entirely.");
  EXPECT_EQ(Judge(Inbound(changed)).fate, InboundFate::kReusedId);

  v1::Envelope invalid = ValidReferral("ref-c");
  invalid.mutable_referral_submitted()->mutable_child()->set_nhs_number("9434765918");
  InboundVerdict refused = Judge(Inbound(invalid));
  EXPECT_EQ(refused.fate, InboundFate::kRefused);
  EXPECT_NE(refused.reason.find("nhs_number"), std::string::npos) << refused.reason;
  EXPECT_EQ(refused.reason.find("9434765918"), std::string::npos) << "no NHS number in a reason";

  EXPECT_EQ(Judge(Raw("not an envelope \xff\xff")).fate, InboundFate::kDeadLettered);
  v1::Envelope big = ValidReferral("ref-d");
  big.mutable_referral_submitted()->set_concerns(std::string(kLimit, 'x'));
  EXPECT_EQ(Judge(Inbound(big)).fate, InboundFate::kDeadLettered);

  // Sent again, the new one is decided, and is then known.
  h_.Publish(lost);
  ASSERT_TRUE(h_.RunUntilIdle().ok());
  EXPECT_EQ(Judge(Inbound(lost)).fate, InboundFate::kProcessed);
}

TEST_F(InboundRedrive, AMessagePastItsDedupeRetentionIsStillKnownByItsCase) {
  const v1::Envelope decided = ValidReferral("ref-a");
  h_.Publish(decided);
  ASSERT_TRUE(h_.RunUntilIdle().ok());
  h_.time().Advance(std::chrono::hours(24 * 5));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(h_.engine().Step(std::chrono::milliseconds(0)).ok());
  ASSERT_GE(h_.engine().stats().dedupe_expired, 1u);
  EXPECT_EQ(Judge(Inbound(decided)).fate, InboundFate::kProcessed);
  v1::Envelope changed = decided;
  changed.mutable_occurred_at()->set_seconds(decided.occurred_at().seconds() - 86400);
  changed.mutable_referral_submitted()->mutable_received_on()->set_day(9);
  EXPECT_EQ(Judge(Inbound(changed)).fate, InboundFate::kReusedId);
}

}  // namespace
}  // namespace pathway::ctl
