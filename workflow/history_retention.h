// Retention of a closed case's history (docs/operations.md, "Retention of the engine's
// bookkeeping"; decision 127). A closed case keeps its state for as long as its
// statutory retention runs (then it is erased), but the commands and events that led
// there, partners' messages in full among them, only for a window after it closed: then
// one HistoryTrimmed entry, carrying the case as it stood, replaces them. The history
// still folds to the case and commands after the trim are still re-decided from it; a
// command dated before it is refused (rule history.trimmed).
//
// Pure and deterministic: time is an argument. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"

namespace pathway::workflow {

// The business date `state` closed on: every pathway instance in a terminal state of
// its definition with no deadline pending, no command held for an identity link, no
// fact or information still awaited but for a pathway that ended; the latest date of
// any step recorded. nullopt while it is open, and for an erased case, an alias or a
// case with no pathway.
std::optional<CivilDate> ClosedOn(const pathway::store::v1::CaseState& state);

// The entry that removes the history before it, if retention allows it on `today`:
// the case closed at least `days` days before `today` (business dates), its last
// history entry was recorded at least `days` days before `today` (the engine's clock:
// a late message reopens the window), and there is something to remove. `history`:
// the entries the case holds (as CaseStore::History reads them). The caller appends
// it (Apply folds it to the same case, history_kept_from set) and deletes every entry
// before it. nullopt when `days` <= 0.
std::optional<pathway::v1::Envelope> TrimHistory(const std::string& subject_key,
                                                 const pathway::store::v1::CaseState& state,
                                                 const std::vector<pathway::v1::Envelope>& history,
                                                 CivilDate today, int days, TimePoint now);

}  // namespace pathway::workflow
