// Rule: erasure is limited by statutory retention (../shared/domain.md, Data
// protection): children's health records to the 25th birthday (26th if 17 at the end
// of treatment), SEN files to date of birth + 31 years. A refusal names the rule and
// the date it ends.
#include "workflow/retention.h"

#include <gtest/gtest.h>

namespace pathway::workflow {
namespace {
using std::chrono::day;
using std::chrono::month;
using std::chrono::year;

CivilDate D(int y, unsigned m, unsigned d) { return year{y} / month{m} / day{d}; }

const std::vector<RetentionRule> kRules = DefaultRetentionRules();

TEST(Retention, ASenFileIsKeptToDateOfBirthPlus31Years) {
  RetentionFacts facts{D(2015, 6, 14), {RecordKind::kSenFile}, false};
  ErasureDecision d = DecideErasure(kRules, facts, D(2026, 11, 23));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "sen-file");
  EXPECT_EQ(d.retained_until, D(2046, 6, 14));
  EXPECT_NE(d.reason.find("sen-file"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("2046-06-14"), std::string::npos) << d.reason;
  EXPECT_FALSE(DecideErasure(kRules, facts, D(2046, 6, 13)).allowed) << "the day before";
  EXPECT_TRUE(DecideErasure(kRules, facts, D(2046, 6, 14)).allowed) << "from that day";
}

TEST(Retention, HealthRecordsToThe25thOr26thBirthday) {
  RetentionFacts facts{D(2000, 1, 10), {RecordKind::kHealthRecord}, false};
  EXPECT_FALSE(DecideErasure(kRules, facts, D(2025, 1, 9)).allowed);
  ErasureDecision at25 = DecideErasure(kRules, facts, D(2025, 1, 10));
  EXPECT_TRUE(at25.allowed);
  EXPECT_EQ(at25.rule, "health-records-children");

  facts.aged_17_at_end_of_treatment = true;
  ErasureDecision at17 = DecideErasure(kRules, facts, D(2025, 1, 10));
  EXPECT_FALSE(at17.allowed);
  EXPECT_EQ(at17.retained_until, D(2026, 1, 10));
}

TEST(Retention, TheLongestApplicableRuleBinds) {
  RetentionFacts facts{D(2010, 3, 1), {RecordKind::kHealthRecord, RecordKind::kSenFile}, true};
  ErasureDecision d = DecideErasure(kRules, facts, D(2037, 1, 1));
  EXPECT_FALSE(d.allowed) << "past the health rule's 26th birthday, not the SEN file's 31st";
  EXPECT_EQ(d.rule, "sen-file");
  EXPECT_EQ(d.retained_until, D(2041, 3, 1));
}

TEST(Retention, ALeapDayBirthdayFallsOnTheFirstOfMarch) {
  RetentionFacts facts{D(2008, 2, 29), {RecordKind::kHealthRecord}, false};
  ErasureDecision d = DecideErasure(kRules, facts, D(2033, 2, 28));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retained_until, D(2033, 3, 1));  // Family Law Reform Act 1969 s9
}

TEST(Retention, NothingHeldThatARuleCoversMayBeErased) {
  RetentionFacts facts{D(2018, 5, 5), {}, false};
  ErasureDecision d = DecideErasure(kRules, facts, D(2026, 11, 23));
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.rule.empty());
  // And configured rules replace the defaults.
  std::vector<RetentionRule> strict = {{"local-policy", RecordKind::kSenFile, 40, 0, "local"}};
  facts.held = {RecordKind::kSenFile};
  EXPECT_EQ(DecideErasure(strict, facts, D(2026, 11, 23)).retained_until, D(2058, 5, 5));
}

}  // namespace
}  // namespace pathway::workflow
