// Statutory retention: whether a subject's records may be erased yet, and if not, which
// rule keeps them and until when (docs/tell-it-once.md, section 6). Rules are data (the
// defaults below, from ../shared/domain.md; a deployment may configure others). Pure
// functions, thread-safe.
#pragma once

#include <set>
#include <span>
#include <string>
#include <vector>

#include "workflow/calendar.h"

namespace pathway::workflow {

enum class RecordKind {
  kHealthRecord = 1,  // NHS records about the child
  kSenFile = 2,       // the local authority's SEN file (EHC needs assessment, plan)
};

struct RetentionRule {
  std::string id;
  RecordKind applies_to = RecordKind::kHealthRecord;
  int until_age = 0;  // kept until this birthday (erasable from that day)
  // Kept until this birthday instead if the young person was 17 when treatment ended
  // (0: no such variant).
  int until_age_if_17_at_end_of_treatment = 0;
  std::string source;
};

struct RetentionFacts {
  CivilDate date_of_birth;
  std::set<RecordKind> held;  // the kinds of record held about the subject
  bool aged_17_at_end_of_treatment = false;
};

struct ErasureDecision {
  bool allowed = false;
  std::string rule;          // the rule that keeps the records longest; empty if none
  CivilDate retained_until;  // from this day erasure is allowed (if a rule applies)
  std::string reason;        // for the requester: the rule, its source and the date
};

// Health records of children: to the 25th birthday, or the 26th if the young person
// was 17 at the end of treatment. SEN files: date of birth + 31 years.
std::vector<RetentionRule> DefaultRetentionRules();

// Every rule for a kind of record held applies; the latest end date binds. Allowed
// from that day on (Birthday: a 29 February birthday falls on 1 March).
ErasureDecision DecideErasure(std::span<const RetentionRule> rules, const RetentionFacts& facts,
                              CivilDate today);

}  // namespace pathway::workflow
