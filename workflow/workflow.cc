#include "workflow/workflow.h"

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>

#include "common/crypto.h"
#include "workflow/clock.h"
#include "workflow/erasure.h"
#include "workflow/event_identity.h"
#include "workflow/identifiers.h"
#include "workflow/identity.h"
#include "workflow/input_limits.h"
#include "workflow/pathways/step_helpers.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathways::Required;

void SetTimestamp(google::protobuf::Timestamp* ts, TimePoint t) {
  auto us = t.time_since_epoch().count();
  ts->set_seconds(us / 1'000'000);
  ts->set_nanos(static_cast<int32_t>((us % 1'000'000) * 1000));
}

Rejection NotACommand() {
  return {"payload", "payload.not_a_command", "this payload is not a command the engine accepts"};
}

std::optional<Rejection> CheckNhsNumber(const std::string& nhs, const char* field) {
  if (nhs.size() != 10 || nhs.find_first_not_of("0123456789") != std::string::npos) {
    return Rejection{field, "nhs_number.format",
                     "an NHS number is exactly 10 digits with no spaces"};
  }
  if (!IsValidNhsNumber(nhs)) {
    return Rejection{field, "nhs_number.modulus11",
                     "the NHS number fails its modulus 11 check digit"};
  }
  return std::nullopt;
}

Decision Reject(Rejection r) { return Decision{{}, std::move(r)}; }

// `id` if it is within the identifier limit, else "digest:" and a digest of it.
std::string SafeId(const std::string& id) {
  return IsAcceptableIdentifier(id) ? id : "digest:" + DerivedEventId(id, 0);
}

// What the engine needs to know about a pathway command, whatever its payload.
struct CommandInfo {
  v1::PathwayKind kind = v1::PATHWAY_KIND_UNSPECIFIED;
  std::string_view step;
  std::string reference;
  std::string reference_field;
  const v1::Date* date = nullptr;  // null: the command has no date field set: today
  std::string date_field;
};

CommandInfo Info(v1::PathwayKind kind, std::string_view step, const std::string& reference,
                 const char* payload, const char* reference_name, const v1::Date* date,
                 const char* date_name) {
  CommandInfo info;
  info.kind = kind;
  info.step = step;
  info.reference = reference;
  info.reference_field = std::string(payload) + "." + reference_name;
  info.date = date;
  info.date_field = std::string(payload) + "." + date_name;
  return info;
}

std::optional<CommandInfo> Classify(const v1::Envelope& c) {
  constexpr auto kIntake = v1::PATHWAY_KIND_REFERRAL_INTAKE;
  constexpr auto kEhc = v1::PATHWAY_KIND_EHC_NEEDS_ASSESSMENT;
  constexpr auto kReview = v1::PATHWAY_KIND_ANNUAL_REVIEW;
  constexpr auto kNd = v1::PATHWAY_KIND_NEURODEVELOPMENTAL;
  constexpr auto kPfa = v1::PATHWAY_KIND_PREPARING_FOR_ADULTHOOD;
  constexpr auto kEng = v1::PATHWAY_KIND_EXCEPTIONAL_NEEDS_GRANT;
  constexpr auto kDispute = v1::PATHWAY_KIND_DISAGREEMENT;
// The payload field, its reference field and its date field (null when unset).
#define PATHWAY_INFO(kind, step, field, ref, date) \
  Info(kind, step, c.field().ref(), #field, #ref,  \
       c.field().has_##date() ? &c.field().date() : nullptr, #date)
  switch (c.payload_case()) {
    case v1::Envelope::kReferralSubmitted:
      return Info(kIntake, "received", c.referral_submitted().referral_id(), "referral_submitted",
                  "referral_id", nullptr, "");
    case v1::Envelope::kReferralScreened:
      return PATHWAY_INFO(kIntake, "screened", referral_screened, referral_id, screened_on);
    case v1::Envelope::kReferralAccepted:
      return PATHWAY_INFO(kIntake, "accepted", referral_accepted, referral_id, accepted_on);
    case v1::Envelope::kReferralRedirected:
      return PATHWAY_INFO(kIntake, "redirected", referral_redirected, referral_id, redirected_on);
    case v1::Envelope::kReferralDeclined:
      return PATHWAY_INFO(kIntake, "declined", referral_declined, referral_id, declined_on);
    case v1::Envelope::kEhcAssessmentRequested:
      return PATHWAY_INFO(kEhc, "request_received", ehc_assessment_requested, request_id,
                          received_on);
    case v1::Envelope::kEhcAssessmentDecided:
      return PATHWAY_INFO(kEhc, "decision_to_assess", ehc_assessment_decided, request_id,
                          decided_on);
    case v1::Envelope::kEhcAdviceRequested:
      return PATHWAY_INFO(kEhc, "advice_requested", ehc_advice_requested, request_id, requested_on);
    case v1::Envelope::kEhcAdviceReceived:
      return PATHWAY_INFO(kEhc, "advice_received", ehc_advice_received, request_id, received_on);
    case v1::Envelope::kEhcDecidedNotToIssue:
      return PATHWAY_INFO(kEhc, "decided_not_to_issue", ehc_decided_not_to_issue, request_id,
                          decided_on);
    case v1::Envelope::kEhcDraftPlanIssued:
      return PATHWAY_INFO(kEhc, "draft_plan_issued", ehc_draft_plan_issued, request_id, served_on);
    case v1::Envelope::kEhcDraftPlanCommentsReceived:
      return PATHWAY_INFO(kEhc, "draft_plan_comments_received", ehc_draft_plan_comments_received,
                          request_id, received_on);
    case v1::Envelope::kEhcFinalPlanIssued:
      return PATHWAY_INFO(kEhc, "final_plan_issued", ehc_final_plan_issued, request_id, issued_on);
    case v1::Envelope::kEhcExceptionRecorded:
      return PATHWAY_INFO(kEhc, "exception_recorded", ehc_exception_recorded, request_id,
                          recorded_on);
    case v1::Envelope::kEhcRequestWithdrawn:
      return PATHWAY_INFO(kEhc, "request_withdrawn", ehc_request_withdrawn, request_id,
                          withdrawn_on);
    // Annual review and phase transfer.
    case v1::Envelope::kAnnualReviewDue:
      return PATHWAY_INFO(kReview, "review_due", annual_review_due, review_id,
                          plan_or_last_review_on);
    case v1::Envelope::kAnnualReviewMeetingScheduled:
      return PATHWAY_INFO(kReview, "meeting_scheduled", annual_review_meeting_scheduled, review_id,
                          notice_sent_on);
    case v1::Envelope::kAnnualReviewMeetingHeld:
      return PATHWAY_INFO(kReview, "meeting_held", annual_review_meeting_held, review_id, held_on);
    case v1::Envelope::kAnnualReviewReportSent:
      return PATHWAY_INFO(kReview, "report_sent", annual_review_report_sent, review_id, sent_on);
    case v1::Envelope::kAnnualReviewDecided:
      return PATHWAY_INFO(kReview, "review_decided", annual_review_decided, review_id, decided_on);
    case v1::Envelope::kPlanAmendmentProposed:
      return PATHWAY_INFO(kReview, "amendment_proposed", plan_amendment_proposed, review_id,
                          proposed_on);
    case v1::Envelope::kPlanAmendmentCommentsReceived:
      return PATHWAY_INFO(kReview, "amendment_comments_received", plan_amendment_comments_received,
                          review_id, received_on);
    case v1::Envelope::kAmendedPlanIssued:
      return PATHWAY_INFO(kReview, "amended_plan_issued", amended_plan_issued, review_id,
                          issued_on);
    case v1::Envelope::kPhaseTransferDue:  // moves_on is in the future: the step is today
      return Info(kReview, "phase_transfer_due", c.phase_transfer_due().review_id(),
                  "phase_transfer_due", "review_id", nullptr, "");
    // Neurodevelopmental assessment.
    case v1::Envelope::kNdReferralAccepted:
      return PATHWAY_INFO(kNd, "referral_accepted", nd_referral_accepted, referral_id, accepted_on);
    case v1::Envelope::kNdRiskAssessed:
      return PATHWAY_INFO(kNd, "risk_assessed", nd_risk_assessed, referral_id, assessed_on);
    case v1::Envelope::kNdWaitingContactMade:
      return PATHWAY_INFO(kNd, "waiting_contact", nd_waiting_contact_made, referral_id,
                          contacted_on);
    case v1::Envelope::kNdSupportOffered:
      return PATHWAY_INFO(kNd, "support_offered", nd_support_offered, referral_id, offered_on);
    case v1::Envelope::kNdAssessmentCommissioned:
      return PATHWAY_INFO(kNd, "assessment_commissioned", nd_assessment_commissioned, referral_id,
                          commissioned_on);
    case v1::Envelope::kNdFirstAppointmentAttended:
      return PATHWAY_INFO(kNd, "first_appointment_attended", nd_first_appointment_attended,
                          referral_id, attended_on);
    case v1::Envelope::kNdOutcomeRecorded:
      return PATHWAY_INFO(kNd, "outcome_recorded", nd_outcome_recorded, referral_id, decided_on);
    case v1::Envelope::kNdPostDiagnosticSupportOffered:
      return PATHWAY_INFO(kNd, "post_diagnostic_support_offered",
                          nd_post_diagnostic_support_offered, referral_id, offered_on);
    case v1::Envelope::kNdDischarged:
      return PATHWAY_INFO(kNd, "discharged", nd_discharged, referral_id, discharged_on);
    // Preparing for adulthood.
    case v1::Envelope::kPfaStarted:
      return PATHWAY_INFO(kPfa, "started", pfa_started, plan_id, started_on);
    case v1::Envelope::kPfaCareActAssessmentNeeded:
      return PATHWAY_INFO(kPfa, "care_act_assessment_needed", pfa_care_act_assessment_needed,
                          plan_id, decided_on);
    case v1::Envelope::kPfaCareActAssessmentCompleted:
      return PATHWAY_INFO(kPfa, "care_act_assessment_completed", pfa_care_act_assessment_completed,
                          plan_id, completed_on);
    case v1::Envelope::kPfaNamedWorkerAssigned:
      return PATHWAY_INFO(kPfa, "named_worker_assigned", pfa_named_worker_assigned, plan_id,
                          assigned_on);
    case v1::Envelope::kPfaHandoverPlanned:
      return PATHWAY_INFO(kPfa, "handover_planned", pfa_handover_planned, plan_id, planned_on);
    case v1::Envelope::kPfaHandoverCompleted:
      return PATHWAY_INFO(kPfa, "handover_completed", pfa_handover_completed, plan_id,
                          completed_on);
    case v1::Envelope::kPfaPlanEnded:
      return PATHWAY_INFO(kPfa, "plan_ended", pfa_plan_ended, plan_id, ended_on);
    // Exceptional Needs Grant.
    case v1::Envelope::kEngApplied:
      return PATHWAY_INFO(kEng, "applied", eng_applied, application_id, applied_on);
    case v1::Envelope::kEngDecided:
      return PATHWAY_INFO(kEng, "decided", eng_decided, application_id, decided_on);
    case v1::Envelope::kEngReviewed:
      return PATHWAY_INFO(kEng, "reviewed", eng_reviewed, application_id, reviewed_on);
    // Disagreement.
    case v1::Envelope::kDisagreementOpened:
      return PATHWAY_INFO(kDispute, "opened", disagreement_opened, case_id, decision_letter_on);
    case v1::Envelope::kMediationAdviceContacted:
      return PATHWAY_INFO(kDispute, "mediation_advice_contacted", mediation_advice_contacted,
                          case_id, contacted_on);
    case v1::Envelope::kMediationHeld:
      return PATHWAY_INFO(kDispute, "mediation_held", mediation_held, case_id, held_on);
    case v1::Envelope::kMediationCertificateIssued:
      return PATHWAY_INFO(kDispute, "certificate_issued", mediation_certificate_issued, case_id,
                          issued_on);
    case v1::Envelope::kTribunalAppealLodged:
      return PATHWAY_INFO(kDispute, "appeal_lodged", tribunal_appeal_lodged, case_id, lodged_on);
    case v1::Envelope::kDisagreementResolved:
      return PATHWAY_INFO(kDispute, "resolved", disagreement_resolved, case_id, resolved_on);
    default:
      return std::nullopt;
  }
#undef PATHWAY_INFO
}

// "draft_plan_issued" -> "draft plan issued": states and steps in sentences.
std::string Words(std::string_view snake) {
  std::string out(snake);
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

const store::PathwayInstance* FindInstance(const store::CaseState& state, v1::PathwayKind kind,
                                           const std::string& reference) {
  const store::PathwayInstance* found = nullptr;
  for (const auto& p : state.pathways()) {
    if (p.pathway() == kind && p.reference() == reference) found = &p;
  }
  return found;
}

store::PathwayInstance* FindInstanceById(store::CaseState& state, const std::string& id) {
  for (auto& p : *state.mutable_pathways()) {
    if (p.instance_id() == id) return &p;
  }
  return nullptr;
}

store::Deadline* FindDeadlineMutable(store::PathwayInstance& instance, const std::string& name) {
  store::Deadline* found = nullptr;
  for (auto& d : *instance.mutable_deadlines()) {
    if (d.name() == name) found = &d;
  }
  return found;
}

std::string InstanceId(const std::string& subject_key, const Definition& d,
                       const std::string& reference) {
  return HexEncode(Sha256("pathway.instance|" + subject_key + "|" + std::string(d.name) + "|" +
                          reference))
      .substr(0, 32);
}

// Turns a step's Outcome into events, in a fixed order.
void EmitOutcome(const store::CaseState& state, const store::PathwayInstance* instance,
                 const Definition& def, const CommandInfo& info, const std::string& instance_id,
                 CivilDate on, const Outcome& outcome, const v1::Envelope& command, TimePoint now,
                 const DecideOptions& options, uint32_t& index, std::vector<v1::Envelope>& events) {
  auto next = [&]() -> v1::Envelope& {
    events.push_back(DerivedEnvelope(command, index++, now));
    events.back().set_pathway_instance_id(instance_id);
    return events.back();
  };
  v1::Date on_proto = ToProto(on);
  {
    auto* step = next().mutable_pathway_step_recorded();
    step->set_instance_id(instance_id);
    step->set_pathway(def.kind);
    step->set_version(def.version);
    step->set_step(std::string(info.step));
    if (instance) step->set_from_state(instance->state());
    step->set_to_state(outcome.to_state.empty() ? instance->state() : outcome.to_state);
    *step->mutable_on() = on_proto;
    step->set_reference(info.reference);
    for (const auto& f : outcome.facts) *step->add_facts() = f;
  }
  std::vector<std::string> closed;
  for (const auto& name : outcome.met) {
    const store::Deadline* d = instance ? FindDeadline(*instance, name) : nullptr;
    // A late completion is still recorded (met_on), on a deadline already breached.
    if (!d || d->status() == v1::DEADLINE_STATUS_CANCELLED ||
        d->status() == v1::DEADLINE_STATUS_MET) {
      continue;
    }
    auto* met = next().mutable_deadline_met();
    met->set_instance_id(instance_id);
    met->set_name(name);
    *met->mutable_met_on() = on_proto;
    *met->mutable_due() = d->due();
    closed.push_back(name);
  }
  auto cancel = [&](const std::string& name, const std::string& reason) {
    auto* c = next().mutable_deadline_cancelled();
    c->set_instance_id(instance_id);
    c->set_name(name);
    c->set_reason(reason);
    *c->mutable_on() = on_proto;
    closed.push_back(name);
  };
  for (const auto& [name, reason] : outcome.cancel) cancel(name, reason);
  if (outcome.cancel_all_pending && instance) {
    for (const auto& d : instance->deadlines()) {
      if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
      if (std::find(closed.begin(), closed.end(), d.name()) != closed.end()) continue;
      cancel(d.name(), "the " + std::string(def.title) + " ended: " +
                           Words(outcome.to_state.empty() ? instance->state() : outcome.to_state));
    }
  }
  for (const auto& spec : outcome.set) {
    auto* s = next().mutable_deadline_set();
    s->set_instance_id(instance_id);
    s->set_name(spec.name);
    *s->mutable_due() = ToProto(spec.due);
    s->set_rule(spec.rule);
    *s->mutable_set_on() = on_proto;
    s->set_exceptable(spec.exceptable);
  }
  // The step's declared needs go to the shared record, which reuses what the family or
  // an agency already gave or asks once per validity period, whichever pathway or
  // agency needs the fact. A step that ends the instance needs nothing more.
  const std::string& to_state = outcome.to_state.empty() ? instance->state() : outcome.to_state;
  if (def.IsTerminal(to_state)) return;
  // The step's actor goes with what the record did for it (the audit names them).
  auto next_with_actor = [&]() -> v1::Envelope& {
    v1::Envelope& e = next();
    *e.mutable_actor() = command.actor();
    return e;
  };
  for (const Need& need : def.NeedsOf(info.step)) {
    DecideNeed(state, need.fact, need.asked, instance_id, command.source().agency(),
               std::string(def.name), on, options, next_with_actor);
  }
}

Decision DecidePathwayCommand(const store::CaseState& state, const v1::Envelope& command,
                              const CommandInfo& info, TimePoint now, uint32_t first_index,
                              Decision decision, const DecideOptions& options) {
  CivilDate today = CommandDay(command).value_or(LondonDate(now));
  if (info.reference.empty()) return Reject(Required(info.reference_field));
  CivilDate on = today;
  if (info.date) {
    auto d = ToCivil(*info.date);
    if (!d) {
      return Reject({info.date_field, "date.calendar", "this is not a real calendar date"});
    }
    if (std::chrono::sys_days{*d} > std::chrono::sys_days{today}) {
      return Reject({info.date_field, "date.not_in_future",
                     "this date is after the message's own date (occurred_at)"});
    }
    on = *d;
  }

  const store::PathwayInstance* instance = FindInstance(state, info.kind, info.reference);
  const Definition* def =
      instance ? FindDefinition(info.kind, instance->version()) : LatestDefinition(info.kind);
  const Transition* transition = def ? def->Find(info.step) : nullptr;
  if (!transition) return Reject(NotACommand());
  std::string title(def->title);

  if (transition->from.empty()) {
    if (instance) {
      return Reject({info.reference_field, "pathway.duplicate",
                     "a " + title + " with this reference already exists for the child"});
    }
  } else {
    if (!instance) {
      return Reject({info.reference_field, "pathway.unknown_reference",
                     "there is no " + title + " with this reference for the child"});
    }
    if (def->IsTerminal(instance->state())) {
      return Reject({"payload", "transition.after_end",
                     "the " + title + " has ended (" + Words(instance->state()) + ")"});
    }
    if (std::find(transition->from.begin(), transition->from.end(), instance->state()) ==
        transition->from.end()) {
      return Reject({"payload", "transition.not_allowed",
                     "'" + std::string(transition->label) + "' is not possible while the " + title +
                         " is at '" + Words(instance->state()) + "'"});
    }
    if (auto started = ToCivil(instance->started_on());
        started && std::chrono::sys_days{on} < std::chrono::sys_days{*started}) {
      return Reject(
          {info.date_field, "date.before_start",
           "this date is before the " + title + " started (" + FormatDate(*started) + ")"});
    }
  }

  StepResult result = transition->apply(StepInput{state, instance, command, on, today});
  if (auto* rejection = std::get_if<Rejection>(&result)) return Reject(std::move(*rejection));
  const Outcome& outcome = std::get<Outcome>(result);
  std::string instance_id =
      instance ? instance->instance_id() : InstanceId(command.subject_key(), *def, info.reference);
  uint32_t index = first_index;
  EmitOutcome(state, instance, *def, info, instance_id, on, outcome, command, now, options, index,
              decision.events);
  return decision;
}

Decision DecideReferral(const store::CaseState& state, const v1::Envelope& command,
                        const CommandInfo& info, TimePoint now, const DecideOptions& options) {
  const v1::ReferralSubmitted& referral = command.referral_submitted();
  CivilDate today = CommandDay(command).value_or(LondonDate(now));
  if (auto rejection = ValidateReferral(referral, today)) return Reject(std::move(*rejection));
  // The clocks run from the day the referral was received, however late it is sent.
  const CivilDate received_on = *ToCivil(referral.received_on());

  // The same referral sent again under a new event id (a partner's resend) is not a
  // second referral: say so rather than opening a duplicate.
  for (const auto& existing : state.referrals()) {
    if (existing.referral_id() == referral.referral_id() &&
        existing.referrer_agency() == referral.referrer().agency()) {
      return Reject({"referral_submitted.referral_id", "referral.duplicate",
                     "a referral with this id from this referrer is already open for the child"});
    }
  }

  Decision decision;
  v1::Envelope event = DerivedEnvelope(command, 0, now);
  v1::ReferralReceived* received = event.mutable_referral_received();
  received->set_referral_id(referral.referral_id());
  *received->mutable_referrer() = referral.referrer();
  received->set_reason(referral.reason());
  *received->mutable_received_on() = ToProto(received_on);
  *received->mutable_date_of_birth() = referral.child().date_of_birth();
  received->set_inbound_event_id(command.event_id());
  decision.events.push_back(std::move(event));
  return DecidePathwayCommand(state, command, info, now, 1, std::move(decision), options);
}
}  // namespace

v1::Envelope DerivedEnvelope(const v1::Envelope& command, uint32_t index, TimePoint now) {
  v1::Envelope out;
  // From the command's whole identity, not its id alone: partners' ids collide.
  out.set_event_id(DerivedEventId(CommandIdentity(command), index));
  out.set_subject_key(command.subject_key());
  out.set_pathway_instance_id(command.pathway_instance_id());
  // Out of range only in a command rejected at intake: its rejection must still print.
  if (command.has_occurred_at() && TimestampInRange(command.occurred_at())) {
    *out.mutable_occurred_at() = command.occurred_at();
  }
  SetTimestamp(out.mutable_recorded_at(), now);
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  out.set_correlation_id(command.correlation_id().empty() ? command.event_id()
                                                          : command.correlation_id());
  out.set_causation_id(command.event_id());
  return out;
}

std::optional<Rejection> ValidateReferral(const v1::ReferralSubmitted& referral, CivilDate today) {
  if (referral.referral_id().empty()) return Required("referral_submitted.referral_id");
  if (!referral.has_child()) return Required("referral_submitted.child");
  const v1::ChildIdentity& child = referral.child();
  if (child.nhs_number().empty()) return Required("referral_submitted.child.nhs_number");
  if (auto r = CheckNhsNumber(child.nhs_number(), "referral_submitted.child.nhs_number")) {
    return r;
  }
  if (child.given_name().empty()) return Required("referral_submitted.child.given_name");
  if (child.family_name().empty()) return Required("referral_submitted.child.family_name");
  if (!child.has_date_of_birth()) return Required("referral_submitted.child.date_of_birth");
  auto dob = ToCivil(child.date_of_birth());
  if (!dob) {
    return Rejection{"referral_submitted.child.date_of_birth", "date.calendar",
                     "the date of birth is not a real calendar date"};
  }
  if (!referral.has_received_on()) return Required("referral_submitted.received_on");
  auto received = ToCivil(referral.received_on());
  if (!received) {
    return Rejection{"referral_submitted.received_on", "date.calendar",
                     "the date the referral was received is not a real calendar date"};
  }
  if (std::chrono::sys_days{*received} > std::chrono::sys_days{today}) {
    return Rejection{"referral_submitted.received_on", "date.not_in_future",
                     "the referral is dated after the message itself (occurred_at)"};
  }
  if (std::chrono::sys_days{*dob} > std::chrono::sys_days{*received}) {
    return Rejection{"referral_submitted.child.date_of_birth", "date_of_birth.not_in_future",
                     "the date of birth is after the date the referral was received"};
  }
  if (referral.referrer().agency().empty()) return Required("referral_submitted.referrer.agency");
  if (referral.reason() == v1::REFERRAL_REASON_UNSPECIFIED) {
    return Required("referral_submitted.reason");
  }
  return std::nullopt;
}

Routing RouteCommand(const v1::Envelope& command) {
  if (command.payload_case() == v1::Envelope::kReferralSubmitted) {
    const v1::ReferralSubmitted& referral = command.referral_submitted();
    if (!referral.has_child()) return {{}, {}, Required("referral_submitted.child")};
    const std::string& nhs = referral.child().nhs_number();
    if (nhs.empty()) return {{}, {}, Required("referral_submitted.child.nhs_number")};
    if (auto r = CheckNhsNumber(nhs, "referral_submitted.child.nhs_number")) return {{}, {}, r};
    return {nhs, {}, std::nullopt};
  }
  const bool link = command.has_identifier_linked();
  if (!Classify(command) && !IsRecordCommand(command) && !link && !IsErasureCommand(command)) {
    return {{}, {}, NotACommand()};
  }
  const std::string& nhs = command.subject().nhs_number();
  if (nhs.empty()) {
    // A link needs the NHS number it links to; anything else may wait for a link.
    Alias alias = link ? Alias{} : AliasOf(command.subject());
    if (alias.rejection) return {{}, {}, alias.rejection};
    if (alias.hash_input.empty()) return {{}, {}, Required("subject.nhs_number")};
    return {{}, alias.hash_input, std::nullopt};
  }
  if (auto r = CheckNhsNumber(nhs, "subject.nhs_number")) return {{}, {}, r};
  return {nhs, {}, std::nullopt};
}

std::optional<CivilDate> CommandDay(const v1::Envelope& command) {
  if (!command.has_occurred_at() || !TimestampInRange(command.occurred_at())) return std::nullopt;
  auto us = command.occurred_at().seconds() * 1'000'000 + command.occurred_at().nanos() / 1000;
  return LondonDate(TimePoint(std::chrono::microseconds(us)));
}

Decision Decide(const store::CaseState& state, const v1::Envelope& command, TimePoint now,
                const DecideOptions& options) {
  if (command.event_id().empty()) return Reject(Required("event_id"));
  // Every check of "not after today" runs against the command's own day (decision 80).
  if (!CommandDay(command)) return Reject(Required("occurred_at"));
  if (auto erased = ErasedRejection(state)) return Reject(*erased);
  if (IsErasureCommand(command)) return DecideErasureCommand(state, command, now, options);
  if (IsIdentityCommand(command)) return DecideIdentityCommand(state, command, now, options);
  if (IsRecordCommand(command)) return DecideRecordCommand(state, command, now, options);
  auto info = Classify(command);
  if (!info) return Reject(NotACommand());
  if (command.payload_case() == v1::Envelope::kReferralSubmitted) {
    return DecideReferral(state, command, *info, now, options);
  }
  return DecidePathwayCommand(state, command, *info, now, 0, Decision{}, options);
}

void Apply(store::CaseState& state, const v1::Envelope& event) {
  state.set_history_length(state.history_length() + 1);
  switch (event.payload_case()) {
    case v1::Envelope::kReferralReceived: {
      const v1::ReferralReceived& received = event.referral_received();
      if (state.definition_version() == 0) {
        state.set_definition_version(kReferralDefinitionVersion);
      }
      store::ReferralRecord* record = state.add_referrals();
      record->set_referral_id(received.referral_id());
      record->set_reason(received.reason());
      *record->mutable_received_on() = received.received_on();
      record->set_referrer_agency(received.referrer().agency());
      record->set_inbound_event_id(received.inbound_event_id());
      *state.mutable_date_of_birth() = received.date_of_birth();
      break;
    }
    case v1::Envelope::kPathwayStepRecorded: {
      const auto& step = event.pathway_step_recorded();
      store::PathwayInstance* instance = FindInstanceById(state, step.instance_id());
      if (!instance) {
        instance = state.add_pathways();
        instance->set_instance_id(step.instance_id());
        instance->set_pathway(step.pathway());
        instance->set_version(step.version());
        instance->set_reference(step.reference());
        *instance->mutable_started_on() = step.on();
      }
      instance->set_state(step.to_state());
      for (const auto& f : step.facts()) *instance->add_facts() = f;
      break;
    }
    case v1::Envelope::kDeadlineSet: {
      const auto& s = event.deadline_set();
      if (auto* instance = FindInstanceById(state, s.instance_id())) {
        store::Deadline* d = instance->add_deadlines();
        d->set_name(s.name());
        *d->mutable_due() = s.due();
        d->set_status(v1::DEADLINE_STATUS_PENDING);
        d->set_rule(s.rule());
        *d->mutable_set_on() = s.set_on();
        d->set_exceptable(s.exceptable());
      }
      break;
    }
    case v1::Envelope::kDeadlineMet: {
      const auto& m = event.deadline_met();
      if (auto* instance = FindInstanceById(state, m.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, m.name())) {
          if (d->status() == v1::DEADLINE_STATUS_PENDING) d->set_status(v1::DEADLINE_STATUS_MET);
          *d->mutable_met_on() = m.met_on();
        }
      }
      break;
    }
    case v1::Envelope::kDeadlineCancelled: {
      const auto& c = event.deadline_cancelled();
      if (auto* instance = FindInstanceById(state, c.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, c.name())) {
          d->set_status(v1::DEADLINE_STATUS_CANCELLED);
        }
      }
      break;
    }
    case v1::Envelope::kDeadlineWarning: {
      const auto& w = event.deadline_warning();
      if (auto* instance = FindInstanceById(state, w.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, w.name())) d->set_warned(true);
      }
      break;
    }
    case v1::Envelope::kDeadlineBreached: {
      const auto& b = event.deadline_breached();
      if (auto* instance = FindInstanceById(state, b.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, b.name())) {
          d->set_status(b.excepted() ? v1::DEADLINE_STATUS_EXCEPTED : v1::DEADLINE_STATUS_BREACHED);
        }
      }
      break;
    }
    case v1::Envelope::kInformationRequested: {
      const auto& r = event.information_requested();
      store::InformationRequest* request = state.add_information_requests();
      request->set_instance_id(r.instance_id());
      request->set_fact(r.fact());
      *request->mutable_requested_on() = r.on();
      request->set_asked(r.asked());
      break;
    }
    default:
      if (!ApplyRecordEvent(state, event) && !ApplyIdentityEvent(state, event)) {
        (void)ApplyErasureEvent(state, event);
      }
      break;
  }
}

v1::Envelope MakeRejection(const v1::Envelope& command, const Rejection& rejection, TimePoint now) {
  v1::Envelope out = DerivedEnvelope(command, 0, now);
  // A command rejected for its ids (400 KB, control characters) is named by a digest
  // of them: the rejection stays small and printable.
  out.set_causation_id(SafeId(command.event_id()));
  out.set_correlation_id(SafeId(out.correlation_id()));
  out.set_subject_key(SafeId(out.subject_key()));
  out.set_pathway_instance_id(SafeId(out.pathway_instance_id()));
  v1::CommandRejected* r = out.mutable_command_rejected();
  r->set_rejected_event_id(SafeId(command.event_id()));
  r->set_field(rejection.field);
  r->set_rule(rejection.rule);
  r->set_reason(rejection.reason);
  return out;
}

}  // namespace pathway::workflow
