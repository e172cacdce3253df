// What a reader sees of a child's case (pathway.v1 views, proto/pathway/v1/views.proto),
// and whether their agency may see it. The engine instance that owns the child builds
// these from its committed state (services/engine/query_service.h); nothing here
// reads or writes anything. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pathway/config/v1/config.pb.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/views.pb.h"
#include "workflow/calendar.h"

namespace pathway::workflow {

// A child's history with the commands the case kept already parsed (their event ids
// and senders), so that one read parses each kept command once, whichever views use it.
// Refers to `entries`, which must outlive it.
class CaseHistory {
 public:
  CaseHistory() = default;
  explicit CaseHistory(std::span<const pathway::v1::Envelope> entries);

  std::span<const pathway::v1::Envelope> entries() const { return entries_; }
  // Kept command's event id -> the agency that sent it. A kept command that does not
  // parse (it always should: the engine wrote it) is left out.
  const std::map<std::string, std::string>& senders() const { return senders_; }

 private:
  std::span<const pathway::v1::Envelope> entries_;
  std::map<std::string, std::string> senders_;
};

// Why `agency` may see the child's timeline, or nullopt if it may not:
// - "involved": it referred the child, sent a message about the child that the case
//   kept (any pathway command), or provided a fact of the shared record;
// - "consent: <purpose>": the family's consent to share with it is in force for that
//   purpose (the first such purpose in the order recorded).
// Statutory sharing rules are per fact type (workflow/sharing.h) and open the shared
// record's facts, not the timeline. An empty agency may see nothing.
std::optional<std::string> TimelineAccess(const pathway::store::v1::CaseState& state,
                                          const CaseHistory& history, std::string_view agency);

// The child's timeline: every pathway with its state, deadlines (status and rule),
// steps and data-quality warnings, and the newest `max_events` history entries newest
// first. Kept commands (CommandRecorded) are not listed themselves: each event they
// caused is, under the agency that sent the command (events are otherwise the
// engine's own, agency "pathway"). No content of any entry is copied.
pathway::v1::ChildTimeline BuildTimeline(std::string_view child_id,
                                         const pathway::store::v1::CaseState& state,
                                         const CaseHistory& history, size_t max_events,
                                         std::string_view access_basis);

// The child's shared record for `agency` and `purpose` on `on` (ViewRecord's rule,
// workflow/shared_record.h): disclosed facts with content and provenance, withheld ones
// by type and reason, the family's latest consent decisions about `agency`, and the
// legal bases relied on.
pathway::v1::ChildRecord BuildRecord(std::string_view child_id,
                                     const pathway::store::v1::CaseState& state,
                                     const std::string& agency, const std::string& purpose,
                                     CivilDate on,
                                     const pathway::config::v1::StatutorySharing* sharing);

// The name of an envelope's payload field ("referral_received"), or "" if none is set.
std::string PayloadKind(const pathway::v1::Envelope& envelope);

}  // namespace pathway::workflow
