// Disagreement, version 1: mediation and an appeal to the First-tier Tribunal (SEND).
//
// Sources: Children and Families Act 2014 ss51-55 (appeals, mediation, mediation
// certificates under s55(4) and (5)); the Special Educational Needs and Disability
// Regulations 2014 (SI 2014/1530), the "Mediation" regulations 32-42 (reg 33: contact
// the mediation adviser within 2 months of the decision; reg 34: certificate within 3
// working days where the family does not want mediation); the SEND Code of Practice
// (2015) chapter 11 (mediation within 30 days; certificate within 3 working days of the
// mediation); the Tribunal Procedure (First-tier Tribunal) (Health, Education and Social
// Care Chamber) Rules 2008 rule 20 (appeal within the later of 2 months from the decision
// or 1 month from the mediation certificate) and rule 12 (time ending in August or from
// 25 December to 1 January, or on a day that is not a working day).
//
// No mediation certificate is needed for an appeal only about the school or other
// institution named in section I of the plan (CFA 2014 s55), so such a dispute has no
// mediation-advice deadline and may go straight to appeal.
#include "workflow/clock.h"
#include "workflow/pathways/definitions.h"
#include "workflow/pathways/step_helpers.h"

namespace pathway::workflow::pathways {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using std::chrono::sys_days;

constexpr std::string_view kOpened = "opened";
constexpr std::string_view kMediationRequested = "mediation_requested";
constexpr std::string_view kMediationDeclined = "mediation_declined";
constexpr std::string_view kMediationHeld = "mediation_held";
constexpr std::string_view kCertificateIssued = "certificate_issued";
constexpr std::string_view kAppealed = "appealed";
constexpr std::string_view kResolved = "resolved";

constexpr const char* kMediationAdvice = "mediation_advice";
constexpr const char* kMediation = "mediation";
constexpr const char* kCertificate = "certificate";
constexpr const char* kTribunalAppeal = "tribunal_appeal";

constexpr const char* kReg33 = "SEND Regulations 2014 reg 33";
constexpr const char* kReg34 = "SEND Regulations 2014 reg 34";
constexpr const char* kMediationRule = "CFA 2014 s53; SEND Code of Practice 2015 ch 11";
constexpr const char* kCertificateAfterMediationRule =
    "CFA 2014 s55(5); SEND Code of Practice 2015 ch 11";
constexpr const char* kTribunalRule = "HESC Rules 2008 rules 20 and 12";

// The step dates a later step may not precede (besides the decision letter itself).
constexpr const char* kContactedOn = "mediation_advice_contacted_on";
constexpr const char* kHeldOn = "mediation_held_on";
constexpr const char* kCertificateOn = "certificate_issued_on";
constexpr const char* kAppealOn = "appeal_lodged_on";

bool PlacementOnly(const store::PathwayInstance& instance) {
  return HasFact(instance, "about", "placement");
}

CivilDate DecisionLetter(const StepInput& in) { return StoredDate(in.instance->started_on()); }

// HESC Rules 2008 rule 12: the time to start SEND proceedings that ends in August, or from
// 25 December to 1 January, runs to the first working day after 31 August or 1 January
// (rule 12(3)(a)); any other time that ends on a day that is not a working day runs to
// the next working day (rule 12(2)). Kept here, beside ApplyAugustRule, because only the
// Tribunal's clock works this way.
CivilDate TribunalTimeLimit(CivilDate due) {
  using std::chrono::December;
  using std::chrono::January;
  if (due.month() == std::chrono::August) return ApplyAugustRule(due);
  if (due.month() == December && due.day() >= std::chrono::day{25}) {
    return NextWorkingDayOnOrAfter((due.year() + std::chrono::years{1}) / January / 2);
  }
  if (due.month() == January && due.day() == std::chrono::day{1}) {
    return NextWorkingDayOnOrAfter(due.year() / January / 2);
  }
  return NextWorkingDayOnOrAfter(due);
}

// Working days are counted against the embedded bank-holiday table: a deadline outside
// it would silently ignore bank holidays, so it is refused rather than guessed.
std::optional<Rejection> OutsideCalendar(const std::string& field, CivilDate from, CivilDate to) {
  if (InBankHolidayTable(from) && InBankHolidayTable(to)) return std::nullopt;
  return Rejection{field, "date.no_bank_holiday_calendar",
                   "working days cannot be counted from " + FormatDate(from) +
                       ": the bank holiday calendar does not cover those dates"};
}

// Steps are recorded in the order they happened: none may be dated before an earlier one.
std::optional<Rejection> BeforePreviousStep(const StepInput& in, const std::string& field) {
  for (const char* key : {kContactedOn, kHeldOn, kCertificateOn, kAppealOn}) {
    auto previous = ParseDate(FactValue(*in.instance, key));
    if (previous && sys_days{in.on} < sys_days{*previous}) {
      return Rejection{field, "date.before_previous_step",
                       "this date is before an earlier step of the disagreement (" +
                           FormatDate(*previous) + ")"};
    }
  }
  return std::nullopt;
}

bool Pending(const store::PathwayInstance& instance, const char* name) {
  const store::Deadline* d = FindDeadline(instance, name);
  return d && d->status() == v1::DEADLINE_STATUS_PENDING;
}

StepResult Opened(const StepInput& in) {
  const auto& c = in.command.disagreement_opened();
  CivilDate appeal_by = TribunalTimeLimit(AddMonths(in.on, 2));
  if (auto r = OutsideCalendar("disagreement_opened.decision_letter_on", in.on, appeal_by)) {
    return *r;
  }
  Outcome out;
  out.to_state = kOpened;
  std::string about = EnumSuffix(v1::DisputedDecision_Name(c.about()), "DISPUTED_DECISION_");
  out.facts.push_back(MakeFact("about", about));
  // reg 33 binds only a family that needs a certificate to appeal; section I alone does not.
  if (c.about() != v1::DISPUTED_DECISION_PLACEMENT) {
    out.set.push_back({kMediationAdvice, AddMonths(in.on, 2), kReg33, false});
  }
  out.set.push_back({kTribunalAppeal, appeal_by, kTribunalRule, false});
  return out;
}

// The family contacted the mediation adviser on `in.on`, wanting mediation or not.
StepResult Contacted(const StepInput& in, bool wants_mediation) {
  const std::string field = CommandDateField(in.command);
  bool certificate_needed = !PlacementOnly(*in.instance);
  CivilDate certificate_by = AddWorkingDays(in.on, 3);
  if (auto r = OutsideCalendar(field, in.on, certificate_by)) return *r;

  Outcome out;
  out.facts.push_back(MakeFact(kContactedOn, FormatDate(in.on)));
  out.facts.push_back(MakeFact("wants_mediation", wants_mediation ? "yes" : "no"));
  // A late contact is still recorded (met_on on a breached deadline).
  out.met.push_back(kMediationAdvice);
  if (certificate_needed && Pending(*in.instance, kTribunalAppeal)) {
    // The appeal may now be lodged up to 1 month after the certificate if that is later
    // than 2 months from the letter (rule 20); until the certificate exists the date is
    // unknown, and a 2-month deadline would warn or breach while mediation is under way.
    out.cancel.emplace_back(kTribunalAppeal,
                            "the family contacted the mediation adviser: the appeal deadline is "
                            "set again from the mediation certificate (HESC Rules 2008 rule 20)");
  }
  if (wants_mediation) {
    out.to_state = kMediationRequested;
    out.set.push_back({kMediation, AddDays(in.on, 30), kMediationRule, false});
  } else {
    out.to_state = kMediationDeclined;
    if (certificate_needed) out.set.push_back({kCertificate, certificate_by, kReg34, false});
  }
  return out;
}

StepResult AdviceContacted(const StepInput& in) {
  return Contacted(in, in.command.mediation_advice_contacted().wants_mediation());
}

StepResult MediationHeld(const StepInput& in) {
  const std::string field = CommandDateField(in.command);
  if (auto r = BeforePreviousStep(in, field)) return *r;
  CivilDate certificate_by = AddWorkingDays(in.on, 3);
  if (auto r = OutsideCalendar(field, in.on, certificate_by)) return *r;
  Outcome out;
  out.to_state = kMediationHeld;
  out.facts.push_back(MakeFact(kHeldOn, FormatDate(in.on)));
  out.met.push_back(kMediation);
  if (!PlacementOnly(*in.instance)) {
    out.set.push_back({kCertificate, certificate_by, kCertificateAfterMediationRule, false});
  }
  return out;
}

StepResult CertificateIssued(const StepInput& in) {
  const std::string field = CommandDateField(in.command);
  if (PlacementOnly(*in.instance)) {
    return Rejection{"mediation_certificate_issued", "certificate.not_required",
                     "an appeal only about the school or institution named in section I needs "
                     "no mediation certificate (Children and Families Act 2014 s55)"};
  }
  if (auto r = BeforePreviousStep(in, field)) return *r;
  // Rule 20: the later of 2 months from the decision letter and 1 month from the
  // certificate, then moved by rule 12 (August, Christmas, non-working days).
  CivilDate two_months = AddMonths(DecisionLetter(in), 2);
  CivilDate one_month = AddMonths(in.on, 1);
  CivilDate later = sys_days{one_month} > sys_days{two_months} ? one_month : two_months;
  CivilDate appeal_by = TribunalTimeLimit(later);
  if (auto r = OutsideCalendar(field, in.on, appeal_by)) return *r;

  Outcome out;
  out.to_state = kCertificateIssued;
  out.facts.push_back(MakeFact(kCertificateOn, FormatDate(in.on)));
  out.met.push_back(kCertificate);
  if (Pending(*in.instance, kMediation)) {
    // A certificate before any mediation: the family changed its mind, or the council
    // could not arrange mediation in time and a certificate was issued instead.
    out.cancel.emplace_back(kMediation, "a mediation certificate was issued without mediation");
  }
  // Rule 20 gives the family the later date: the 2-month window (cancelled when the
  // adviser was contacted, or breached if contact came after it) was not missed, it was
  // moved. It ends superseded by the window set afresh under the same name;
  // FindDeadline and the timers follow the newest.
  out.supersede.push_back({kTribunalAppeal, kTribunalAppeal});
  out.set.push_back({kTribunalAppeal, appeal_by, kTribunalRule, false});
  return out;
}

StepResult AppealLodged(const StepInput& in) {
  const std::string field = CommandDateField(in.command);
  if (!PlacementOnly(*in.instance) && FactValue(*in.instance, kCertificateOn).empty()) {
    return Rejection{"tribunal_appeal_lodged", "appeal.certificate_required",
                     "an appeal about anything other than the placement named in section I "
                     "needs a mediation certificate first (Children and Families Act 2014 s55)"};
  }
  if (auto r = BeforePreviousStep(in, field)) return *r;
  Outcome out;
  out.to_state = kAppealed;
  out.facts.push_back(MakeFact(kAppealOn, FormatDate(in.on)));
  // Lodged late, the deadline stays breached with the date it came: admitting a late
  // appeal is for the Tribunal (HESC Rules 2008 rule 5(3)(a)), not for this workflow.
  out.met.push_back(kTribunalAppeal);
  for (const auto& d : in.instance->deadlines()) {
    if (d.status() == v1::DEADLINE_STATUS_PENDING && d.name() != kTribunalAppeal &&
        FindDeadline(*in.instance, d.name()) == &d) {
      out.cancel.emplace_back(d.name(), "the family appealed to the Tribunal");
    }
  }
  return out;
}

StepResult Resolved(const StepInput& in) {
  const auto& c = in.command.disagreement_resolved();
  if (c.how() == v1::RESOLUTION_TRIBUNAL_DECISION && in.instance->state() != kAppealed) {
    return Rejection{"disagreement_resolved.how", "resolution.no_appeal",
                     "a Tribunal decision needs an appeal, and none has been lodged"};
  }
  if (c.how() == v1::RESOLUTION_MEDIATION && FactValue(*in.instance, kHeldOn).empty()) {
    return Rejection{"disagreement_resolved.how", "resolution.no_mediation",
                     "no mediation has been held in this disagreement"};
  }
  if (auto r = BeforePreviousStep(in, CommandDateField(in.command))) return *r;
  Outcome out;
  out.to_state = kResolved;
  out.facts.push_back(
      MakeFact("resolution", EnumSuffix(v1::Resolution_Name(c.how()), "RESOLUTION_")));
  out.cancel_all_pending = true;
  return out;
}

// ---- Implied steps (docs/pathways.md): a later step shows these happened; each is dated
// the later step's date (the latest it can have happened).

// Mediation held means the family asked for it; a certificate with no mediation recorded
// means they declined it (reg 34).
StepResult ContactedImplied(const StepInput& in) {
  return Contacted(in, in.implied_to == kMediationRequested);
}

// A resolution by mediation was mediated; a Tribunal decision was appealed.
bool MediationNotRecorded(const StepInput& in) {
  return in.command.disagreement_resolved().how() == v1::RESOLUTION_MEDIATION &&
         FactValue(*in.instance, kHeldOn).empty();
}
// Only an appeal that could have been lodged is implied: one needing a certificate
// (s55(3): an appeal "may be made only if" one was issued) needs it recorded, since the
// certificate's date sets the appeal window.
bool AppealNotRecorded(const StepInput& in) {
  return in.command.disagreement_resolved().how() == v1::RESOLUTION_TRIBUNAL_DECISION &&
         in.instance->state() != kAppealed &&
         (PlacementOnly(*in.instance) || !FactValue(*in.instance, kCertificateOn).empty());
}

Definition Make() {
  Definition d;
  d.kind = v1::PATHWAY_KIND_DISAGREEMENT;
  d.version = 1;
  d.name = "disagreement";
  d.title = "SEND disagreement";
  d.states = {kOpened,        kMediationRequested, kMediationDeclined,
              kMediationHeld, kCertificateIssued,  kAppealed,
              kResolved};
  d.terminal = {kResolved};
  d.transitions = {
      {"opened",
       {},
       {kOpened},
       "decision letter disputed (2 months to contact a mediation adviser)",
       Opened,
       {"disagreement_opened", "case_id", "decision_letter_on"}},
      {"mediation_advice_contacted",
       {kOpened},
       {kMediationRequested, kMediationDeclined},
       "mediation adviser contacted",
       AdviceContacted,
       {"mediation_advice_contacted", "case_id", "contacted_on"},
       {},
       ContactedImplied},
      {"mediation_held",
       {kMediationRequested},
       {kMediationHeld},
       "mediation held (within 30 days)",
       MediationHeld,
       {"mediation_held", "case_id", "held_on"},
       {{"mediation_advice_contacted", kMediationRequested}},
       MediationHeld},
      {"certificate_issued",
       {kMediationRequested, kMediationDeclined, kMediationHeld},
       {kCertificateIssued},
       "mediation certificate issued (3 working days)",
       CertificateIssued,
       {"mediation_certificate_issued", "case_id", "issued_on"},
       {{"mediation_advice_contacted", kMediationDeclined}},
       CertificateIssued},
      {"appeal_lodged",
       {kOpened, kMediationRequested, kMediationDeclined, kMediationHeld, kCertificateIssued},
       {kAppealed},
       "appeal lodged with the Tribunal",
       AppealLodged,
       {"tribunal_appeal_lodged", "case_id", "lodged_on"},
       {},
       AppealLodged},
      {"resolved",
       {kOpened, kMediationRequested, kMediationDeclined, kMediationHeld, kCertificateIssued,
        kAppealed},
       {kResolved},
       "resolved",
       Resolved,
       {"disagreement_resolved", "case_id", "resolved_on"},
       {{"mediation_held", kMediationHeld, MediationNotRecorded},
        {"appeal_lodged", kAppealed, AppealNotRecorded}}},
  };
  return d;
}
}  // namespace

const Definition& DisagreementV1() {
  static const Definition d = Make();
  return d;
}

}  // namespace pathway::workflow::pathways
