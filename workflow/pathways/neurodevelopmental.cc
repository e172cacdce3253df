// Neurodevelopmental (autism, ADHD, dual) assessment, versions 1 and 2.
//
// Version 2 (docs/pathways.md, "Version 2"; docs/decisions.md 128) changes one rule:
// an ADHD-only assessment's first appointment is due under the NHS Constitution's
// 18-week referral-to-treatment standard instead of QS51's 13 weeks applied locally
// (NICE sets no ADHD waiting standard, and QS51 is an autism standard). Autism and
// dual assessments keep QS51's 13 weeks. States and steps are the same.
//
// Sources: NICE Quality Standard QS51 (Autism), statement 1: a diagnostic assessment
// starts within 3 months of referral; NHS England's Autism Waiting Time Statistics
// measure this as 13 weeks from referral to the first attended appointment (ASD03).
// NICE CG128 (autism under 19s: recognition, referral and diagnosis) for the
// post-diagnostic offer. The partnership's local pathway (domain.md): a one-day
// diagnostic pathway for under-5s with strong evidence, dual ASD+ADHD assessment,
// assessments commissioned from external providers, support while waiting that is
// needs-led rather than diagnosis-led ("waiting well"), and children waiting at high
// risk contacted at least monthly.
#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kWaiting = "waiting";
constexpr std::string_view kAssessing = "assessing";
constexpr std::string_view kDiagnosed = "diagnosed";
constexpr std::string_view kClosed = "closed";
constexpr std::string_view kSupported = "post_diagnostic_support";
constexpr std::string_view kDischarged = "discharged";

constexpr const char* kFirstAppointment = "first_appointment";
constexpr const char* kWaitingContact = "waiting_contact";

constexpr const char* kQs51 =
    "NICE QS51 statement 1 (NHS England: 13 weeks from referral to first appointment)";
// NICE sets no waiting standard for ADHD: the partnership applies QS51's 13 weeks.
constexpr const char* kQs51Adhd =
    "Local standard: NICE QS51 13 weeks from referral to first appointment, applied to ADHD";
// Version 2: the NHS Constitution's 18-week referral-to-treatment standard, which the
// partnership's commissioners apply to ADHD assessment (a consultant-led service).
constexpr const char* kRttAdhd =
    "NHS Constitution: 18 weeks from referral to treatment, applied to ADHD-only assessments "
    "(the first appointment)";
constexpr const char* kMonthlyContact =
    "Local partnership standard: children waiting at high risk are contacted at least monthly";

constexpr int kOneDayAgeLimit = 5;

bool Before(CivilDate a, CivilDate b) {
  return std::chrono::sys_days{a} < std::chrono::sys_days{b};
}

bool Pending(const pathway::store::v1::Deadline* d) {
  return d && d->status() == v1::DEADLINE_STATUS_PENDING;
}

CivilDate NextContactDue(CivilDate from) { return AddMonths(from, 1); }

// The first-appointment standard of an ADHD-only assessment: what changed in version 2.
struct AdhdStandard {
  int weeks;
  const char* rule;
};

StepResult Accepted(const StepInput& in, AdhdStandard adhd) {
  const auto& c = in.command.nd_referral_accepted();
  auto referred = ToCivil(c.referred_on());
  if (!referred) {
    return Rejection{"nd_referral_accepted.referred_on", "date.calendar",
                     "this is not a real calendar date"};
  }
  // The 13-week clock runs from the referral; a referral dated after its own acceptance
  // would silently shorten or invert that clock.
  if (Before(in.on, *referred)) {
    return Rejection{"nd_referral_accepted.referred_on", "referral.referred_after_accepted",
                     "the referral date " + FormatDate(*referred) +
                         " is after the date it was accepted (" + FormatDate(in.on) + ")"};
  }

  // Tell it once: the date of birth from the referral already on the child's record
  // serves when the trust's message does not carry one. It is used here and never
  // stored: only the age band the borough reports by is kept.
  std::optional<CivilDate> dob;
  if (c.has_date_of_birth()) {
    dob = ToCivil(c.date_of_birth());
    if (!dob) {
      return Rejection{"nd_referral_accepted.date_of_birth", "date.calendar",
                       "the date of birth is not a real calendar date"};
    }
    if (Before(*referred, *dob)) {
      return Rejection{"nd_referral_accepted.date_of_birth", "date_of_birth.after_referral",
                       "the date of birth is after the date of the referral"};
    }
  } else if (in.case_state.has_date_of_birth()) {
    dob = ToCivil(in.case_state.date_of_birth());
  }

  if (c.route() == v1::ND_ROUTE_ONE_DAY_UNDER_5) {
    if (!dob) return Required("nd_referral_accepted.date_of_birth");
    // Eligibility is judged on the day the referral is accepted onto the route.
    if (AgeOn(*dob, in.on) >= kOneDayAgeLimit) {
      return Rejection{"nd_referral_accepted.route", "route.one_day_age",
                       "the one-day diagnostic pathway is only for children under 5 on the "
                       "day the referral is accepted (local pathway)"};
    }
    if (!c.strong_evidence()) {
      return Rejection{"nd_referral_accepted.strong_evidence", "route.one_day_evidence",
                       "the one-day diagnostic pathway needs strong evidence with the referral "
                       "(local pathway)"};
    }
  }

  Outcome out;
  out.to_state = kWaiting;
  std::string assessment =
      EnumSuffix(v1::NdAssessmentType_Name(c.assessment()), "ND_ASSESSMENT_TYPE_");
  out.facts.push_back(MakeFact("assessment", assessment));
  out.facts.push_back(MakeFact("route", EnumSuffix(v1::NdRoute_Name(c.route()), "ND_ROUTE_")));
  out.facts.push_back(MakeFact("referred_on", FormatDate(*referred)));
  if (dob) {
    // The borough reports referral-to-assessment weeks by age band (0-5, 5+); the band
    // at referral is enough for that and, unlike a birthday, does not identify the child.
    out.facts.push_back(MakeFact("age_band_at_referral", AgeOn(*dob, *referred) < kOneDayAgeLimit
                                                             ? "under_5"
                                                             : "5_and_over"));
  }
  // A dual assessment includes the autism assessment, so QS51 applies to it directly.
  bool adhd_only = c.assessment() == v1::ND_ASSESSMENT_TYPE_ADHD;
  out.set.push_back({kFirstAppointment, AddWeeks(*referred, adhd_only ? adhd.weeks : 13),
                     adhd_only ? adhd.rule : kQs51, false});
  return out;
}

StepResult RiskAssessed(const StepInput& in) {
  const auto& c = in.command.nd_risk_assessed();
  // The current level is the latest assessment's: an older one arriving late must not
  // overwrite it (and move the monthly contact clock).
  if (auto last = ParseDate(FactValue(*in.instance, "risk_assessed_on"));
      last && Before(in.on, *last)) {
    return Rejection{"nd_risk_assessed.assessed_on", "risk.out_of_order",
                     "a later risk assessment (" + FormatDate(*last) + ") is already recorded"};
  }
  std::string level = EnumSuffix(v1::RiskLevel_Name(c.risk()), "RISK_LEVEL_");
  Outcome out;
  out.facts.push_back(MakeFact("risk", level));
  out.facts.push_back(MakeFact("risk_assessed_on", FormatDate(in.on)));
  const auto* contact = FindDeadline(*in.instance, kWaitingContact);
  if (c.risk() == v1::RISK_LEVEL_HIGH) {
    // A reassessment is not a contact: a pending monthly contact keeps its date. With
    // none pending (newly high, or the last one breached) the month starts today.
    if (!Pending(contact)) {
      out.set.push_back({kWaitingContact, NextContactDue(in.on), kMonthlyContact, false});
    }
  } else if (Pending(contact)) {
    out.cancel.emplace_back(kWaitingContact, "risk reassessed as " + level);
  }
  return out;
}

StepResult WaitingContact(const StepInput& in) {
  const auto* contact = FindDeadline(*in.instance, kWaitingContact);
  // A contact dated before the current monthly clock started would set the next one
  // earlier than the last contact allows.
  if (contact && contact->status() != v1::DEADLINE_STATUS_CANCELLED) {
    auto set_on = ToCivil(contact->set_on());
    if (set_on && Before(in.on, *set_on)) {
      return Rejection{"nd_waiting_contact_made.contacted_on", "waiting_contact.out_of_order",
                       "the monthly contact clock was last started on " + FormatDate(*set_on) +
                           ": a contact before it cannot count"};
    }
  }
  Outcome out;
  out.facts.push_back(MakeFact("contacted_on", FormatDate(in.on)));
  // Meets the current deadline (a late contact records its met_on on the breach).
  if (contact) out.met.push_back(kWaitingContact);
  if (FactValue(*in.instance, "risk") == "high") {
    out.set.push_back({kWaitingContact, NextContactDue(in.on), kMonthlyContact, false});
  }
  return out;
}

StepResult SupportOffered(const StepInput& in) {
  const auto& c = in.command.nd_support_offered();
  Outcome out;
  out.facts.push_back(MakeFact("support_offered", c.support()));
  out.facts.push_back(MakeFact("support_offered_on", FormatDate(in.on)));
  return out;
}

StepResult Commissioned(const StepInput& in) {
  const auto& c = in.command.nd_assessment_commissioned();
  Outcome out;
  out.facts.push_back(MakeFact("provider", c.provider()));
  out.facts.push_back(MakeFact("commissioned_on", FormatDate(in.on)));
  return out;
}

StepResult FirstAppointment(const StepInput& in) {
  Outcome out;
  out.to_state = kAssessing;
  out.facts.push_back(MakeFact("first_attended_on", FormatDate(in.on)));
  out.met.push_back(kFirstAppointment);
  if (Pending(FindDeadline(*in.instance, kWaitingContact))) {
    out.cancel.emplace_back(kWaitingContact, "the assessment has started: no longer waiting");
  }
  return out;
}

// An outcome is reached in an assessment, so never before its first appointment.
std::optional<Rejection> BeforeFirstAppointment(const StepInput& in) {
  auto first = ParseDate(FactValue(*in.instance, "first_attended_on"));
  if (!first || !Before(in.on, *first)) return std::nullopt;
  return Rejection{
      CommandDateField(in.command), "outcome.before_first_appointment",
      "the outcome is dated before the first appointment (" + FormatDate(*first) + ")"};
}

StepResult OutcomeRecorded(const StepInput& in) {
  const auto& c = in.command.nd_outcome_recorded();
  if (auto r = BeforeFirstAppointment(in)) return *r;
  Outcome out;
  switch (c.outcome()) {
    case v1::ND_OUTCOME_DIAGNOSED:
      out.to_state = kDiagnosed;
      break;
    case v1::ND_OUTCOME_NOT_DIAGNOSED:
    case v1::ND_OUTCOME_INCONCLUSIVE:
      out.to_state = kClosed;
      out.cancel_all_pending = true;
      break;
    default:  // UNSPECIFIED is rejected as required (the schema marks it)
      return UnknownValue("nd_outcome_recorded.outcome");
  }
  out.facts.push_back(
      MakeFact("outcome", EnumSuffix(v1::NdOutcome_Name(c.outcome()), "ND_OUTCOME_")));
  out.facts.push_back(MakeFact("outcome_on", FormatDate(in.on)));
  return out;
}

StepResult PostDiagnosticSupport(const StepInput& in) {
  if (auto decided = ParseDate(FactValue(*in.instance, "outcome_on"));
      decided && Before(in.on, *decided)) {
    return Rejection{
        "nd_post_diagnostic_support_offered.offered_on", "post_diagnostic_support.before_diagnosis",
        "post-diagnostic support is dated before the diagnosis (" + FormatDate(*decided) + ")"};
  }
  Outcome out;
  out.to_state = kSupported;
  out.facts.push_back(MakeFact("post_diagnostic_support_offered_on", FormatDate(in.on)));
  out.cancel_all_pending = true;
  return out;
}

StepResult Discharged(const StepInput& in) {
  const auto& c = in.command.nd_discharged();
  Outcome out;
  out.to_state = kDischarged;
  out.facts.push_back(MakeFact("discharge_reason", c.reason()));
  out.cancel_all_pending = true;
  return out;
}

// ---- Implied steps (docs/pathways.md): a later step shows these happened; each is dated
// the later step's date (the latest it can have happened) and checks only what the
// dates known allow.

// An outcome needs an assessment, which starts at the first attended appointment.
StepResult FirstAppointmentImplied(const StepInput& in) { return FirstAppointment(in); }

// Post-diagnostic support means there was a diagnosis.
StepResult DiagnosedImplied(const StepInput& in) {
  if (auto r = BeforeFirstAppointment(in)) return *r;
  Outcome out;
  out.to_state = kDiagnosed;
  out.facts.push_back(MakeFact("outcome", "diagnosed"));
  out.facts.push_back(MakeFact("outcome_on", FormatDate(in.on)));
  return out;
}

Definition Make(uint32_t version) {
  Definition d;
  d.kind = v1::PATHWAY_KIND_NEURODEVELOPMENTAL;
  d.version = version;
  const AdhdStandard adhd = version >= 2 ? AdhdStandard{18, kRttAdhd} : AdhdStandard{13, kQs51Adhd};
  d.name = "neurodevelopmental";
  d.title = "neurodevelopmental assessment";
  d.states = {kWaiting, kAssessing, kDiagnosed, kClosed, kSupported, kDischarged};
  d.terminal = {kClosed, kSupported, kDischarged};
  // Referral to diagnosis: the wait NHS England counts.
  d.waiting = {kWaiting, kAssessing};
  d.transitions = {
      {"referral_accepted",
       {},
       {kWaiting},
       version >= 2 ? "referral accepted (13 weeks, ADHD only 18, from referral to first "
                      "appointment)"
                    : "referral accepted (13 weeks from referral to first appointment)",
       [adhd](const StepInput& in) { return Accepted(in, adhd); },
       {"nd_referral_accepted", "referral_id", "accepted_on"}},
      {"risk_assessed",
       {kWaiting},
       {},
       "risk assessed (high: contact at least monthly)",
       RiskAssessed,
       {"nd_risk_assessed", "referral_id", "assessed_on"}},
      {"waiting_contact",
       {kWaiting},
       {},
       "contact while waiting",
       WaitingContact,
       {"nd_waiting_contact_made", "referral_id", "contacted_on"}},
      {"support_offered",
       {kWaiting, kAssessing},
       {},
       "support offered (needs-led, not diagnosis-led)",
       SupportOffered,
       {"nd_support_offered", "referral_id", "offered_on"}},
      {"assessment_commissioned",
       {kWaiting},
       {},
       "assessment commissioned from an external provider",
       Commissioned,
       {"nd_assessment_commissioned", "referral_id", "commissioned_on"}},
      {"first_appointment_attended",
       {kWaiting},
       {kAssessing},
       "first appointment attended",
       FirstAppointment,
       {"nd_first_appointment_attended", "referral_id", "attended_on"},
       {},
       FirstAppointmentImplied},
      {"outcome_recorded",
       {kAssessing},
       {kDiagnosed, kClosed},
       "outcome recorded (diagnosed, not diagnosed or inconclusive)",
       OutcomeRecorded,
       {"nd_outcome_recorded", "referral_id", "decided_on"},
       {{"first_appointment_attended", kAssessing}},
       DiagnosedImplied},
      {"post_diagnostic_support_offered",
       {kDiagnosed},
       {kSupported},
       "post-diagnostic support offered",
       PostDiagnosticSupport,
       {"nd_post_diagnostic_support_offered", "referral_id", "offered_on"},
       {{"outcome_recorded", kDiagnosed}}},
      {"discharged",
       {kWaiting, kAssessing, kDiagnosed},
       {kDischarged},
       "discharged (with a reason)",
       Discharged,
       {"nd_discharged", "referral_id", "discharged_on"}},
  };
  // Tell it once: what the assessment needs, asked for only if the shared record cannot
  // give it. Autism and ADHD assessments take a developmental history from the family
  // and information from the child's school (NICE CG128 section 1.5, NG87 section 1.3),
  // and the child's own account; they are gathered while the child waits, so the first
  // appointment can assess. A provider commissioned to clear the backlog needs the
  // same, through the agency that commissions it: the record serves it, nobody asks
  // the family again.
  d.needs = {
      {"referral_accepted",
       {{v1::FACT_TYPE_DEVELOPMENTAL_HISTORY, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_SCHOOL_OBSERVATIONS, v1::RESPONDENT_CURRENT_SETTING},
        {v1::FACT_TYPE_ALL_ABOUT_ME, v1::RESPONDENT_FAMILY}}},
      {"assessment_commissioned",
       {{v1::FACT_TYPE_DEVELOPMENTAL_HISTORY, v1::RESPONDENT_FAMILY},
        {v1::FACT_TYPE_SCHOOL_OBSERVATIONS, v1::RESPONDENT_CURRENT_SETTING},
        {v1::FACT_TYPE_ALL_ABOUT_ME, v1::RESPONDENT_FAMILY}}},
  };
  return d;
}
}  // namespace

const Definition& NeurodevelopmentalV1() {
  static const Definition d = Make(1);
  return d;
}

const Definition& NeurodevelopmentalV2() {
  static const Definition d = Make(2);
  return d;
}

}  // namespace pathway::workflow::pathways
