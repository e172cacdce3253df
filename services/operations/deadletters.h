// Dead letters as operations see them (docs/operations.md, "Dead letters"): the records
// of pathway.deadletter.v1 with what operations decided about each (its disposition on
// pathway.deadletter.dispositions.v1), the originals they name, and the two ways a dead
// letter is closed: resubmitted (its original produced again to pathway.inbound.v1) or
// discarded. Over the bus interfaces, so that tests run it on the memory bus. The
// audited actions over it (deadletter_actions.h) are run by `pathwayctl deadletters`
// and by the engine for the gateway's operations role.
//
// Every read is bounded by a deadline: a partition is read up to the end offset asked
// of the broker when the read began, never waited on for more. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/event_bus.h"
#include "services/operations/deadletter_place.h"

namespace pathway::operations {

using Deadline = std::chrono::steady_clock::time_point;

// The errors the operations layer tells apart (the command maps them to exit codes).
// Others are the bus's own (kTimeout, kTransport, ...).
inline std::error_code NoSuchDeadLetter() {
  return std::make_error_code(std::errc::invalid_argument);
}
// The action is refused: the dead letter is closed, its original is gone or differs,
// or it could never be processed. Nothing was changed.
inline std::error_code Refused() {
  return std::make_error_code(std::errc::operation_not_permitted);
}

// What a failed read or action tells the operator: the detail alone for the two
// errors above, the error with its kind otherwise.
std::string DeadLetterErrorText(const Error& e);

// One record of pathway.deadletter.v1 and its disposition.
struct DeadLetterRecord {
  DeadLetterPlace place;
  int64_t timestamp_ms = 0;        // when it was written (the record's timestamp); 0: unknown
  pathway::v1::Envelope envelope;  // holds the DeadLettered (its excerpt still sealed)
  std::optional<pathway::store::v1::DeadLetterDisposition> disposition;  // none: open

  const pathway::v1::DeadLettered& dead() const { return envelope.dead_lettered(); }
  // The key of its disposition: its event id, which every copy of one dead letter
  // shares (the engine derives it from what was dead-lettered), so a dead letter the
  // engine wrote twice is closed once.
  std::string DispositionKey() const;
  // Whether intake wrote it (its original is a record of pathway.inbound.v1). Otherwise
  // the outbox did: an output the broker refused, which is on no topic.
  bool FromIntake() const;
  // "open", "resubmitted" or "discarded".
  std::string_view DispositionText() const;
  // "topic/partition/offset" of the original.
  std::string OriginalText() const;
};

// The record as a dead letter; nullopt if it is none (not an Envelope holding a
// DeadLettered).
std::optional<DeadLetterRecord> ParseDeadLetterRecord(const bus::Message& m);

// The reason as it may be shown to anyone: every run of ten or more digits (with the
// spaces or hyphens NHS numbers are written with) masked, at most 512 bytes.
std::string ShownReason(std::string_view reason);

// Milliseconds since the epoch as "2026-01-05T09:00:00.123Z"; "" for 0.
std::string UtcText(int64_t ms);

// --- Reading (each bounded by `deadline`; kTimeout past it) -----------------------------

// Calls `each` with every record of every partition of `topic` below the end offsets
// asked of the broker at the start, partition by partition in offset order.
Status ReadToEnd(bus::Consumer& consumer, const std::string& topic, Deadline deadline,
                 const std::function<void(const bus::Message&)>& each);
// The same from `from` (partition -> first offset; partitions not named are not read;
// empty: every partition from its start).
Status ReadFrom(bus::Consumer& consumer, const std::string& topic,
                const std::map<int32_t, int64_t>& from, Deadline deadline,
                const std::function<void(const bus::Message&)>& each);

// The record at topic/partition/offset, or nullopt when it is not there (deleted by
// retention or an erasure purge, beyond the end, or no such partition).
Result<std::optional<bus::Message>> ReadAt(bus::Consumer& consumer, const std::string& topic,
                                           int32_t partition, int64_t offset, Deadline deadline);

// The latest disposition of each dead letter, by DispositionKey.
Result<std::map<std::string, pathway::store::v1::DeadLetterDisposition>> ReadDispositions(
    bus::Consumer& consumer, Deadline deadline);

// Every dead letter with its disposition, oldest first (timestamp, partition, offset).
// Records of the topic that are no dead letter are skipped.
Result<std::vector<DeadLetterRecord>> ListDeadLetters(bus::Consumer& consumer, Deadline deadline);

// The dead letter at `place` with its disposition; NoSuchDeadLetter() if there is none.
Result<DeadLetterRecord> FindDeadLetter(bus::Consumer& consumer, DeadLetterPlace place,
                                        Deadline deadline);

// --- The original ------------------------------------------------------------------------

// The key the engine seals excerpts under: derived from the key-encryption key.
std::string DeadLetterKey(std::string_view kek);

// The whole original read from its place, if it is still there and is the original
// (its SHA-256 and size match). Refused() naming why not: an output of the outbox (on
// no topic), no longer on its topic, or the record there differs.
Result<bus::Message> ReadFullOriginal(bus::Consumer& consumer, const DeadLetterRecord& record,
                                      Deadline deadline);

// What an operator holding the dead-letter key may see of the original.
struct OriginalContent {
  std::string bytes;
  bool full = false;        // the whole original (ReadFullOriginal); else the dead letter's excerpt
  std::string why_excerpt;  // when not full: why the whole original was not read
};
Result<OriginalContent> OpenOriginal(bus::Consumer& consumer, const DeadLetterRecord& record,
                                     std::string_view dead_letter_key, Deadline deadline);

// Whether `dead_letter_key` is the one the excerpt was sealed under (true for a dead
// letter whose excerpt is in clear). Opens the excerpt and keeps nothing of it: a check
// of the operator's key before an action starts, so that a reason is never sealed on
// the audit trail under another deployment's key.
bool SealedUnder(const DeadLetterRecord& record, std::string_view dead_letter_key);

// The numbers of the unknown fields of `e` and its messages (a newer schema's), sorted.
std::vector<int> UnknownFieldNumbers(const pathway::v1::Envelope& e);

// A hex dump: offset, 16 bytes in hex, the printable ones as text.
std::string HexDump(std::string_view bytes);

// --- Closing a dead letter ------------------------------------------------------------------

// Waits for the delivery report of each message sent through one producer, one at a
// time. Make it before the producer (whose callback it gives) and let it outlive it.
class DeliveryWaiter {
 public:
  bus::DeliveryCallback Callback();
  // Sends `message` and waits (bounded) for its report: the delivery (partition and
  // offset written) or an error.
  Result<bus::Delivery> Send(bus::Producer& producer, const bus::Outgoing& message,
                             Deadline deadline);

 private:
  std::mutex mu_;
  std::optional<bus::Delivery> report_;
};

// Who closes a dead letter, as its disposition records it.
struct Closer {
  std::string operation_id;
  std::string operator_id;
  int64_t at_ms = 0;
};

// Why `record` cannot be closed now (already closed; for a resubmit also: an output of
// the outbox), or nullopt. Only what the dead letter itself says: the original is
// checked by Resubmit.
std::optional<std::string> RefusalToClose(const DeadLetterRecord& record, bool resubmit);

// The outcome of Resubmit: the disposition recorded, or where it stopped.
struct ResubmitResult {
  // Set once the copy is confirmed on pathway.inbound.v1.
  std::optional<bus::Delivery> copy;
  // The disposition, once recorded.
  std::optional<pathway::store::v1::DeadLetterDisposition> disposition;
  uint64_t bytes = 0;
};

// Produces the whole original (ReadFullOriginal; it must decode as an Envelope) again to
// pathway.inbound.v1, to its original partition with its original key, then records
// the disposition RESUBMITTED. Refused() (nothing produced) if RefusalToClose says so
// or the original is gone, differs or does not decode. An error after the copy was
// confirmed leaves `result.copy` set and the dead letter open: running it again is
// safe, since the engine drops a repeated event id (docs/operations.md).
Status Resubmit(bus::Consumer& consumer, bus::Producer& producer, DeliveryWaiter& waiter,
                const DeadLetterRecord& record, const Closer& closer, Deadline deadline,
                ResubmitResult& result);

// Records the disposition DISCARDED. Refused() if RefusalToClose says so.
Result<pathway::store::v1::DeadLetterDisposition> Discard(bus::Producer& producer,
                                                          DeliveryWaiter& waiter,
                                                          const DeadLetterRecord& record,
                                                          const Closer& closer, Deadline deadline);

}  // namespace pathway::operations
