#include "workflow/workflow.h"

#include <google/protobuf/timestamp.pb.h>

#include "common/crypto.h"
#include "workflow/identifiers.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

Rejection Required(std::string field) {
  return {std::move(field), "required", "this field is required"};
}

void SetTimestamp(google::protobuf::Timestamp* ts, TimePoint t) {
  auto us = t.time_since_epoch().count();
  ts->set_seconds(us / 1'000'000);
  ts->set_nanos(static_cast<int32_t>((us % 1'000'000) * 1000));
}

// Envelope fields every event the engine emits shares with its command.
v1::Envelope DerivedEnvelope(const v1::Envelope& command, uint32_t index, TimePoint now) {
  v1::Envelope out;
  out.set_event_id(DerivedEventId(command.event_id(), index));
  out.set_subject_key(command.subject_key());
  out.set_pathway_instance_id(command.pathway_instance_id());
  if (command.has_occurred_at()) *out.mutable_occurred_at() = command.occurred_at();
  SetTimestamp(out.mutable_recorded_at(), now);
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  out.set_correlation_id(command.correlation_id().empty() ? command.event_id()
                                                          : command.correlation_id());
  out.set_causation_id(command.event_id());
  return out;
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

Decision DecideReferral(const store::CaseState& state, const v1::Envelope& command, TimePoint now) {
  const v1::ReferralSubmitted& referral = command.referral_submitted();
  CivilDate today = LondonDate(now);
  if (auto rejection = ValidateReferral(referral, today)) return Reject(std::move(*rejection));

  // The same referral sent again under a new event id (a partner's resend) is not a
  // second referral: say so rather than opening a duplicate.
  for (const auto& existing : state.referrals()) {
    if (existing.referral_id() == referral.referral_id() &&
        existing.referrer_agency() == referral.referrer().agency()) {
      return Reject({"referral_submitted.referral_id", "referral.duplicate",
                     "a referral with this id from this referrer is already open for the child"});
    }
  }

  v1::Envelope event = DerivedEnvelope(command, 0, now);
  v1::ReferralReceived* received = event.mutable_referral_received();
  received->set_referral_id(referral.referral_id());
  *received->mutable_referrer() = referral.referrer();
  received->set_reason(referral.reason());
  *received->mutable_received_on() = ToProto(today);
  *received->mutable_date_of_birth() = referral.child().date_of_birth();
  received->set_inbound_event_id(command.event_id());
  Decision decision;
  decision.events.push_back(std::move(event));
  return decision;
}
}  // namespace

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
  if (std::chrono::sys_days{*dob} > std::chrono::sys_days{today}) {
    return Rejection{"referral_submitted.child.date_of_birth", "date_of_birth.not_in_future",
                     "the date of birth is after today's date"};
  }
  if (referral.referrer().agency().empty()) return Required("referral_submitted.referrer.agency");
  if (referral.reason() == v1::REFERRAL_REASON_UNSPECIFIED) {
    return Required("referral_submitted.reason");
  }
  return std::nullopt;
}

Routing RouteCommand(const v1::Envelope& command) {
  switch (command.payload_case()) {
    case v1::Envelope::kReferralSubmitted: {
      const v1::ReferralSubmitted& referral = command.referral_submitted();
      if (!referral.has_child()) return {{}, Required("referral_submitted.child")};
      const std::string& nhs = referral.child().nhs_number();
      if (nhs.empty()) return {{}, Required("referral_submitted.child.nhs_number")};
      if (auto r = CheckNhsNumber(nhs, "referral_submitted.child.nhs_number")) return {{}, r};
      return {nhs, std::nullopt};
    }
    default:
      return {{}, NotACommand()};
  }
}

Decision Decide(const store::CaseState& state, const v1::Envelope& command, TimePoint now) {
  if (command.event_id().empty()) return Reject(Required("event_id"));
  switch (command.payload_case()) {
    case v1::Envelope::kReferralSubmitted:
      return DecideReferral(state, command, now);
    default:
      return Reject(NotACommand());
  }
}

void Apply(store::CaseState& state, const v1::Envelope& event) {
  state.set_history_length(state.history_length() + 1);
  if (event.payload_case() == v1::Envelope::kReferralReceived) {
    const v1::ReferralReceived& received = event.referral_received();
    if (state.definition_version() == 0) state.set_definition_version(kReferralDefinitionVersion);
    store::ReferralRecord* record = state.add_referrals();
    record->set_referral_id(received.referral_id());
    record->set_reason(received.reason());
    *record->mutable_received_on() = received.received_on();
    record->set_referrer_agency(received.referrer().agency());
    record->set_inbound_event_id(received.inbound_event_id());
    *state.mutable_date_of_birth() = received.date_of_birth();
  }
}

v1::Envelope MakeRejection(const v1::Envelope& command, const Rejection& rejection, TimePoint now) {
  v1::Envelope out = DerivedEnvelope(command, 0, now);
  v1::CommandRejected* r = out.mutable_command_rejected();
  r->set_rejected_event_id(command.event_id());
  r->set_field(rejection.field);
  r->set_rule(rejection.rule);
  r->set_reason(rejection.reason);
  return out;
}

}  // namespace pathway::workflow
