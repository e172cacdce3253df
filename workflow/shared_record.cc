#include "workflow/shared_record.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/crypto.h"
#include "workflow/clock.h"
#include "workflow/sharing.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kEnumPrefix = "FACT_TYPE_";

std::chrono::sys_days Days(CivilDate d) { return std::chrono::sys_days{d}; }

// The fact of `type` that a need on `on` would get: the latest recorded by then and
// still valid (valid_until is exclusive), disputed or not: the caller decides what a
// dispute means.
const v1::FactRecorded* CurrentFact(const store::CaseState& state, v1::FactType type,
                                    CivilDate on) {
  const v1::FactRecorded* current = nullptr;
  for (const auto& f : state.record_facts()) {
    if (f.type() != type) continue;
    auto recorded = ToCivil(f.recorded_on());
    auto until = ToCivil(f.valid_until());
    if (!recorded || !until || Days(*recorded) > Days(on) || Days(on) >= Days(*until)) continue;
    current = &f;
  }
  return current;
}

v1::ConsentDecision ConsentFor(const store::CaseState& state, const std::string& agency,
                               const std::string& purpose) {
  for (const auto& c : state.consents()) {
    if (c.agency() == agency && c.purpose() == purpose) return c.decision();
  }
  return v1::CONSENT_DECISION_UNSPECIFIED;
}

// Whether an agency may use a fact, and on what footing.
struct Permission {
  bool allowed = false;
  // Set when a statutory rule, not the agency's own data nor consent, allowed it: its
  // legal basis is named on the reuse or view and in the audit.
  const pathway::config::v1::SharingRule* statutory = nullptr;
};

// An agency may use a fact it gave itself, any fact with the family's consent for this
// purpose, or a fact a statutory sharing rule gives it for this purpose. Statutory
// means without consent: a refusal or withdrawal does not stop it (docs/tell-it-once.md
// section 3). Checked in that order, so a legal basis is cited only when nothing else
// allowed the use.
Permission MayUse(const store::CaseState& state, const v1::FactRecorded& fact,
                  const std::string& agency, const std::string& purpose,
                  const pathway::config::v1::StatutorySharing* sharing) {
  if (fact.source_agency() == agency ||
      ConsentFor(state, agency, purpose) == v1::CONSENT_DECISION_GRANTED) {
    return {true, nullptr};
  }
  if (sharing == nullptr) return {};
  const pathway::config::v1::SharingRule* rule =
      StatutoryBasis(*sharing, agency, purpose, fact.type());
  return {rule != nullptr, rule};
}

bool NeedOpen(const store::CaseState& state, v1::FactType type, const std::string& instance_id,
              const std::string& agency, const std::string& purpose) {
  for (const auto& n : state.open_needs()) {
    if (n.type() == type && n.instance_id() == instance_id && n.agency() == agency &&
        n.purpose() == purpose) {
      return true;
    }
  }
  return false;
}

bool RequestOpen(const store::CaseState& state, v1::FactType type, CivilDate on) {
  const std::string name = FactTypeName(type);
  for (const auto& r : state.information_requests()) {
    if (r.fact() != name) continue;
    auto asked = ToCivil(r.requested_on());
    if (asked && Days(on) < Days(AddDays(*asked, ValidityDays(type)))) {
      return true;
    }
  }
  return false;
}

void Reuse(const v1::FactRecorded& fact, const v1::FactNeeded& need, CivilDate on,
           const Permission& permission, const std::function<v1::Envelope&()>& next) {
  auto* r = next().mutable_fact_reused();
  r->set_type(need.type());
  r->set_instance_id(need.instance_id());
  r->set_agency(need.agency());
  r->set_purpose(need.purpose());
  r->set_source_event_id(fact.source_event_id());
  *r->mutable_on() = ToProto(on);
  if (permission.statutory) r->set_legal_basis(permission.statutory->legal_basis());
}

Decision Rejected(std::string field, std::string rule, std::string reason) {
  Decision d;
  d.rejection = Rejection{std::move(field), std::move(rule), std::move(reason)};
  return d;
}

Decision BadDate(std::string field) {
  return Rejected(std::move(field), "date.valid_not_future",
                  "a real calendar date, not after today");
}

// The command's own date: `date` if set (a real date, not after today), else today,
// where today is the day the partner says the command happened (decision 80).
std::optional<CivilDate> CommandDate(const v1::Date* date, CivilDate today) {
  if (date == nullptr) return today;
  auto d = ToCivil(*date);
  if (!d || Days(*d) > Days(today)) return std::nullopt;
  return d;
}
}  // namespace

int ValidityDays(v1::FactType type) {
  switch (type) {
    case v1::FACT_TYPE_IDENTITY:
      return 3650;  // a date of birth does not go stale; a name rarely changes
    case v1::FACT_TYPE_DIAGNOSES:
      return 3650;
    case v1::FACT_TYPE_DEVELOPMENTAL_HISTORY:
      return 3650;  // how the early years went: history, it does not go stale
    case v1::FACT_TYPE_SCHOOL_OBSERVATIONS:
      return 182;  // about two terms: how a child manages in class changes within a year
    case v1::FACT_TYPE_ASPIRATIONS:
      return 365;  // revisited at every review from Year 9 (SEND Regulations 2014 reg 20(6))
    case v1::FACT_TYPE_COSTED_PROVISION:
      return 365;  // a setting costs its provision for the school year
    default:
      return 365;
  }
}

std::optional<v1::FactType> FactTypeFromName(std::string_view name) {
  std::string upper(kEnumPrefix);
  for (char c : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  v1::FactType type;
  if (!v1::FactType_Parse(upper, &type) || type == v1::FACT_TYPE_UNSPECIFIED) return std::nullopt;
  return type;
}

std::string FactTypeName(v1::FactType type) {
  std::string name(v1::FactType_Name(type));
  if (name.starts_with(kEnumPrefix)) name = name.substr(kEnumPrefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string RespondentName(v1::Respondent respondent) {
  switch (respondent) {
    case v1::RESPONDENT_YOUNG_PERSON:
      return "young_person";
    case v1::RESPONDENT_CURRENT_SETTING:
      return "current_setting";
    default:
      return "family";
  }
}

std::vector<RecordItem> ViewRecord(const store::CaseState& state, const std::string& agency,
                                   const std::string& purpose, CivilDate on,
                                   const pathway::config::v1::StatutorySharing* sharing) {
  std::vector<RecordItem> items;
  for (int t = v1::FactType_MIN + 1; t <= v1::FactType_MAX; ++t) {
    if (!v1::FactType_IsValid(t)) continue;
    const v1::FactRecorded* fact = CurrentFact(state, static_cast<v1::FactType>(t), on);
    if (fact == nullptr) continue;
    const Permission permission = MayUse(state, *fact, agency, purpose, sharing);
    RecordItem item;
    item.fact = fact;
    if (fact->disputed()) {
      item.basis = "disputed";
    } else if (!permission.allowed) {
      item.basis = "no_consent";
    } else {
      item.disclosed = true;
      item.statutory = permission.statutory;
      item.basis = permission.statutory              ? "statutory"
                   : fact->source_agency() == agency ? "own"
                                                     : "consent";
    }
    items.push_back(std::move(item));
  }
  return items;
}

bool IsRecordCommand(const v1::Envelope& command) {
  return command.payload_case() == v1::Envelope::kFactProvided ||
         command.payload_case() == v1::Envelope::kConsentRecorded ||
         command.payload_case() == v1::Envelope::kRecordViewRequested;
}

std::optional<v1::Envelope> AuditFor(const v1::Envelope& event) {
  v1::AuditRecorded audit;
  if (event.has_fact_reused()) {
    const auto& r = event.fact_reused();
    audit.set_action(v1::AUDIT_ACTION_REUSE);
    audit.set_agency(r.agency());
    audit.set_purpose(r.purpose());
    audit.add_facts(r.type());
    *audit.mutable_on() = r.on();
    if (!r.legal_basis().empty()) audit.add_legal_bases(r.legal_basis());
  } else if (event.has_record_viewed()) {
    const auto& v = event.record_viewed();
    audit.set_action(v1::AUDIT_ACTION_VIEW);
    audit.set_agency(v.agency());
    audit.set_purpose(v.purpose());
    for (int type : v.disclosed()) audit.add_facts(static_cast<v1::FactType>(type));
    *audit.mutable_on() = v.on();
    *audit.mutable_legal_bases() = v.legal_bases();
  } else {
    return std::nullopt;
  }
  audit.set_actor_id(event.actor().id());
  audit.set_actor_role(event.actor().role());
  audit.set_cause_event_id(event.event_id());
  v1::Envelope out;
  out.set_event_id(DerivedEventId("audit|" + event.event_id(), 0));
  out.set_subject_key(event.subject_key());
  *out.mutable_recorded_at() = event.recorded_at();
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  out.set_correlation_id(event.correlation_id());
  out.set_causation_id(event.event_id());
  *out.mutable_audit_recorded() = std::move(audit);
  return out;
}

void DecideNeed(const store::CaseState& state, v1::FactType type, v1::Respondent asked,
                const std::string& instance_id, const std::string& agency,
                const std::string& purpose, CivilDate on, const DecideOptions& options,
                const std::function<v1::Envelope&()>& next) {
  const v1::FactRecorded* fact = CurrentFact(state, type, on);
  const Permission permission =
      fact ? MayUse(state, *fact, agency, purpose, options.sharing) : Permission{};
  if (fact && !fact->disputed() && permission.allowed) {
    v1::FactNeeded need;
    need.set_type(type);
    need.set_instance_id(instance_id);
    need.set_agency(agency);
    need.set_purpose(purpose);
    Reuse(*fact, need, on, permission, next);
    return;
  }
  // A step that runs again (a meeting rearranged) while its need still waits does not
  // open the same need twice: one answer would otherwise be reused twice for it.
  if (!NeedOpen(state, type, instance_id, agency, purpose)) {
    auto* n = next().mutable_fact_needed();
    n->set_type(type);
    n->set_instance_id(instance_id);
    n->set_agency(agency);
    n->set_purpose(purpose);
    *n->mutable_on() = ToProto(on);
  }
  // A fact the record holds is never asked for again, even if consent or a dispute
  // keeps it from this agency for now: the need waits for those instead.
  if (fact || RequestOpen(state, type, on)) return;
  auto* r = next().mutable_information_requested();
  r->set_instance_id(instance_id);
  r->set_fact(FactTypeName(type));
  *r->mutable_on() = ToProto(on);
  r->set_asked(asked);
}

Decision DecideRecordCommand(const store::CaseState& state, const v1::Envelope& command,
                             TimePoint now, const DecideOptions& options) {
  // "Today" is the day the partner says the command happened, never the processing
  // day, so the engine and simulate check the same thing (Decide requires it).
  const CivilDate today = CommandDay(command).value_or(LondonDate(now));
  Decision decision;
  uint32_t index = 0;
  auto next = [&]() -> v1::Envelope& {
    decision.events.push_back(DerivedEnvelope(command, index++, now));
    *decision.events.back().mutable_actor() = command.actor();  // who recorded it
    return decision.events.back();
  };
  if (command.payload_case() == v1::Envelope::kRecordViewRequested) {
    const v1::RecordViewRequested& v = command.record_view_requested();
    if (command.actor().id().empty()) {
      return Rejected("actor.id", "required", "every view is audited to a person");
    }
    auto on = CommandDate(v.has_requested_on() ? &v.requested_on() : nullptr, today);
    if (!on) {
      return BadDate("record_view_requested.requested_on");
    }
    auto* viewed = next().mutable_record_viewed();
    viewed->set_agency(v.agency());
    viewed->set_purpose(v.purpose());
    *viewed->mutable_on() = ToProto(*on);
    for (const RecordItem& item :
         ViewRecord(state, v.agency(), v.purpose(), *on, options.sharing)) {
      if (!item.disclosed) {
        viewed->add_withheld(item.fact->type());
        continue;
      }
      viewed->add_disclosed(item.fact->type());
      if (item.statutory) {
        const std::string& basis = item.statutory->legal_basis();
        const auto& bases = viewed->legal_bases();
        if (std::find(bases.begin(), bases.end(), basis) == bases.end()) {
          viewed->add_legal_bases(basis);
        }
      }
    }
    return decision;
  }
  if (command.payload_case() == v1::Envelope::kFactProvided) {
    const v1::FactProvided& p = command.fact_provided();
    auto on = CommandDate(p.has_provided_on() ? &p.provided_on() : nullptr, today);
    if (!on) {
      return BadDate("fact_provided.provided_on");
    }
    const std::string& agency = command.source().agency();
    const v1::FactRecorded* current = CurrentFact(state, p.type(), *on);
    // Another source saying something else: keep both, and let a caseworker decide.
    const bool disputed =
        current && current->source_agency() != agency && current->content() != p.content();
    v1::FactRecorded recorded;
    recorded.set_type(p.type());
    recorded.set_content(p.content());
    recorded.set_source_agency(agency);
    recorded.set_source_event_id(command.event_id());
    *recorded.mutable_recorded_on() = ToProto(*on);
    *recorded.mutable_valid_until() = ToProto(AddDays(*on, ValidityDays(p.type())));
    recorded.set_disputed(disputed);
    *next().mutable_fact_recorded() = recorded;
    if (disputed) {
      auto* r = next().mutable_reconciliation_opened();
      r->set_type(p.type());
      r->set_existing_event_id(current->source_event_id());
      r->set_new_event_id(command.event_id());
      *r->mutable_on() = ToProto(*on);
      return decision;
    }
    // One answer serves every open need for it at once.
    for (const auto& need : state.open_needs()) {
      if (need.type() != p.type()) continue;
      const Permission permission =
          MayUse(state, recorded, need.agency(), need.purpose(), options.sharing);
      if (permission.allowed) Reuse(recorded, need, *on, permission, next);
    }
    return decision;
  }
  const v1::ConsentRecorded& c = command.consent_recorded();
  auto on = CommandDate(c.has_recorded_on() ? &c.recorded_on() : nullptr, today);
  if (!on) {
    return BadDate("consent_recorded.recorded_on");
  }
  auto* changed = next().mutable_consent_changed();
  changed->set_agency(c.agency());
  changed->set_purpose(c.purpose());
  changed->set_decision(c.decision());
  *changed->mutable_on() = ToProto(*on);
  if (c.decision() == v1::CONSENT_DECISION_GRANTED) {
    for (const auto& need : state.open_needs()) {
      if (need.agency() != c.agency() || need.purpose() != c.purpose()) continue;
      const v1::FactRecorded* fact = CurrentFact(state, need.type(), *on);
      // Consent is the footing now: no legal basis to name.
      if (fact && !fact->disputed()) Reuse(*fact, need, *on, Permission{true, nullptr}, next);
    }
  }
  return decision;
}

bool ApplyRecordEvent(store::CaseState& state, const v1::Envelope& event) {
  switch (event.payload_case()) {
    case v1::Envelope::kFactRecorded:
      *state.add_record_facts() = event.fact_recorded();
      return true;
    case v1::Envelope::kFactNeeded:
      *state.add_open_needs() = event.fact_needed();
      return true;
    case v1::Envelope::kFactReused: {
      const v1::FactReused& r = event.fact_reused();
      auto* needs = state.mutable_open_needs();
      needs->erase(std::remove_if(needs->begin(), needs->end(),
                                  [&](const v1::FactNeeded& n) {
                                    return n.type() == r.type() &&
                                           n.instance_id() == r.instance_id() &&
                                           n.agency() == r.agency() && n.purpose() == r.purpose();
                                  }),
                   needs->end());
      return true;
    }
    case v1::Envelope::kConsentChanged: {
      const v1::ConsentChanged& c = event.consent_changed();
      for (auto& existing : *state.mutable_consents()) {
        if (existing.agency() == c.agency() && existing.purpose() == c.purpose()) {
          existing = c;
          return true;
        }
      }
      *state.add_consents() = c;
      return true;
    }
    case v1::Envelope::kReconciliationOpened:
      return true;  // the disputed flag is on the FactRecorded
    case v1::Envelope::kRecordViewed:
      return true;  // in the history (and on pathway.audit.v1); no state
    default:
      return false;
  }
}

}  // namespace pathway::workflow
