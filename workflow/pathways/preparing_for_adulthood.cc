// Preparing for adulthood and transition to adult services, version 1.
//
// Sources: SEND Code of Practice (2015) chapter 8 (preparing for adulthood from Year 9;
// transition to adult health and social care); SEND Regulations 2014 (SI 2014/1530)
// reg 20(6) (reviews from Year 9 consider preparation for adulthood) and reg 46 (the
// "academic year" of Children and Families Act 2014 s46); Children and Families Act 2014
// s45 (ceasing to maintain a plan), s46 (maintaining a plan to the end of the academic
// year in which the young person turns 25) and s83(2) ("young person" is under 25); Care
// Act 2014 ss58-59 (a child's needs assessment where the child is likely to have needs
// for care and support after becoming 18); NICE NG43 (transition from children's to
// adults' services).
//
// The date of birth is used once, at the start, and never stored: the instance keeps
// only the dates derived from it that later steps need (turns_18_on, plan_may_run_to).
#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;
using std::chrono::sys_days;

constexpr std::string_view kPlanning = "planning";
constexpr std::string_view kTransitioning = "transitioning";
constexpr std::string_view kEnded = "ended";

constexpr const char* kCareActDeadline = "care_act_assessment";
constexpr const char* kS58 = "Care Act 2014 s58(1)";
// Set when the need was implied by an assessment completed at 18 or over: no deadline.
constexpr const char* kNeedUndated = "care_act_assessment_need_undated";
constexpr const char* kHandoverRule =
    "agreed handover date (SEND Code of Practice 2015 ch. 8; NICE NG43)";

bool Before(CivilDate a, CivilDate b) { return sys_days{a} < sys_days{b}; }

// The last day an EHC plan may be maintained (Children and Families Act 2014 s46): the
// end of the academic year in which the young person turns 25. For someone in further
// education the academic year is the twelve months ending on 31 July (SEND Regulations
// 2014 reg 46(1)(a)), so it is the first 31 July on or after the 25th birthday: an August
// birthday runs to 31 July of the next calendar year, not the 31 July a few days before
// they turn 25 (before which s83(2) still makes them a "young person" anyway). A plan
// never runs on or after the 26th birthday (reg 46(1)(b),(c)); with the 31 July year that
// cap cannot bind (the first 31 July after a birthday is always less than a year away),
// but it is applied so the stored date is right by construction.
CivilDate PlanMayRunTo(CivilDate date_of_birth) {
  CivilDate turns_25 = Birthday(date_of_birth, 25);
  CivilDate july = turns_25.year() / std::chrono::July / 31;
  if (Before(july, turns_25)) {
    july = (turns_25.year() + std::chrono::years{1}) / std::chrono::July / 31;
  }
  CivilDate cap = AddDays(Birthday(date_of_birth, 26), -1);
  return Before(cap, july) ? cap : july;
}

std::optional<CivilDate> FactDate(const StepInput& in, std::string_view key) {
  return ParseDate(FactValue(*in.instance, key));
}

std::string HandoverDeadline(v1::AdultService service) {
  return "handover_" + EnumSuffix(v1::AdultService_Name(service), "ADULT_SERVICE_");
}

// Met, on time or late (a late completion keeps the breach and records met_on).
bool Done(const pathway::store::v1::Deadline* d) {
  return d && (d->status() == v1::DEADLINE_STATUS_MET || d->has_met_on());
}

// Still to be met: pending, or breached and not yet met late. Not cancelled.
bool Outstanding(const pathway::store::v1::Deadline* d) {
  return d && !Done(d) && d->status() != v1::DEADLINE_STATUS_CANCELLED;
}

StepResult Started(const StepInput& in) {
  const auto& c = in.command.pfa_started();
  auto dob = ToCivil(c.date_of_birth());
  if (!dob) {
    return Rejection{"pfa_started.date_of_birth", "date.calendar",
                     "the date of birth is not a real calendar date"};
  }
  // Planning for adulthood starts in Year 9 at the latest (SEND Regulations 2014 reg
  // 20(6)); this pathway is that Year 9+ planning, so it cannot start earlier.
  if (YearGroup(*dob, in.on) < 9) {
    return Rejection{"pfa_started.started_on", "start.before_year_9",
                     "on this date the young person is below Year 9: preparing for adulthood "
                     "planning starts from Year 9 (SEND Regulations 2014 reg 20(6); SEND Code "
                     "of Practice 2015 ch. 8)"};
  }
  CivilDate run_to = PlanMayRunTo(*dob);
  if (Before(run_to, in.on)) {
    return Rejection{"pfa_started.started_on", "start.past_age_limit",
                     "on this date the young person is past the end of the academic year in "
                     "which they turned 25 (Children and Families Act 2014 s46)"};
  }
  Outcome out;
  out.to_state = kPlanning;
  out.facts.push_back(MakeFact("turns_18_on", FormatDate(Birthday(*dob, 18))));
  out.facts.push_back(MakeFact("plan_may_run_to", FormatDate(run_to)));
  return out;
}

StepResult CareActNeeded(const StepInput& in) {
  auto turns_18 = FactDate(in, "turns_18_on");
  // From 18 the young person is assessed as an adult (Care Act 2014 s9), not under s58.
  if (!turns_18 || !Before(in.on, *turns_18)) {
    return Rejection{"pfa_care_act_assessment_needed.decided_on", "care_act.after_18",
                     "on this date the young person is 18 or over: a child's needs assessment "
                     "(Care Act 2014 s58) is for a child; an adult is assessed under s9"};
  }
  if (const auto* d = FindDeadline(*in.instance, kCareActDeadline)) {
    if (Done(d)) {
      return Rejection{"pfa_care_act_assessment_needed.decided_on", "care_act.already_completed",
                       "a Care Act assessment was completed on " +
                           FormatDate(StoredDate(d->met_on())) + " for this plan"};
    }
    if (Outstanding(d)) {
      return Rejection{"pfa_care_act_assessment_needed.decided_on", "care_act.already_needed",
                       "a Care Act assessment was found to be needed on " +
                           FormatDate(StoredDate(d->set_on())) + " and is still awaited"};
    }
  }
  // s58 sets no period; the assessment exists so that support is in place at 18, so it
  // is due by the day before the 18th birthday.
  Outcome out;
  out.facts.push_back(MakeFact("care_act_assessment_needed_on", FormatDate(in.on)));
  out.set.push_back({kCareActDeadline, AddDays(*turns_18, -1), kS58, false});
  return out;
}

StepResult CareActCompleted(const StepInput& in) {
  const auto* d = FindDeadline(*in.instance, kCareActDeadline);
  if (Done(d)) {
    return Rejection{
        "pfa_care_act_assessment_completed.completed_on", "care_act.already_completed",
        "the Care Act assessment was completed on " + FormatDate(StoredDate(d->met_on()))};
  }
  auto completed = FactDate(in, "care_act_assessment_completed_on");
  if (!Outstanding(d) && completed) {
    return Rejection{"pfa_care_act_assessment_completed.completed_on", "care_act.already_completed",
                     "the Care Act assessment was completed on " + FormatDate(*completed)};
  }
  if (!Outstanding(d) && FactValue(*in.instance, kNeedUndated).empty()) {
    return Rejection{"pfa_care_act_assessment_completed.completed_on", "care_act.not_needed",
                     "no Care Act assessment has been found to be needed for this plan"};
  }
  // A late assessment (after the 18th birthday) is still recorded: the date it came
  // matters for reporting.
  Outcome out;
  out.facts.push_back(MakeFact("care_act_assessment_completed_on", FormatDate(in.on)));
  out.met.push_back(kCareActDeadline);
  return out;
}

StepResult NamedWorker(const StepInput& in) {
  const auto& c = in.command.pfa_named_worker_assigned();
  // A reassignment is a new fact; the latest wins.
  Outcome out;
  out.facts.push_back(MakeFact("named_worker", c.worker_id()));
  return out;
}

StepResult HandoverPlanned(const StepInput& in) {
  const auto& c = in.command.pfa_handover_planned();
  auto by = ToCivil(c.handover_by());
  if (!by) {
    return Rejection{"pfa_handover_planned.handover_by", "date.calendar",
                     "this is not a real calendar date"};
  }
  if (Before(*by, in.on)) {
    return Rejection{"pfa_handover_planned.handover_by", "handover.before_planned",
                     "the handover date " + FormatDate(*by) +
                         " is before the day it was planned (" + FormatDate(in.on) + ")"};
  }
  std::string name = HandoverDeadline(c.service());
  if (const auto* d = FindDeadline(*in.instance, name)) {
    if (Done(d)) {
      return Rejection{
          "pfa_handover_planned.service", "handover.already_completed",
          "the handover to this service was completed on " + FormatDate(StoredDate(d->met_on()))};
    }
    if (Outstanding(d)) {
      return Rejection{"pfa_handover_planned.service", "handover.already_planned",
                       "a handover to this service was planned on " +
                           FormatDate(StoredDate(d->set_on())) + " for " +
                           FormatDate(StoredDate(d->due())) + " and is still awaited"};
    }
  }
  Outcome out;
  out.to_state = kTransitioning;
  out.facts.push_back(MakeFact("handover_planned", name.substr(9)));
  out.set.push_back({name, *by, kHandoverRule, false});
  return out;
}

StepResult HandoverCompleted(const StepInput& in) {
  const auto& c = in.command.pfa_handover_completed();
  std::string name = HandoverDeadline(c.service());
  const auto* d = FindDeadline(*in.instance, name);
  if (Done(d)) {
    return Rejection{
        "pfa_handover_completed.service", "handover.already_completed",
        "the handover to this service was completed on " + FormatDate(StoredDate(d->met_on()))};
  }
  if (!Outstanding(d)) {
    return Rejection{"pfa_handover_completed.service", "handover.not_planned",
                     "no handover to this service is planned"};
  }
  Outcome out;
  out.facts.push_back(MakeFact("handover_completed", name.substr(9)));
  out.met.push_back(name);
  return out;
}

StepResult Ended(const StepInput& in) {
  const auto& c = in.command.pfa_plan_ended();
  auto run_to = FactDate(in, "plan_may_run_to");
  if (run_to && Before(*run_to, in.on)) {
    return Rejection{"pfa_plan_ended.ended_on", "plan_end.after_age_limit",
                     "this date is after the end of the academic year in which the young person "
                     "turned 25, the latest a plan can run (Children and Families Act 2014 s46; "
                     "SEND Regulations 2014 reg 46)"};
  }
  Outcome out;
  out.to_state = kEnded;
  out.facts.push_back(MakeFact("end_reason", c.reason()));
  out.cancel_all_pending = true;
  return out;
}

// ---- Implied steps (docs/pathways.md): a later step shows these happened; each is dated
// the later step's date (the latest it can have happened).

// A handover completed to a service with none planned: it was planned.
bool HandoverNotPlanned(const StepInput& in) {
  const auto service = in.command.pfa_handover_completed().service();
  // Unset: rejected before any step (the schema marks it required).
  if (service == v1::ADULT_SERVICE_UNSPECIFIED) return false;
  const auto* d = FindDeadline(*in.instance, HandoverDeadline(service));
  return !Done(d) && !Outstanding(d);
}

StepResult HandoverPlannedImplied(const StepInput& in) {
  const auto service = in.command.pfa_handover_completed().service();
  // The agreed date is not known; the handover that happened is the date that is.
  std::string name = HandoverDeadline(service);
  Outcome out;
  out.to_state = kTransitioning;
  out.facts.push_back(MakeFact("handover_planned", name.substr(9)));
  out.set.push_back({name, in.on, kHandoverRule, false});
  return out;
}

// A Care Act assessment completed with none found needed: it was found needed.
bool CareActNotNeeded(const StepInput& in) {
  const auto* d = FindDeadline(*in.instance, kCareActDeadline);
  return !Done(d) && !Outstanding(d) && FactValue(*in.instance, kNeedUndated).empty();
}

StepResult CareActNeededImplied(const StepInput& in) {
  auto turns_18 = FactDate(in, "turns_18_on");
  Outcome out;
  // Due the day before the 18th birthday (s58). Completed after that, the day it was
  // found needed is unknown, so whether it was late is too: no deadline is set, and
  // the warning says why.
  if (turns_18 && Before(in.on, *turns_18)) {
    out.set.push_back({kCareActDeadline, AddDays(*turns_18, -1), kS58, false});
  } else {
    out.facts.push_back(MakeFact(kNeedUndated, "true"));
    out.warnings.push_back(
        "completed at 18 or over: whether the assessment was found needed in time (Care Act "
        "2014 s58) is not known");
  }
  return out;
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_PREPARING_FOR_ADULTHOOD;
  d.version = 1;
  d.name = "preparing_for_adulthood";
  d.title = "preparing for adulthood plan";
  d.states = {kPlanning, kTransitioning, kEnded};
  d.terminal = {kEnded};
  d.transitions = {
      {"started",
       {},
       {kPlanning},
       "Year 9+ planning starts",
       Started,
       {"pfa_started", "plan_id", "started_on"}},
      {"care_act_assessment_needed",
       {kPlanning, kTransitioning},
       {},
       "Care Act s58 assessment needed (before 18)",
       CareActNeeded,
       {"pfa_care_act_assessment_needed", "plan_id", "decided_on"},
       {},
       CareActNeededImplied},
      {"care_act_assessment_completed",
       {kPlanning, kTransitioning},
       {},
       "Care Act assessment completed",
       CareActCompleted,
       {"pfa_care_act_assessment_completed", "plan_id", "completed_on"},
       {{"care_act_assessment_needed", "", CareActNotNeeded}}},
      {"named_worker_assigned",
       {kPlanning, kTransitioning},
       {},
       "named worker assigned",
       NamedWorker,
       {"pfa_named_worker_assigned", "plan_id", "assigned_on"}},
      {"handover_planned",
       {kPlanning, kTransitioning},
       {kTransitioning},
       "handover to an adult service planned",
       HandoverPlanned,
       {"pfa_handover_planned", "plan_id", "planned_on"},
       {},
       HandoverPlannedImplied},
      {"handover_completed",
       {kTransitioning},
       {},
       "handover to an adult service completed",
       HandoverCompleted,
       {"pfa_handover_completed", "plan_id", "completed_on"},
       {{"handover_planned", kTransitioning, HandoverNotPlanned}}},
      {"plan_ended",
       {kPlanning, kTransitioning},
       {kEnded},
       "plan ended (by the end of the academic year they turn 25)",
       Ended,
       {"pfa_plan_ended", "plan_id", "ended_on"}},
  };
  // Tell it once: planning for adulthood starts from the young person's own
  // aspirations (paid work, independent living, friends and community, health: SEND
  // Code of Practice 2015 8.7-8.9; Children and Families Act 2014 s19), asked of them
  // only if the shared record cannot give it, and from their own story.
  d.needs = {
      {"started",
       {{v1::FACT_TYPE_ASPIRATIONS, v1::RESPONDENT_YOUNG_PERSON},
        {v1::FACT_TYPE_ALL_ABOUT_ME, v1::RESPONDENT_YOUNG_PERSON}}},
  };
  return d;
}
}  // namespace

const Definition& PreparingForAdulthoodV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
