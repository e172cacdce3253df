// What the engine's stages write besides decided events: dead letters, outbox
// entries, and the rule for what fits in one Kafka record. Private to the engine.
//
// Free functions without state; thread-safe as far as their arguments are. Errors are
// the store's (ReplaceByDeadLetter) or sealing's (DeadLetter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/event_bus.h"
#include "services/engine/engine_options.h"
#include "state/case_store.h"
#include "workflow/case_step.h"

namespace pathway::engine {

// Whatever the original's size, a dead letter holds its digest, its size and at most
// this much of it (sealed where a dead-letter key is configured).
inline constexpr size_t kDeadLetterExcerptBytes = 4096;
// Room for a record's framing and headers beyond its key and value.
inline constexpr size_t kRecordOverheadBytes = 512;

// "topic/partition/offset" of `m`: how logs and dead letters name a message.
std::string Coordinates(const bus::Message& m);

// Whether a record of this key and value fits `max_record_bytes`.
inline bool Fits(std::string_view key, std::string_view value, size_t max_record_bytes) {
  return key.size() + value.size() + kRecordOverheadBytes <= max_record_bytes;
}

// A dead letter for `value`, read at topic/partition/offset: reason, coordinates,
// digest, size and an excerpt, sealed under `key` (in clear if `key` is empty).
// `cause` makes the id: the same value dead-lettered twice (after a crash) has one id.
Result<pathway::v1::Envelope> DeadLetter(std::string_view cause, std::string_view topic,
                                         int32_t partition, int64_t offset, std::string_view value,
                                         std::string reason, const std::string& key);

// The topic a decided output goes to.
std::string_view TopicOf(workflow::Sink sink);

// Appends an outbox entry for `topic` to `batch`.
void AddToOutbox(state::Batch& batch, std::string_view topic, const std::string& key,
                 std::string value);

// Replaces outbox entry `sequence` of `partition` in place by a dead letter naming
// `reason` (bounded; its id made from the entry's content, so another owner refused
// the same output makes the same dead letter). Counts it in `stats`. Returns false
// (and changes nothing) if the entry is already gone.
Result<bool> ReplaceByDeadLetter(state::CaseStore& store, int32_t partition, uint64_t sequence,
                                 std::string reason, const std::string& dead_letter_key,
                                 EngineStats& stats);

}  // namespace pathway::engine
