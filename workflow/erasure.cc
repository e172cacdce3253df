#include "workflow/erasure.h"

#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/retention.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

Decision Reject(Rejection r) { return Decision{{}, std::move(r)}; }

// Which kinds of record the case holds: the NHS's (a referral or a neurodevelopmental
// assessment) and the council's SEN file (every statutory SEND pathway).
std::set<RecordKind> KindsHeld(const store::CaseState& state) {
  std::set<RecordKind> kinds;
  for (const auto& p : state.pathways()) {
    switch (p.pathway()) {
      case v1::PATHWAY_KIND_REFERRAL_INTAKE:
      case v1::PATHWAY_KIND_NEURODEVELOPMENTAL:
        kinds.insert(RecordKind::kHealthRecord);
        break;
      case v1::PATHWAY_KIND_UNSPECIFIED:
        break;
      default:
        kinds.insert(RecordKind::kSenFile);
        break;
    }
  }
  return kinds;
}
}  // namespace

bool IsErasureCommand(const v1::Envelope& command) { return command.has_erasure_requested(); }

std::optional<Rejection> ErasedRejection(const store::CaseState& state) {
  if (!state.erased()) return std::nullopt;
  return Rejection{"subject", "subject_erased",
                   "this child's records were erased on request; nothing more is recorded about "
                   "them unless an operator opens a new record"};
}

Decision DecideErasureCommand(const store::CaseState& state, const v1::Envelope& command,
                              TimePoint now, const DecideOptions& options) {
  const v1::ErasureRequested& request = command.erasure_requested();
  const CivilDate today = LondonDate(now);
  if (state.erased()) return Reject(*ErasedRejection(state));
  Decision decision;
  v1::Envelope& e = decision.events.emplace_back(DerivedEnvelope(command, 0, now));
  if (!request.erased_subject_key().empty()) {
    // An alias follows its child: sent by the engine when the child's erasure completes.
    if (state.alias_kind() == v1::IDENTIFIER_KIND_UNSPECIFIED ||
        state.linked_subject_key() != request.erased_subject_key()) {
      return Reject({"erasure_requested.erased_subject_key", "not_linked",
                     "only an alias linked to the erased child is erased with them"});
    }
    e.mutable_erasure_completed()->set_events_erased(state.history_length());
    *e.mutable_erasure_completed()->mutable_on() = ToProto(today);
    return decision;
  }
  if (command.actor().id().empty()) {
    return Reject({"actor.id", "required", "an erasure must name the person who asked for it"});
  }
  RetentionFacts facts;
  facts.held = KindsHeld(state);
  auto dob = ToCivil(state.date_of_birth());
  if (!facts.held.empty() && !dob) {
    auto* refused = e.mutable_erasure_refused();
    refused->set_rule("date_of_birth_unknown");
    refused->set_reason(
        "records are held under a retention rule that runs from the date of birth, which the "
        "case does not hold; record it, then ask again");
    *refused->mutable_on() = ToProto(today);
    return decision;
  }
  if (dob) {
    facts.date_of_birth = *dob;
    // Whether the young person was 17 when treatment ended is not recorded: assume so
    // once they are 17 or older, which keeps health records to the later (26th)
    // birthday, never the earlier (docs/decisions.md 56).
    facts.aged_17_at_end_of_treatment = Birthday(*dob, 17) <= today;
  }
  ErasureDecision verdict = DecideErasure(options.retention_rules, facts, today);
  if (!verdict.allowed) {
    auto* refused = e.mutable_erasure_refused();
    refused->set_rule(verdict.rule);
    refused->set_reason(verdict.reason);
    *refused->mutable_retained_until() = ToProto(verdict.retained_until);
    *refused->mutable_on() = ToProto(today);
    return decision;
  }
  e.mutable_erasure_completed()->set_events_erased(state.history_length());
  *e.mutable_erasure_completed()->mutable_on() = ToProto(today);
  return decision;
}

bool ApplyErasureEvent(store::CaseState& state, const v1::Envelope& event) {
  if (event.has_erasure_refused()) return true;  // nothing changes
  if (!event.has_erasure_completed()) return false;
  const uint64_t length = state.history_length();
  state.Clear();
  state.set_history_length(length);
  state.set_erased(true);
  return true;
}

}  // namespace pathway::workflow
