// Statutory sharing configuration (docs/tell-it-once.md section 3): parsed from JSON,
// every rule checked with an error naming the rule and the field, and looked up by
// exact (agency, purpose, fact type) only.
#include "workflow/sharing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
using ::testing::HasSubstr;

// A StatutorySharing document holding `rules` (JSON objects, comma-separated).
std::string Rules(const std::string& rules) { return R"({"rules":[)" + rules + "]}"; }

constexpr const char* kGood =
    R"({"id":"la-ehc","agency":"209","purpose":"ehc_needs_assessment",)"
    R"("factTypes":["FACT_TYPE_EXISTING_ADVICE","FACT_TYPE_DIAGNOSES"],)"
    R"j("legalBasis":"SEND Regulations 2014 reg 6(1)","note":"to confirm"})j";

TEST(Sharing, ParsesRulesInProtobufJsonMapping) {
  auto parsed = ParseStatutorySharing(Rules(kGood));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  ASSERT_EQ(parsed->rules_size(), 1);
  const pathway::config::v1::SharingRule& rule = parsed->rules(0);
  EXPECT_EQ(rule.id(), "la-ehc");
  EXPECT_EQ(rule.agency(), "209");
  EXPECT_EQ(rule.purpose(), "ehc_needs_assessment");
  ASSERT_EQ(rule.fact_types_size(), 2);
  EXPECT_EQ(rule.fact_types(1), v1::FACT_TYPE_DIAGNOSES);
  EXPECT_EQ(rule.legal_basis(), "SEND Regulations 2014 reg 6(1)");
  // The proto field names are accepted too.
  auto snake = ParseStatutorySharing(
      R"({"rules":[{"id":"x","agency":"209","purpose":"p","fact_types":["FACT_TYPE_NEEDS"],)"
      R"("legal_basis":"s.1"}]})");
  ASSERT_TRUE(snake.ok()) << snake.error().ToString();
  EXPECT_EQ(snake->rules(0).fact_types(0), v1::FACT_TYPE_NEEDS);
}

TEST(Sharing, NoRulesMeansNothingIsSharedWithoutConsent) {
  auto empty = ParseStatutorySharing("{}");
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  EXPECT_EQ(empty->rules_size(), 0);
  EXPECT_EQ(StatutoryBasis(*empty, "209", "ehc_needs_assessment", v1::FACT_TYPE_DIAGNOSES),
            nullptr);
  EXPECT_EQ(StatutoryBasis(pathway::config::v1::StatutorySharing(), "209", "ehc_needs_assessment",
                           v1::FACT_TYPE_DIAGNOSES),
            nullptr);
}

struct BadCase {
  const char* what;
  std::string json;
  const char* error;  // a substring of the error's detail
};

TEST(Sharing, EveryBadRuleIsRejectedNamingTheRuleAndField) {
  const std::string second_good =
      R"({"id":"la-view","agency":"209","purpose":"safeguarding",)"
      R"("factTypes":["FACT_TYPE_IDENTITY"],"legalBasis":"Children Act 1989 s.47"})";
  const BadCase cases[] = {
      {"not JSON", "{rules:", "not a StatutorySharing in JSON"},
      {"a misspelt field", Rules(R"({"id":"a","agncy":"209"})"), "agncy"},
      {"an unknown fact type name", Rules(R"({"id":"a","factTypes":["FACT_TYPE_SHOE_SIZE"]})"),
       "FACT_TYPE_SHOE_SIZE"},
      {"no id",
       Rules(R"({"agency":"209","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],"legalBasis":"b"})"),
       "rules[0].id: required"},
      {"a duplicate id", Rules(std::string(kGood) + "," + kGood),
       "rules[1] (\"la-ehc\").id: duplicate"},
      {"no agency",
       Rules(R"({"id":"a","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],"legalBasis":"b"})"),
       "rules[0] (\"a\").agency: required"},
      {"a wildcard agency",
       Rules(R"({"id":"a","agency":"*","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],)"
             R"("legalBasis":"b"})"),
       "rules[0] (\"a\").agency: no wildcards"},
      {"a padded agency",
       Rules(R"({"id":"a","agency":"209 ","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],)"
             R"("legalBasis":"b"})"),
       "rules[0] (\"a\").agency: no leading or trailing spaces"},
      {"no purpose",
       Rules(R"({"id":"a","agency":"209","factTypes":["FACT_TYPE_NEEDS"],"legalBasis":"b"})"),
       "rules[0] (\"a\").purpose: required"},
      {"a wildcard purpose",
       Rules(R"({"id":"a","agency":"209","purpose":"ehc_*","factTypes":["FACT_TYPE_NEEDS"],)"
             R"("legalBasis":"b"})"),
       "rules[0] (\"a\").purpose: no wildcards"},
      {"no fact types", Rules(R"({"id":"a","agency":"209","purpose":"p","legalBasis":"b"})"),
       "rules[0] (\"a\").fact_types: required"},
      {"an unspecified fact type",
       Rules(R"({"id":"a","agency":"209","purpose":"p",)"
             R"("factTypes":["FACT_TYPE_NEEDS","FACT_TYPE_UNSPECIFIED"],"legalBasis":"b"})"),
       "rules[0] (\"a\").fact_types[1]: FACT_TYPE_UNSPECIFIED"},
      {"an unknown fact type number",
       Rules(R"({"id":"a","agency":"209","purpose":"p","factTypes":[99],"legalBasis":"b"})"),
       "rules[0] (\"a\").fact_types[0]: unknown fact type 99"},
      {"a fact type listed twice",
       Rules(R"({"id":"a","agency":"209","purpose":"p",)"
             R"("factTypes":["FACT_TYPE_NEEDS","FACT_TYPE_NEEDS"],"legalBasis":"b"})"),
       "rules[0] (\"a\").fact_types[1]: FACT_TYPE_NEEDS listed twice"},
      {"two rules for one use",
       Rules(second_good + "," +
             R"({"id":"b","agency":"209","purpose":"safeguarding",)"
             R"("factTypes":["FACT_TYPE_NEEDS","FACT_TYPE_IDENTITY"],"legalBasis":"other"})"),
       "rules[1] (\"b\").fact_types[1]: FACT_TYPE_IDENTITY for 209/safeguarding is already "
       "covered by rules[0] (\"la-view\")"},
      {"no legal basis",
       Rules(second_good + "," +
             R"({"id":"b","agency":"209","purpose":"p","factTypes":["FACT_TYPE_NEEDS"]})"),
       "rules[1] (\"b\").legal_basis: required"},
      {"a blank legal basis",
       Rules(R"({"id":"a","agency":"209","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],)"
             R"("legalBasis":"  "})"),
       "rules[0] (\"a\").legal_basis: required"},
  };
  for (const BadCase& c : cases) {
    auto parsed = ParseStatutorySharing(c.json);
    ASSERT_FALSE(parsed.ok()) << c.what << " was accepted: " << c.json;
    EXPECT_EQ(parsed.error().code, std::make_error_code(std::errc::invalid_argument)) << c.what;
    EXPECT_THAT(parsed.error().detail, HasSubstr(c.error)) << c.what;
  }
}

TEST(Sharing, TheBasisIsFoundByExactAgencyPurposeAndFactTypeOnly) {
  auto parsed = ParseStatutorySharing(Rules(
      std::string(kGood) + "," +
      R"({"id":"trust-ehc","agency":"RQM","purpose":"ehc_needs_assessment",)"
      R"("factTypes":["FACT_TYPE_CURRENT_SETTING"],"legalBasis":"SEND Regulations 2014 reg 8"})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  const pathway::config::v1::SharingRule* rule =
      StatutoryBasis(*parsed, "209", "ehc_needs_assessment", v1::FACT_TYPE_DIAGNOSES);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id(), "la-ehc");
  rule = StatutoryBasis(*parsed, "RQM", "ehc_needs_assessment", v1::FACT_TYPE_CURRENT_SETTING);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->legal_basis(), "SEND Regulations 2014 reg 8");
  // Another fact type, purpose or agency; another spelling of either: no basis.
  EXPECT_EQ(StatutoryBasis(*parsed, "209", "ehc_needs_assessment", v1::FACT_TYPE_FAMILY_VIEWS),
            nullptr);
  EXPECT_EQ(StatutoryBasis(*parsed, "209", "annual_review", v1::FACT_TYPE_DIAGNOSES), nullptr);
  EXPECT_EQ(StatutoryBasis(*parsed, "QKK", "ehc_needs_assessment", v1::FACT_TYPE_DIAGNOSES),
            nullptr);
  EXPECT_EQ(StatutoryBasis(*parsed, "RQM", "ehc_needs_assessment", v1::FACT_TYPE_DIAGNOSES),
            nullptr);
  EXPECT_EQ(StatutoryBasis(*parsed, "209", "EHC_needs_assessment", v1::FACT_TYPE_DIAGNOSES),
            nullptr);
  EXPECT_EQ(StatutoryBasis(*parsed, "20", "ehc_needs_assessment", v1::FACT_TYPE_DIAGNOSES),
            nullptr);
}

// The file the deployment ships is valid, and every rule in it cites its law and says
// the partnership must confirm it.
TEST(Sharing, TheDefaultConfigurationIsValidAndCitesItsLaw) {
  std::ifstream in(PATHWAY_CONFIG "/statutory_sharing.json");
  ASSERT_TRUE(in) << "cannot read " << PATHWAY_CONFIG "/statutory_sharing.json";
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = ParseStatutorySharing(text.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  ASSERT_GT(parsed->rules_size(), 0);
  for (const auto& rule : parsed->rules()) {
    EXPECT_THAT(rule.legal_basis(), HasSubstr("20")) << rule.id() << ": cite an Act or SI by year";
    EXPECT_THAT(rule.note(), HasSubstr("partnership must confirm")) << rule.id();
  }
  // The council's EHC needs assessment may use health and education advice (reg 6(1)).
  const pathway::config::v1::SharingRule* ehc =
      StatutoryBasis(*parsed, "209", "ehc_needs_assessment", v1::FACT_TYPE_EXISTING_ADVICE);
  ASSERT_NE(ehc, nullptr);
  EXPECT_THAT(ehc->legal_basis(), HasSubstr("reg 6(1)"));
  // The family's own story is theirs to share: never statutory in the default file.
  for (const auto& rule : parsed->rules()) {
    for (int t : rule.fact_types()) {
      EXPECT_NE(t, v1::FACT_TYPE_ALL_ABOUT_ME) << rule.id();
      EXPECT_NE(t, v1::FACT_TYPE_FAMILY_VIEWS) << rule.id();
    }
  }
}

}  // namespace
}  // namespace pathway::workflow
