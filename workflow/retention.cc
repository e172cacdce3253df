#include "workflow/retention.h"

#include <cstdio>

#include "workflow/clock.h"

namespace pathway::workflow {
namespace {
std::string Iso(CivilDate d) {
  char text[16];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return text;
}
}  // namespace

std::vector<RetentionRule> DefaultRetentionRules() {
  return {
      {"health-records-children", RecordKind::kHealthRecord, 25, 26,
       "NHS Records Management Code of Practice: children's records to the 25th birthday, "
       "or the 26th if 17 at the conclusion of treatment"},
      {"sen-file", RecordKind::kSenFile, 31, 0,
       "SEN files: date of birth + 31 years (../shared/domain.md, Data protection)"},
  };
}

ErasureDecision DecideErasure(std::span<const RetentionRule> rules, const RetentionFacts& facts,
                              CivilDate today) {
  ErasureDecision decision;
  const RetentionRule* binding = nullptr;
  for (const RetentionRule& rule : rules) {
    if (!facts.held.count(rule.applies_to)) continue;
    int age = rule.until_age;
    if (facts.aged_17_at_end_of_treatment && rule.until_age_if_17_at_end_of_treatment > 0) {
      age = rule.until_age_if_17_at_end_of_treatment;
    }
    const CivilDate until = Birthday(facts.date_of_birth, age);
    if (binding == nullptr || until > decision.retained_until) {
      binding = &rule;
      decision.retained_until = until;
    }
  }
  if (binding == nullptr) {
    decision.allowed = true;
    decision.reason = "no retention rule applies to the records held";
    return decision;
  }
  decision.rule = binding->id;
  decision.allowed = today >= decision.retained_until;
  decision.reason = (decision.allowed ? "retention under " : "records must be kept under ") +
                    binding->id + " (" + binding->source + ") until " +
                    Iso(decision.retained_until);
  return decision;
}

}  // namespace pathway::workflow
