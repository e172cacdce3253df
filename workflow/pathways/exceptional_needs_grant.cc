// Exceptional Needs Grant, version 1.
//
// A local scheme, not a statutory one (domain.md, "Other local mechanisms"): funding
// decided at cluster forums for 1 or 2 years, at the same threshold as an EHC plan
// (Children and Families Act 2014 s37) and moderated against EHC plan decisions. No
// statute sets a clock, so the only deadline is the scheme's own: a funded grant is
// reviewed before its funding ends. A review may renew it, end it, or end it because an
// EHC needs assessment is to be requested instead (Children and Families Act 2014 s36);
// that request is a separate pathway the council starts, not one this pathway opens.
#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;
using std::chrono::sys_days;

constexpr std::string_view kApplied = "applied";
constexpr std::string_view kFunded = "funded";
constexpr std::string_view kDeclined = "declined";
constexpr std::string_view kEnded = "ended";
constexpr std::string_view kEndedForEhc = "ended_for_ehc_assessment";

constexpr const char* kReviewDeadline = "grant_review";
constexpr const char* kReviewRule =
    "local Exceptional Needs Grant scheme: review before the funded period ends";

// The last funded day of a grant of `years` years from `from`: the day before the
// anniversary. The anniversary of 29 February is 1 March in a common year (as for a
// birthday), so a year from 29 Feb 2024 is funded to 28 Feb 2025. Calendar months
// (AddMonths, which clamps 29 Feb to 28 Feb) would end it on 27 Feb 2025, a day short.
CivilDate FundedTo(CivilDate from, int years) { return AddDays(Birthday(from, years), -1); }

std::optional<Rejection> CheckYears(int32_t years, const char* field) {
  if (years == 1 || years == 2) return std::nullopt;
  return Rejection{field, "grant.years",
                   "an Exceptional Needs Grant is funded for 1 or 2 years (local scheme)"};
}

// The funding facts and the review deadline of a period from `from` for `years`.
void Fund(Outcome& out, CivilDate from, int years) {
  CivilDate to = FundedTo(from, years);
  out.facts.push_back(MakeFact("years", std::to_string(years)));
  out.facts.push_back(MakeFact("funded_from", FormatDate(from)));
  out.facts.push_back(MakeFact("funded_to", FormatDate(to)));
  out.set.push_back({kReviewDeadline, to, kReviewRule, false});
}

StepResult Applied(const StepInput& in) {
  const auto& c = in.command.eng_applied();
  Outcome out;
  out.to_state = kApplied;
  out.facts.push_back(MakeFact("cluster", c.cluster()));
  return out;
}

StepResult Decided(const StepInput& in) {
  const auto& c = in.command.eng_decided();
  Outcome out;
  switch (c.decision()) {
    case v1::GRANT_DECISION_FUNDED: {
      if (auto r = CheckYears(c.years(), "eng_decided.years")) return *r;
      // Funding runs from the forum's decision unless the forum names another start
      // (e.g. the next term); it cannot start before the school applied.
      CivilDate from = in.on;
      if (c.has_funded_from()) {
        auto f = ToCivil(c.funded_from());
        if (!f) {
          return Rejection{"eng_decided.funded_from", "date.calendar",
                           "this is not a real calendar date"};
        }
        from = *f;
      }
      CivilDate applied = StoredDate(in.instance->started_on());
      if (sys_days{from} < sys_days{applied}) {
        return Rejection{
            "eng_decided.funded_from", "grant.funded_before_application",
            "funding cannot start before the application (" + FormatDate(applied) + ")"};
      }
      out.to_state = kFunded;
      out.facts.push_back(MakeFact("decision", "funded"));
      Fund(out, from, c.years());
      return out;
    }
    case v1::GRANT_DECISION_DECLINED:
      out.to_state = kDeclined;
      out.facts.push_back(MakeFact("decision", "declined"));
      return out;
    default:  // UNSPECIFIED is rejected as required (the schema marks it)
      return UnknownValue("eng_decided.decision");
  }
}

StepResult Reviewed(const StepInput& in) {
  const auto& c = in.command.eng_reviewed();
  Outcome out;
  // A late review (after the grant ended and the deadline was breached) still records
  // the date it happened.
  out.met.push_back(kReviewDeadline);
  switch (c.outcome()) {
    case v1::GRANT_REVIEW_OUTCOME_RENEWED: {
      if (auto r = CheckYears(c.years(), "eng_reviewed.years")) return *r;
      // The new period follows on from the old one, whenever the review happened, so a
      // renewal leaves no gap and never overlaps.
      const auto* d = FindDeadline(*in.instance, kReviewDeadline);
      auto old_to = d ? ToCivil(d->due()) : std::nullopt;
      if (!old_to) old_to = ParseDate(FactValue(*in.instance, "funded_to"));
      if (!old_to) old_to = in.on;  // funding implied by this review: its period is unknown
      out.to_state = kFunded;
      out.facts.push_back(MakeFact("review_outcome", "renewed"));
      Fund(out, AddDays(*old_to, 1), c.years());
      return out;
    }
    case v1::GRANT_REVIEW_OUTCOME_ENDED:
      out.to_state = kEnded;
      out.facts.push_back(MakeFact("review_outcome", "ended"));
      out.cancel_all_pending = true;
      return out;
    case v1::GRANT_REVIEW_OUTCOME_EHC_ASSESSMENT_REQUESTED:
      out.to_state = kEndedForEhc;
      out.facts.push_back(MakeFact("review_outcome", "ehc_assessment_requested"));
      // For reporting and the caseworker: an EHC needs assessment request should follow
      // (Children and Families Act 2014 s36). It is not opened from here.
      out.facts.push_back(MakeFact("ehc_request_to_follow", "true"));
      out.cancel_all_pending = true;
      return out;
    default:  // UNSPECIFIED is rejected as required (the schema marks it)
      return UnknownValue("eng_reviewed.outcome");
  }
}

// Implied (docs/pathways.md): a review shows the forum funded the grant. Its period is
// not known, so no review deadline is set; a renewal runs on from the review's date.
StepResult FundedImplied(const StepInput&) {
  Outcome out;
  out.to_state = kFunded;
  out.facts.push_back(MakeFact("decision", "funded"));
  out.warnings.push_back("the funded period is not known: no grant review deadline was set");
  return out;
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_EXCEPTIONAL_NEEDS_GRANT;
  d.version = 1;
  d.name = "exceptional_needs_grant";
  d.title = "Exceptional Needs Grant";
  d.states = {kApplied, kFunded, kDeclined, kEnded, kEndedForEhc};
  d.terminal = {kDeclined, kEnded, kEndedForEhc};
  d.waiting = {kApplied};
  d.transitions = {
      {"applied",
       {},
       {kApplied},
       "application to the cluster forum",
       Applied,
       {"eng_applied", "application_id", "applied_on"}},
      {"decided",
       {kApplied},
       {kFunded, kDeclined},
       "cluster forum decides (funded 1 or 2 years, or declined)",
       Decided,
       {"eng_decided", "application_id", "decided_on"},
       {},
       FundedImplied},
      {"reviewed",
       {kFunded},
       {kFunded, kEnded, kEndedForEhc},
       "reviewed before the funding ends",
       Reviewed,
       {"eng_reviewed", "application_id", "reviewed_on"},
       {{"decided", kFunded}}},
  };
  // Tell it once: the cluster forum decides on the setting's costed provision (what it
  // already provides and what the grant would add), asked of the setting only if the
  // shared record does not hold a current one.
  d.needs = {
      {"applied", {{v1::FACT_TYPE_COSTED_PROVISION, v1::RESPONDENT_CURRENT_SETTING}}},
  };
  return d;
}
}  // namespace

const Definition& ExceptionalNeedsGrantV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
