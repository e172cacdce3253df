// The shared record's decisions ("tell it once", docs/tell-it-once.md): reuse a fact
// the record already holds, or ask the family, at most once per fact type per
// validity period; record facts (opening a reconciliation when sources disagree) and
// consent decisions, and serve every open need a new fact or consent makes servable.
// Pure functions over the case state, like the rest of workflow/. Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/workflow.h"

namespace pathway::workflow {

// How long a fact stays valid, per type, and so how often the family may be asked
// for it. Advice older than a year is stale (agreed default; see open questions in
// docs/tell-it-once.md).
int ValidityDays(pathway::v1::FactType type);

// "family_views" <-> FACT_TYPE_FAMILY_VIEWS (the names pathway steps use).
std::optional<pathway::v1::FactType> FactTypeFromName(std::string_view name);
std::string FactTypeName(pathway::v1::FactType type);
// Who was asked: "family", "young_person" or "current_setting". A request recorded
// before respondents were named (RESPONDENT_UNSPECIFIED) went to the family.
std::string RespondentName(pathway::v1::Respondent respondent);

// Who may use a fact: the agency that gave it; any agency the family consented to for
// the purpose (ConsentChanged, latest decision per agency and purpose); or an agency a
// statutory rule in `options.sharing` covers for the purpose and fact type
// (workflow/sharing.h). A statutory rule applies whatever the family decided about
// consent (a refusal or withdrawal does not stop it: that is what statutory means),
// and only when neither own data nor consent allowed the use is its legal basis named:
// FactReused.legal_basis, RecordViewed.legal_bases, then AuditRecorded.legal_bases.

// What `agency` may see of the record for `purpose` on `on`: every fact current then
// (one per type, in FactType order), disclosed or withheld, and on what footing. One
// rule for RecordViewRequested (RecordViewed lists the types) and for the engine's
// read endpoint, which shows the disclosed facts' content (services/engine/
// query_service.h). Consent is read as of the state given: a withdrawal hides a fact
// at once unless a statutory rule shows it. Points into `state` and `sharing`.
struct RecordItem {
  const pathway::v1::FactRecorded* fact = nullptr;
  bool disclosed = false;
  // Disclosed: "own" (the agency gave it), "consent" or "statutory". Withheld:
  // "disputed" (a caseworker must reconcile it first) or "no_consent".
  std::string basis;
  const pathway::config::v1::SharingRule* statutory = nullptr;  // set for "statutory"
};
std::vector<RecordItem> ViewRecord(const pathway::store::v1::CaseState& state,
                                   const std::string& agency, const std::string& purpose,
                                   CivilDate on,
                                   const pathway::config::v1::StatutorySharing* sharing);

// FactProvided, ConsentRecorded and RecordViewRequested: commands about the record
// rather than a pathway. Their events carry the command's actor (who recorded it).
bool IsRecordCommand(const pathway::v1::Envelope& command);
Decision DecideRecordCommand(const pathway::store::v1::CaseState& state,
                             const pathway::v1::Envelope& command, TimePoint now,
                             const DecideOptions& options);

// A pathway step (`instance_id`) needs `type` for `agency` and `purpose` on `on`. Adds,
// through `next` (which appends an event and returns it): FactReused if a valid fact
// may be used; otherwise FactNeeded (unless the same need is already open), and
// InformationRequested to `asked` only if no request for the type was made within its
// validity period and no valid fact exists (a fact that consent or a reconciliation
// blocks is not asked for again). Pathway steps reach this only through their
// definition's declared needs (Definition::needs, workflow.cc).
void DecideNeed(const pathway::store::v1::CaseState& state, pathway::v1::FactType type,
                pathway::v1::Respondent asked, const std::string& instance_id,
                const std::string& agency, const std::string& purpose, CivilDate on,
                const DecideOptions& options, const std::function<pathway::v1::Envelope&()>& next);

// The audit record (for pathway.audit.v1) of an event that shows or reuses part of the
// record (RecordViewed, FactReused); nullopt for any other event. Deterministic id.
std::optional<pathway::v1::Envelope> AuditFor(const pathway::v1::Envelope& event);

// Folds a record event into `state`; false if `event` is not one.
bool ApplyRecordEvent(pathway::store::v1::CaseState& state, const pathway::v1::Envelope& event);

}  // namespace pathway::workflow
