// The audited actions on one dead letter (docs/operations.md, "Dead letters"): show its
// original, resubmit it, discard it. The one code behind `pathwayctl deadletters
// show|resubmit|discard` and the engine's routes for the gateway's operations role
// (services/engine/operations_service.h), so that both record the same trail and give
// the same JSON document.
//
// No record, no action: STARTED ("deadletters show|resubmit|discard", scope "dead
// letter PARTITION/OFFSET") is confirmed on pathway.audit.v1 before the original is
// read or anything is produced; each child the original names is recorded on their own
// trail before anything is shown; FINISHED or FAILED ends the action.
//
// Errors: the detail is what to tell the operator (no personal data, complete: print it
// as it is); the code is one of those below, deadletters.h's NoSuchDeadLetter() and
// Refused(), or the bus's own (kTimeout, kTransport, ...).
//
// Not thread-safe: one action, one thread, with its own clients.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/event_bus.h"
#include "services/operations/deadletters.h"
#include "services/operations/operation_audit.h"

namespace pathway::operations {

// The key given does not open the dead letter: it is not this deployment's.
inline std::error_code WrongDeadLetterKey() {
  return std::make_error_code(std::errc::permission_denied);
}
// The dead letter was resubmitted or discarded already (other refusals: Refused()).
inline std::error_code DeadLetterClosed() { return std::make_error_code(std::errc::file_exists); }
// A record of the audit trail was not confirmed by the broker.
inline std::error_code NotAudited() { return std::make_error_code(std::errc::operation_canceled); }

enum class DeadLetterAction { kShow, kResubmit, kDiscard };

// The dead letter at `place`, checked for `action` before anything is recorded (nothing
// is done, so nothing is recorded): NoSuchDeadLetter() if there is none; for resubmit
// and discard, DeadLetterClosed() or Refused() as RefusalToClose says;
// WrongDeadLetterKey() if it was not sealed under the key derived from `kek` (an empty
// `kek` is not checked: the sealed view of a show).
Result<DeadLetterRecord> FindForAction(bus::Consumer& consumer, DeadLetterPlace place,
                                       DeadLetterAction action, std::string_view kek,
                                       Deadline deadline);

// Who runs an action and where it is recorded. The references must outlive the action.
struct DeadLetterActor {
  AuditSink& audit;
  const Operator& who;
  std::string_view kek;  // the deployment's key-encryption key: seals the reason
  const TimeSource& time;
  Deadline deadline;  // bounds every read and write
  // Told of a FAILED record the broker did not confirm (the action's own error is
  // returned); may be empty.
  std::function<void(const std::string&)> warn;
};

// What a show shows, once every child named is recorded.
struct DeadLetterShown {
  DeadLetterRecord record;
  OriginalContent content;
  // The whole original's bytes: read from its place, or an excerpt as long as it.
  bool whole = false;
  // The original as an Envelope: only a whole one that decodes (and prints as JSON; a
  // cut one could decode into something else).
  std::optional<pathway::v1::Envelope> decoded;
  std::string envelope_json;        // EnvelopeJson(*decoded, false), when decoded
  std::vector<int> unknown_fields;  // UnknownFieldNumbers(*decoded)
  size_t children = 0;              // recorded on their own trail
  std::string operation_id;
};

// Keys a child by their NHS number as the engine's intake does (engine::SubjectKeyer).
using SubjectKeyFn = std::function<std::string(std::string_view nhs_number)>;

// Shows `record` (from FindForAction with a key): STARTED, the original opened
// (OpenOriginal; `consumer` is closed once it is read), ChildShown for each child it
// names, `show` called once, FINISHED. Errors before `show`: NotAudited() ("nothing
// shown: ...") or the read's (FAILED recorded); after it only NotAudited() for a
// FINISHED not confirmed.
Status ShowDeadLetter(const DeadLetterActor& actor, const DeadLetterRecord& record,
                      bus::Consumer& consumer, const SubjectKeyFn& subject_key,
                      const std::function<void(const DeadLetterShown&)>& show);

// Resubmits or discards `record` (from FindForAction): STARTED, Resubmit or Discard
// (`producer` delivers through `waiter`; `consumer` is closed once read), `done` called
// once with the dead letter as closed and the operation id, FINISHED. Errors before
// `done`: NotAudited() ("nothing done: ..."), Refused() (the original is gone, differs
// or does not decode) or the bus's (FAILED recorded; a resubmit whose copy was
// confirmed says so and that running it again is safe); after it only NotAudited().
Status CloseDeadLetter(const DeadLetterActor& actor, const DeadLetterRecord& record,
                       DeadLetterAction action, bus::Consumer& consumer, bus::Producer& producer,
                       DeliveryWaiter& waiter,
                       const std::function<void(const DeadLetterRecord& closed,
                                                const std::string& operation_id)>& done);

// --- The JSON documents `pathwayctl deadletters ... --json` prints ----------------------

// One dead letter as the list gives it: place, when, reason (masked), original,
// disposition. No personal data.
std::string DeadLetterJson(const DeadLetterRecord& r);
// A show: the dead letter, its content and the operation. The bytes in hex when they
// do not decode, or when `hex`.
std::string ShownJson(const DeadLetterShown& shown, bool hex);
// A resubmit or discard: the dead letter as closed and the operation.
std::string ClosedJson(const DeadLetterRecord& closed, std::string_view operation_id);
// The Envelope as protobuf JSON (compact, or with white space for people); nullopt if
// it has no JSON form (a timestamp out of JSON's range).
std::optional<std::string> EnvelopeJson(const pathway::v1::Envelope& e, bool pretty);
// The name of the Envelope's payload field ("no payload it knows" if none is set).
std::string PayloadName(const pathway::v1::Envelope& e);

}  // namespace pathway::operations
