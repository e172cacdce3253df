// EHC needs assessment, version 1. The Special Educational Needs and Disability
// Regulations 2014 (SI 2014/1530) and the SEND Code of Practice (2015), chapter 9.
#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kReceived = "request_received";
constexpr std::string_view kAssessing = "assessing";
constexpr std::string_view kRefused = "refused_to_assess";
constexpr std::string_view kNotIssued = "not_issued";
constexpr std::string_view kDraft = "draft_plan_issued";
constexpr std::string_view kIssued = "plan_issued";
constexpr std::string_view kWithdrawn = "withdrawn";

constexpr const char* kReg5 = "SEND Regulations 2014 reg 5(1)";
constexpr const char* kReg8 = "SEND Regulations 2014 reg 8(1)";
constexpr const char* kReg10 = "SEND Regulations 2014 reg 10(1)";
constexpr const char* kReg13 = "SEND Regulations 2014 reg 13(2)";

std::string AdviceDeadline(v1::AdviceSource source) {
  return "advice_" + EnumSuffix(v1::AdviceSource_Name(source), "ADVICE_SOURCE_");
}

// The clock for the 16 and 20-week limits runs from the request (reg 5(1), 10, 13).
CivilDate RequestDate(const StepInput& in) { return StoredDate(in.instance->started_on()); }

StepResult Requested(const StepInput& in) {
  const auto& c = in.command.ehc_assessment_requested();
  Outcome out;
  out.to_state = kReceived;
  out.facts.push_back(MakeFact(
      "requested_by", EnumSuffix(v1::EhcRequester_Name(c.requested_by()), "EHC_REQUESTER_")));
  out.set.push_back({"decision_to_assess", AddWeeks(in.on, 6), kReg5, true});
  return out;
}

// A decision to assess on `in.on`: the 16 and 20-week clocks run from the request.
Outcome Assess(const StepInput& in) {
  Outcome out;
  out.met.push_back("decision_to_assess");
  out.to_state = kAssessing;
  out.facts.push_back(MakeFact("decision", "assess"));
  out.facts.push_back(MakeFact("decided_on", FormatDate(in.on)));
  CivilDate requested = RequestDate(in);
  out.set.push_back({"issue_decision", AddWeeks(requested, 16), kReg10, true});
  out.set.push_back({"final_plan", AddWeeks(requested, 20), kReg13, true});
  return out;
}

// A step of the assessment dated before the decision to assess rewrites history.
std::optional<Rejection> BeforeDecision(const StepInput& in) {
  auto decided = ParseDate(FactValue(*in.instance, "decided_on"));
  if (!decided || in.on >= *decided) return std::nullopt;
  return Rejection{CommandDateField(in.command), "date.before_previous_step",
                   "this date is before the decision to assess (" + FormatDate(*decided) + ")"};
}

StepResult Decided(const StepInput& in) {
  const auto& c = in.command.ehc_assessment_decided();
  Outcome out;
  out.met.push_back("decision_to_assess");
  switch (c.decision()) {
    case v1::ASSESSMENT_DECISION_ASSESS:
      return Assess(in);
    case v1::ASSESSMENT_DECISION_REFUSE:
      if (!c.appeal_rights_given()) {
        return Rejection{"ehc_assessment_decided.appeal_rights_given", "appeal_rights.required",
                         "a decision not to assess must tell the family of their right to "
                         "appeal (SEND Regulations 2014 reg 5(3))"};
      }
      out.to_state = kRefused;
      out.facts.push_back(MakeFact("decision", "refuse"));
      return out;
    default:  // UNSPECIFIED is rejected as required (the schema marks it)
      return UnknownValue("ehc_assessment_decided.decision");
  }
}

StepResult AdviceRequested(const StepInput& in) {
  const auto& c = in.command.ehc_advice_requested();
  if (auto r = BeforeDecision(in)) return *r;
  std::string name = AdviceDeadline(c.source());
  if (const auto* d = FindDeadline(*in.instance, name)) {
    if (d->status() == v1::DEADLINE_STATUS_PENDING) {
      return Rejection{"ehc_advice_requested.source", "advice.already_requested",
                       "this advice was requested on " + FormatDate(StoredDate(d->set_on())) +
                           " and is still awaited"};
    }
    if (d->status() == v1::DEADLINE_STATUS_MET) {
      return Rejection{"ehc_advice_requested.source", "advice.already_received",
                       "this advice was received on " + FormatDate(StoredDate(d->met_on())) +
                           ": advice that exists is not sought again (SEND Regulations 2014 "
                           "reg 6(4))"};
    }
  }
  Outcome out;
  out.facts.push_back(MakeFact("advice_requested", name.substr(7)));
  out.set.push_back({name, AddWeeks(in.on, 6), kReg8, false});
  return out;
}

StepResult AdviceReceived(const StepInput& in) {
  const auto& c = in.command.ehc_advice_received();
  std::string name = AdviceDeadline(c.source());
  const auto* d = FindDeadline(*in.instance, name);
  if (!d || d->status() == v1::DEADLINE_STATUS_CANCELLED) {
    return Rejection{"ehc_advice_received.source", "advice.not_requested",
                     "no request for this advice is awaiting a reply"};
  }
  if (d->status() == v1::DEADLINE_STATUS_MET) {
    return Rejection{"ehc_advice_received.source", "advice.already_received",
                     "this advice was received on " + FormatDate(StoredDate(d->met_on()))};
  }
  // Late advice (after a breach) is still recorded: the date it came matters.
  Outcome out;
  out.facts.push_back(MakeFact("advice_received", name.substr(7)));
  out.met.push_back(name);
  return out;
}

StepResult NotToIssue(const StepInput& in) {
  if (!in.command.ehc_decided_not_to_issue().appeal_rights_given()) {
    return Rejection{"ehc_decided_not_to_issue.appeal_rights_given", "appeal_rights.required",
                     "a decision not to issue a plan must tell the family of their right to "
                     "appeal (SEND Regulations 2014 reg 10(1))"};
  }
  if (auto r = BeforeDecision(in)) return *r;
  Outcome out;
  out.to_state = kNotIssued;
  out.met.push_back("issue_decision");
  out.cancel_all_pending = true;
  return out;
}

StepResult DraftIssued(const StepInput& in) {
  if (auto r = BeforeDecision(in)) return *r;
  Outcome out;
  out.to_state = kDraft;
  out.met.push_back("issue_decision");
  out.facts.push_back(MakeFact("draft_served_on", FormatDate(in.on)));
  return out;
}

StepResult CommentsReceived(const StepInput& in) {
  const auto& c = in.command.ehc_draft_plan_comments_received();
  Outcome out;
  out.facts.push_back(MakeFact("comments_received_on", FormatDate(in.on)));
  if (!c.school_preference().empty()) {
    out.facts.push_back(MakeFact("school_preference", c.school_preference()));
  }
  return out;
}

StepResult FinalIssued(const StepInput& in) {
  // The family has at least 15 days from the day the draft is served to comment and
  // ask for a school (reg 13(1)); the plan may be finalised earlier only once they
  // have responded.
  auto served = ParseDate(FactValue(*in.instance, "draft_served_on"));
  bool responded = !FactValue(*in.instance, "comments_received_on").empty();
  if (served && !responded && in.on < AddDays(*served, 15)) {
    return Rejection{"ehc_final_plan_issued.issued_on", "final_plan.comment_period",
                     "the family has until " + FormatDate(AddDays(*served, 15)) +
                         " to comment on the draft plan served on " + FormatDate(*served) +
                         " (SEND Regulations 2014 reg 13(1))"};
  }
  Outcome out;
  out.to_state = kIssued;
  out.met.push_back("final_plan");
  out.cancel_all_pending = true;
  const auto& c = in.command.ehc_final_plan_issued();
  if (!c.named_setting().empty()) out.facts.push_back(MakeFact("named_setting", c.named_setting()));
  return out;
}

StepResult ExceptionRecorded(const StepInput& in) {
  const auto& c = in.command.ehc_exception_recorded();
  // Recorded and reported, never moving a deadline (reg 10(4)).
  Outcome out;
  out.facts.push_back(MakeFact(
      "exception", EnumSuffix(v1::StatutoryException_Name(c.exception()), "STATUTORY_EXCEPTION_")));
  return out;
}

StepResult Withdrawn(const StepInput&) {
  Outcome out;
  out.to_state = kWithdrawn;
  out.cancel_all_pending = true;
  return out;
}

// ---- Implied steps (docs/pathways.md): a later step shows these happened; each is dated
// the later step's date and checks only what the dates known allow.

// Advice, a draft or a decision not to issue exist only in an assessment.
StepResult AssessImplied(const StepInput& in) { return Assess(in); }

// Advice received for a source with no request awaiting it: the request was made.
bool AdviceNotRequested(const StepInput& in) {
  const auto source = in.command.ehc_advice_received().source();
  if (source == v1::ADVICE_SOURCE_UNSPECIFIED) return false;  // the step itself rejects it
  const auto* d = FindDeadline(*in.instance, AdviceDeadline(source));
  return !d || d->status() == v1::DEADLINE_STATUS_CANCELLED;
}

StepResult AdviceRequestedImplied(const StepInput& in) {
  std::string name = AdviceDeadline(in.command.ehc_advice_received().source());
  Outcome out;
  out.facts.push_back(MakeFact("advice_requested", name.substr(7)));
  out.set.push_back({name, AddWeeks(in.on, 6), kReg8, false});
  return out;
}

StepResult DraftImplied(const StepInput& in) {
  if (auto r = BeforeDecision(in)) return *r;
  // The day the draft was served is not known: no draft_served_on, so the 15-day comment
  // period is not checked against a date nobody gave (the warning says so).
  Outcome out;
  out.to_state = kDraft;
  out.met.push_back("issue_decision");
  out.warnings.push_back(
      "the 15-day comment period on the draft plan (reg 13(1)) cannot be checked");
  return out;
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT;
  d.version = 1;
  d.name = "ehc_needs_assessment";
  d.title = "EHC needs assessment";
  d.states = {kReceived, kAssessing, kRefused, kDraft, kNotIssued, kIssued, kWithdrawn};
  d.terminal = {kRefused, kNotIssued, kIssued, kWithdrawn};
  // The 20 weeks from the request to the final plan (or the decision not to issue).
  d.waiting = {kReceived, kAssessing, kDraft};
  d.transitions = {
      {"request_received",
       {},
       {kReceived},
       "request received (6-week decision clock)",
       Requested,
       {"ehc_assessment_requested", "request_id", "received_on"}},
      {"decision_to_assess",
       {kReceived},
       {kAssessing, kRefused},
       "decide whether to assess",
       Decided,
       {"ehc_assessment_decided", "request_id", "decided_on"},
       {},
       AssessImplied},
      {"advice_requested",
       {kAssessing},
       {kAssessing},
       "advice requested (6 weeks)",
       AdviceRequested,
       {"ehc_advice_requested", "request_id", "requested_on"},
       {{"decision_to_assess", kAssessing}},
       AdviceRequestedImplied},
      {"advice_received",
       {kAssessing, kDraft},
       {},
       "advice received",
       AdviceReceived,
       {"ehc_advice_received", "request_id", "received_on"},
       {{"decision_to_assess", kAssessing}, {"advice_requested", kAssessing, AdviceNotRequested}}},
      {"decided_not_to_issue",
       {kAssessing},
       {kNotIssued},
       "decide not to issue (16 weeks)",
       NotToIssue,
       {"ehc_decided_not_to_issue", "request_id", "decided_on"},
       {{"decision_to_assess", kAssessing}}},
      {"draft_plan_issued",
       {kAssessing},
       {kDraft},
       "draft plan served (15 days to comment)",
       DraftIssued,
       {"ehc_draft_plan_issued", "request_id", "served_on"},
       {{"decision_to_assess", kAssessing}},
       DraftImplied},
      {"draft_plan_comments_received",
       {kDraft},
       {},
       "family comments and school preference",
       CommentsReceived,
       {"ehc_draft_plan_comments_received", "request_id", "received_on"},
       {{"draft_plan_issued", kDraft}}},
      {"final_plan_issued",
       {kDraft},
       {kIssued},
       "final plan issued (20 weeks)",
       FinalIssued,
       {"ehc_final_plan_issued", "request_id", "issued_on"},
       {{"draft_plan_issued", kDraft}}},
      {"exception_recorded",
       {kReceived, kAssessing, kDraft},
       {},
       "reg 10(4) exception recorded",
       ExceptionRecorded,
       {"ehc_exception_recorded", "request_id", "recorded_on"}},
      {"request_withdrawn",
       {kReceived, kAssessing, kDraft},
       {kWithdrawn},
       "request withdrawn",
       Withdrawn,
       {"ehc_request_withdrawn", "request_id", "withdrawn_on"}},
  };
  // Tell it once: what the assessment needs from the family, asked for only if the
  // shared record cannot give it. From the decision to assess: the parent's advice and
  // views (reg 6(1)(a)), the child's own views, wishes and feelings (reg 7; Children and
  // Families Act 2014 s19(a)), the diagnoses and advice that already exist, which are
  // not sought again (reg 6(4)), and the setting the child attends, whose head teacher
  // gives educational advice (reg 6(1)(b)). A refusal ends the pathway and asks nothing.
  d.needs = {
      {"decision_to_assess",
       {{v1::FACT_TYPE_FAMILY_VIEWS, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_ALL_ABOUT_ME, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_DIAGNOSES, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_CURRENT_SETTING, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_EXISTING_ADVICE, v1::RESPONDENT_FAMILY}}},
  };
  return d;
}
}  // namespace

const Definition& EhcNeedsAssessmentV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
