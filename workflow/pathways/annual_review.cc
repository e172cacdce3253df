// Review of an EHC plan (the annual review) and phase transfer, version 1.
//
// Children and Families Act 2014 s44 (review at least every 12 months), s45 (ceasing to
// maintain a plan) and s51 (appeals); the Special Educational Needs and Disability
// Regulations 2014 (SI 2014/1530): reg 18 (review and amendment before a transfer between
// phases of education), regs 20 and 21 (the review meeting, its notice, report and the
// local authority's decision), reg 22 (amending a plan after a review); the SEND Code of
// Practice (2015) paragraphs 9.166-9.200; R (L and others) v Devon County Council [2022]
// EWHC 493 (Admin) (proposed amendments go with the decision to amend).
//
// Regulation 21 (a child or young person attending no school or institution) sets the same
// notice, Year 9 and report limits as regulation 20, so one definition serves both.
#include <algorithm>
#include <optional>

#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kDue = "review_due";
constexpr std::string_view kScheduled = "meeting_scheduled";
constexpr std::string_view kHeld = "meeting_held";
constexpr std::string_view kReported = "report_sent";
constexpr std::string_view kAmending = "amending";
constexpr std::string_view kProposed = "amendment_proposed";
constexpr std::string_view kMaintained = "maintained";
constexpr std::string_view kAmended = "amended";
constexpr std::string_view kCeased = "ceased";

constexpr const char* kS44 = "Children and Families Act 2014 s44(1)";
constexpr const char* kReg20Report = "SEND Regulations 2014 reg 20(7)";
constexpr const char* kReg20Decision = "SEND Regulations 2014 reg 20(10)";
constexpr const char* kDevon =
    "SEND Regulations 2014 reg 20(10) with reg 22(2); R (L) v Devon CC [2022] EWHC 493 (Admin)";
constexpr const char* kReg22 = "SEND Regulations 2014 reg 22(3)";

// A date this instance recorded earlier as a fact ("YYYY-MM-DD"), if any.
std::optional<CivilDate> FactDate(const StepInput& in, std::string_view key) {
  return ParseDate(FactValue(*in.instance, key));
}

Rejection NotACalendarDate(std::string field) {
  return {std::move(field), "date.calendar", "this is not a real calendar date"};
}

// A step dated before the step it follows would rewrite the order of events.
std::optional<Rejection> NotBefore(const StepInput& in, std::string_view fact, std::string field,
                                   std::string_view what) {
  auto earlier = FactDate(in, fact);
  if (!earlier || in.on >= *earlier) return std::nullopt;
  return Rejection{
      std::move(field), "date.before_previous_step",
      "this date is before the " + std::string(what) + " (" + FormatDate(*earlier) + ")"};
}

StepResult ReviewDue(const StepInput& in) {
  const auto& c = in.command.annual_review_due();
  std::optional<CivilDate> dob;
  if (c.has_date_of_birth()) {
    dob = ToCivil(c.date_of_birth());
    if (!dob) return NotACalendarDate("annual_review_due.date_of_birth");
  } else if (in.case_state.has_date_of_birth()) {
    // Tell it once: the date of birth the child's record already holds.
    dob = ToCivil(in.case_state.date_of_birth());
  }
  if (!dob) return Required("annual_review_due.date_of_birth");
  if (*dob > in.on) {
    return Rejection{"annual_review_due.date_of_birth", "date_of_birth.after_plan",
                     "the date of birth is after the date of the plan or last review"};
  }
  Outcome out;
  out.to_state = kDue;
  // Only what the later steps need is kept, never the date of birth itself.
  out.facts.push_back(MakeFact("year_9_starts_on", FormatDate(StartOfYearGroup(*dob, 9))));
  if (AgeOn(*dob, in.on) < 5) {
    // Code of Practice 9.178: consider reviewing an under-5's plan every 3 to 6 months.
    // Guidance, not a statutory limit: recorded for the caseworker, no deadline.
    out.facts.push_back(MakeFact("review_advised_by", FormatDate(AddMonths(in.on, 6))));
  }
  // s44(1): within 12 months of the plan being made or last reviewed. AddMonths clamps a
  // day the month lacks to its last day (29 Feb 2024 -> 28 Feb 2025).
  out.set.push_back({"annual_review", AddMonths(in.on, 12), kS44, false});
  return out;
}

StepResult MeetingScheduled(const StepInput& in) {
  const auto& c = in.command.annual_review_meeting_scheduled();
  auto meeting = ToCivil(c.meeting_on());
  if (!meeting) return NotACalendarDate("annual_review_meeting_scheduled.meeting_on");
  if (*meeting < in.on) {
    return Rejection{"annual_review_meeting_scheduled.meeting_on", "review.meeting_before_notice",
                     "the meeting date " + FormatDate(*meeting) +
                         " is before the notice of it was sent (" + FormatDate(in.on) + ")"};
  }
  CivilDate latest_notice = AddWeeks(*meeting, -2);
  if (in.on > latest_notice) {
    return Rejection{"annual_review_meeting_scheduled.notice_sent_on", "review.notice_period",
                     "a review meeting on " + FormatDate(*meeting) + " needs notice sent by " +
                         FormatDate(latest_notice) +
                         ": at least two weeks' notice of the date (SEND Regulations 2014 "
                         "reg 20(3))"};
  }
  // A rescheduled meeting is a new notice: the latest facts win.
  Outcome out;
  out.to_state = kScheduled;
  out.facts.push_back(MakeFact("notice_sent_on", FormatDate(in.on)));
  out.facts.push_back(MakeFact("meeting_on", FormatDate(*meeting)));
  return out;
}

// A meeting held on `in.on`: the 12-month review is met and the report and decision
// clocks start from it (reg 20(7), 20(10)).
Outcome Held(const StepInput& in) {
  Outcome out;
  out.to_state = kHeld;
  out.facts.push_back(MakeFact("held_on", FormatDate(in.on)));
  out.met.push_back("annual_review");
  out.set.push_back({"review_report", AddWeeks(in.on, 2), kReg20Report, false});
  out.set.push_back({"review_decision", AddWeeks(in.on, 4), kReg20Decision, false});
  return out;
}

// The meeting may move within the notice (a later date), never to less than the two
// weeks the family were given (reg 20(3)), whether it was reported or is implied.
std::optional<Rejection> WithinNotice(const StepInput& in) {
  auto notice = FactDate(in, "notice_sent_on");
  if (!notice || in.on >= AddWeeks(*notice, 2)) return std::nullopt;
  return Rejection{CommandDateField(in.command), "review.notice_period",
                   "the meeting was held less than two weeks after its notice was sent on " +
                       FormatDate(*notice) + " (SEND Regulations 2014 reg 20(3))"};
}

StepResult MeetingHeld(const StepInput& in) {
  const auto& c = in.command.annual_review_meeting_held();
  if (auto r = WithinNotice(in)) return *r;
  auto year_9 = FactDate(in, "year_9_starts_on");
  bool in_year_9_or_above = year_9 && in.on >= *year_9;
  if (in_year_9_or_above && !c.preparing_for_adulthood_discussed()) {
    return Rejection{"annual_review_meeting_held.preparing_for_adulthood_discussed",
                     "review.preparing_for_adulthood",
                     "from Year 9 the review meeting must consider the provision needed to "
                     "prepare for adulthood and independent living (SEND Regulations 2014 "
                     "reg 20(6))"};
  }
  Outcome out = Held(in);
  if (c.preparing_for_adulthood_discussed()) {
    out.facts.push_back(MakeFact("preparing_for_adulthood", "discussed"));
  }
  return out;
}

StepResult ReportSent(const StepInput& in) {
  if (auto r = NotBefore(in, "held_on", CommandDateField(in.command), "review meeting")) {
    return *r;
  }
  Outcome out;
  out.to_state = kReported;
  out.facts.push_back(MakeFact("report_sent_on", FormatDate(in.on)));
  out.met.push_back("review_report");
  return out;
}

// A decision to amend. Devon: the notice of a decision to amend must carry the proposed
// amendments, so they are due with the decision: within four weeks of the meeting, or
// the day of a decision that is itself late.
void Amend(const StepInput& in, Outcome& out) {
  out.to_state = kAmending;
  out.facts.push_back(MakeFact("decision", "amend"));
  CivilDate due = AddWeeks(FactDate(in, "held_on").value_or(in.on), 4);
  if (in.on > due) due = in.on;
  out.set.push_back({"amendment_proposal", due, kDevon, false});
}

// What every decision records, after the report it follows (reg 20(10): the authority
// reviews the plan in the light of the meeting's report).
std::optional<Rejection> DecisionCommon(const StepInput& in, Outcome& out) {
  if (auto r =
          NotBefore(in, "report_sent_on", CommandDateField(in.command), "review report was sent")) {
    return r;
  }
  out.met.push_back("review_decision");
  out.facts.push_back(MakeFact("decided_on", FormatDate(in.on)));
  return std::nullopt;
}

StepResult Decided(const StepInput& in) {
  const auto& c = in.command.annual_review_decided();
  Outcome out;
  if (auto r = DecisionCommon(in, out)) return *r;
  switch (c.decision()) {
    case v1::REVIEW_DECISION_MAINTAIN:
      out.to_state = kMaintained;
      out.facts.push_back(MakeFact("decision", "maintain"));
      // reg 18: "review and amend where necessary": a plan reviewed and kept as it is
      // meets the phase transfer deadline.
      out.met.push_back("phase_transfer");
      out.cancel_all_pending = true;
      return out;
    case v1::REVIEW_DECISION_AMEND:
      Amend(in, out);
      return out;
    case v1::REVIEW_DECISION_CEASE:
      if (!c.appeal_rights_given()) {
        return Rejection{"annual_review_decided.appeal_rights_given", "appeal_rights.required",
                         "a decision to cease to maintain a plan must tell the family of their "
                         "right to appeal (Children and Families Act 2014 s51(2)(f); SEND "
                         "Regulations 2014 reg 31(2))"};
      }
      out.to_state = kCeased;
      out.facts.push_back(MakeFact("decision", "cease"));
      out.cancel_all_pending = true;
      return out;
    default:  // UNSPECIFIED is rejected as required (the schema marks it)
      return UnknownValue("annual_review_decided.decision");
  }
}

// Amendments proposed on `in.on` (meeting the Devon deadline, starting reg 22(3)'s 8 weeks).
StepResult Proposal(const StepInput& in, Outcome out) {
  if (auto r = NotBefore(in, "decided_on", CommandDateField(in.command), "decision to amend")) {
    return *r;
  }
  out.to_state = kProposed;
  out.met.push_back("amendment_proposal");
  out.set.push_back({"amended_plan", AddWeeks(in.on, 8), kReg22, false});
  return out;
}

StepResult AmendmentProposed(const StepInput& in) {
  Outcome out;
  out.facts.push_back(MakeFact("proposed_on", FormatDate(in.on)));
  return Proposal(in, std::move(out));
}

StepResult AmendmentComments(const StepInput& in) {
  if (auto r = NotBefore(in, "proposed_on", CommandDateField(in.command),
                         "proposed amendments were sent")) {
    return *r;
  }
  Outcome out;
  out.facts.push_back(MakeFact("comments_received_on", FormatDate(in.on)));
  return out;
}

StepResult AmendedPlanIssued(const StepInput& in) {
  // reg 22(2)(c): at least 15 days, beginning with the day the proposal was sent, for the
  // family to comment and ask for a school; earlier only once they have responded (the
  // same rule as a new plan's draft, reg 13(1)).
  auto proposed = FactDate(in, "proposed_on");
  bool responded = !FactValue(*in.instance, "comments_received_on").empty();
  if (proposed && !responded && in.on < AddDays(*proposed, 15)) {
    return Rejection{"amended_plan_issued.issued_on", "amended_plan.comment_period",
                     "the family has until " + FormatDate(AddDays(*proposed, 15)) +
                         " to comment on the amendments proposed on " + FormatDate(*proposed) +
                         " (SEND Regulations 2014 reg 22(2)(c))"};
  }
  Outcome out;
  out.to_state = kAmended;
  out.met.push_back("amended_plan");
  out.met.push_back("phase_transfer");
  out.cancel_all_pending = true;
  return out;
}

StepResult PhaseTransferDue(const StepInput& in) {
  const auto& c = in.command.phase_transfer_due();
  auto moves = ToCivil(c.moves_on());
  if (!moves) return NotACalendarDate("phase_transfer_due.moves_on");
  // Judged on the day the transfer was recorded (recorded_on), not on the day the
  // message arrived: a late message must not turn a future move into a past one.
  if (*moves <= in.on) {
    return Rejection{"phase_transfer_due.moves_on", "phase_transfer.move_date_passed",
                     "the move date " + FormatDate(*moves) +
                         " is not after the day it was "
                         "recorded (" +
                         FormatDate(in.on) + "): a transfer is recorded before it happens"};
  }
  // reg 18(1) applies "within 12 months of a transfer": a move further off belongs to a
  // later review, and recording it here would let this review meet its deadline.
  if (*moves > AddMonths(in.on, 12)) {
    return Rejection{"phase_transfer_due.moves_on", "phase_transfer.not_within_12_months",
                     "the move on " + FormatDate(*moves) +
                         " is more than 12 months away: record it on the review held within "
                         "12 months of the transfer (SEND Regulations 2014 reg 18(1))"};
  }
  CivilDate due;
  const char* rule = nullptr;
  switch (c.transfer()) {
    case v1::PHASE_TRANSFER_SECONDARY_TO_POST16:
      due = moves->year() / std::chrono::March / 31;
      rule = "SEND Regulations 2014 reg 18(1)(a)";
      break;
    case v1::PHASE_TRANSFER_POST16_TO_POST16:
      // "At least five months before": AddMonths clamps to the month's end, which only
      // ever moves the date earlier (31 Jul -> 28 Feb), never short of five months.
      due = AddMonths(*moves, -5);
      rule = "SEND Regulations 2014 reg 18(2)";
      break;
    default:
      due = moves->year() / std::chrono::February / 15;
      rule = "SEND Regulations 2014 reg 18(1)(b)";
      break;
  }
  std::string transfer = EnumSuffix(v1::PhaseTransfer_Name(c.transfer()), "PHASE_TRANSFER_");
  std::string moves_on = FormatDate(*moves);
  const auto* existing = FindDeadline(*in.instance, "phase_transfer");
  if (existing && FactValue(*in.instance, "transfer") == transfer &&
      FactValue(*in.instance, "moves_on") == moves_on) {
    return Rejection{
        "phase_transfer_due.moves_on", "phase_transfer.already_recorded",
        "this transfer (" + transfer + ", moving on " + moves_on + ") is already recorded"};
  }
  Outcome out;
  out.facts.push_back(MakeFact("transfer", transfer));
  out.facts.push_back(MakeFact("moves_on", moves_on));
  // A changed transfer replaces the old deadline, openly: the old one ends superseded,
  // naming the one that replaced it, never silently moved. Same due date: the deadline
  // stands as it is. One already breached stays breached: it was missed when it applied.
  bool pending = existing && existing->status() == v1::DEADLINE_STATUS_PENDING;
  if (pending && ToCivil(existing->due()) == due && existing->rule() == rule) return out;
  if (pending) out.supersede.push_back({"phase_transfer", "phase_transfer"});
  // A deadline already past when the transfer is first recorded is still set: the breach
  // is real and must be reported, not refused.
  out.set.push_back({"phase_transfer", due, rule, false});
  return out;
}

// ---- Implied steps (docs/pathways.md): a later step shows these happened; each is dated
// the later step's date and checks only what the dates known allow.

StepResult ScheduledImplied(const StepInput&) {
  // No notice date is known, so no notice facts: the held meeting's notice check
  // (reg 20(3)) has nothing to check against, which the warning says.
  Outcome out;
  out.to_state = kScheduled;
  out.warnings.push_back("the two weeks' notice of the meeting (reg 20(3)) cannot be checked");
  return out;
}

StepResult HeldImplied(const StepInput& in) {
  if (auto r = WithinNotice(in)) return *r;
  Outcome out = Held(in);
  auto year_9 = FactDate(in, "year_9_starts_on");
  if (year_9 && in.on >= *year_9) {
    out.warnings.push_back(
        "whether the meeting considered preparing for adulthood (reg 20(6)) is not known");
  }
  return out;
}

// The report is implied by the decision; ReportSent checks only recorded dates.
StepResult ReportImplied(const StepInput& in) { return ReportSent(in); }

// Proposed amendments imply a decision to amend.
StepResult DecidedImplied(const StepInput& in) {
  Outcome out;
  if (auto r = DecisionCommon(in, out)) return *r;
  Amend(in, out);
  return out;
}

StepResult ProposedImplied(const StepInput& in) {
  // The day the proposal was sent is not known: no proposed_on, so the 15-day comment
  // period (reg 22(2)(c)) is not checked against a date that was never given.
  Outcome out;
  out.warnings.push_back(
      "the 15-day comment period on the proposed amendments (reg 22(2)(c)) cannot be checked");
  return Proposal(in, std::move(out));
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_ANNUAL_REVIEW;
  d.version = 1;
  d.name = "annual_review";
  d.title = "review of an EHC plan";
  d.states = {kDue,      kScheduled,  kHeld,    kReported, kAmending,
              kProposed, kMaintained, kAmended, kCeased};
  d.terminal = {kMaintained, kAmended, kCeased};
  d.transitions = {
      {"review_due",
       {},
       {kDue},
       "review due (12 months from plan or last review)",
       ReviewDue,
       {"annual_review_due", "review_id", "plan_or_last_review_on"}},
      {"meeting_scheduled",
       {kDue, kScheduled},
       {kScheduled},
       "meeting arranged (2 weeks' notice)",
       MeetingScheduled,
       {"annual_review_meeting_scheduled", "review_id", "notice_sent_on"},
       {},
       ScheduledImplied},
      {"meeting_held",
       {kScheduled},
       {kHeld},
       "meeting held (preparing for adulthood from Year 9)",
       MeetingHeld,
       {"annual_review_meeting_held", "review_id", "held_on"},
       {{"meeting_scheduled", kScheduled}},
       HeldImplied},
      {"report_sent",
       {kHeld},
       {kReported},
       "report sent (2 weeks)",
       ReportSent,
       {"annual_review_report_sent", "review_id", "sent_on"},
       {{"meeting_held", kHeld}},
       ReportImplied},
      {"review_decided",
       {kReported},
       {kMaintained, kAmending, kCeased},
       "maintain, amend or cease (4 weeks)",
       Decided,
       {"annual_review_decided", "review_id", "decided_on"},
       {{"report_sent", kReported}},
       DecidedImplied},
      {"amendment_proposed",
       {kAmending},
       {kProposed},
       "amendments proposed (15 days to comment)",
       AmendmentProposed,
       {"plan_amendment_proposed", "review_id", "proposed_on"},
       {{"review_decided", kAmending}},
       ProposedImplied},
      {"amendment_comments_received",
       {kProposed},
       {},
       "family comments and school preference",
       AmendmentComments,
       {"plan_amendment_comments_received", "review_id", "received_on"},
       {{"amendment_proposed", kProposed}}},
      {"amended_plan_issued",
       {kProposed},
       {kAmended},
       "amended plan issued (8 weeks)",
       AmendedPlanIssued,
       {"amended_plan_issued", "review_id", "issued_on"},
       {{"amendment_proposed", kProposed}}},
      {"phase_transfer_due",
       {kDue, kScheduled, kHeld, kReported, kAmending, kProposed},
       {},
       "phase transfer recorded (15 Feb, 31 Mar or 5 months before)",
       PhaseTransferDue,
       {"phase_transfer_due", "review_id", "recorded_on"}},
  };
  // Tell it once: what the review needs, asked for only if the shared record cannot
  // give it. Whoever arranges the meeting obtains advice and information from those
  // invited, the parent and the head teacher among them, and circulates it two weeks
  // before (SEND Regulations 2014 reg 20(2) and (4)); the child's and parent's views,
  // wishes and feelings are taken into account (reg 19(a); Children and Families Act
  // 2014 s19(a)). The current setting's account comes from the setting itself.
  d.needs = {
      {"meeting_scheduled",
       {{v1::FACT_TYPE_FAMILY_VIEWS, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_ALL_ABOUT_ME, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_CURRENT_SETTING, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_SCHOOL_OBSERVATIONS, v1::RESPONDENT_CURRENT_SETTING}}},
  };
  return d;
}
}  // namespace

const Definition& AnnualReviewV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
