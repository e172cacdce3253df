// OutboxSender: sends each owned partition's outbox (the outputs and changelog
// records its commits queued) with the producer, and deletes the entries whose
// delivery report confirms them (Committer::Delivered says kConfirmed). Where a commit
// decides instead (transactions), the Committer deletes what its commit carried and
// the sender only hands entries over. Private to the engine.
//
// Per partition it keeps a cursor (the first sequence not yet handed to the
// producer), the entries in flight and those confirmed since the last DeleteDelivered
// (deleted then, one write per partition, without reading them: decision 99). Where
// each record is confirmed by its own delivery (Committer::confirms_each_delivery),
// two orders hold: a changelog record is sent only once every output before it is
// confirmed (outputs are not mirrored, decision 107: what a restore rebuilds has its
// outputs out already), and nothing after a new data key's changelog record is sent
// until every entry up to it is confirmed (OutboxEntry.confirm_before_later). A send
// or delivery that failed but may pass later rewinds the cursor and pauses the
// partition (retry_backoff_min, doubling up to retry_backoff_max); an entry the broker
// refused for good is replaced in place by a dead letter, which is sent next. Records
// go out with opaque DeliveryRouter::Opaque(kOutbox, LocalOpaque(...)); the Engine
// routes their reports to OnDelivery.
//
// Ownership: references the context, the producer and the committer, which must
// outlive it; stores are looked up in the context's StoreSet on every use (a revoked
// partition's store is gone). Not thread-safe: engine thread only. Errors: the
// store's, the producer's fatal ones, and the context's sticky error; transient send
// failures are retried, never returned.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "services/bus/event_bus.h"
#include "services/engine/committer.h"
#include "services/engine/doubling_pause.h"
#include "services/engine/stage_context.h"
#include "state/case_store.h"

namespace pathway::engine {

class OutboxSender {
 public:
  OutboxSender(StageContext& context, bus::Producer& producer, Committer& committer)
      : context_(context), producer_(producer), committer_(committer) {}

  // The outbox channel's part of an entry's opaque: its partition and sequence
  // (sequences stay below 2^40), and whether it is a mirrored output (its deletion
  // queues a tombstone, OutboxEntry.mirrored), so that a delivery report needs no read
  // to tell.
  static uint64_t LocalOpaque(int32_t partition, uint64_t sequence, bool mirrored);

  // Forgets every cursor: the outbox is sent again from its start.
  void Reset();
  // `partition` is owned from now on: its outbox is sent from its start.
  void Assigned(int32_t partition);
  // `partition` is no longer owned.
  void Revoked(int32_t partition);

  // One pass over every owned partition. A partition that stopped after new data keys'
  // records goes on once they are confirmed, waiting at most new_key_wait once for all.
  Status SendOwned();
  // One pass over `partition`: up to outbox_batch entries.
  Status Send(int32_t partition, state::CaseStore& store);
  // Deletes the entries confirmed since the last call, one write per partition.
  Status DeleteDelivered();
  // The first sequence of `partition` not yet handed to the producer.
  uint64_t NextUnsent(int32_t partition) const;

  // A delivery report of an outbox entry (`local` is LocalOpaque's value).
  void OnDelivery(uint64_t local, const bus::Delivery& delivery);

 private:
  // Replaces entry `sequence` by a dead letter naming `reason`.
  Status DeadLetterOutput(int32_t partition, state::CaseStore& store, uint64_t sequence,
                          std::string reason);
  // Backs `partition` off after a transient failure.
  void BackOff(int32_t partition);

  StageContext& context_;
  bus::Producer& producer_;
  Committer& committer_;
  // Per owned partition: the first outbox sequence not yet handed to the producer.
  std::map<int32_t, uint64_t> next_unsent_;
  // Per partition: the sequence of the last new data key's changelog record sent;
  // nothing after it is sent until everything up to it is confirmed.
  std::map<int32_t, uint64_t> confirm_first_;
  // Per partition, where deliveries confirm: entries handed to the producer and not
  // yet confirmed (bounded by what one Step sends plus failed ones), and of those the
  // outputs (not changelog records), which later changelog records wait for.
  std::map<int32_t, std::set<uint64_t>> unconfirmed_;
  std::map<int32_t, std::set<uint64_t>> unconfirmed_outputs_;
  // Per partition: outputs sent ahead of the cursor while a changelog record before
  // them waited for earlier outputs; the cursor skips them when it gets there.
  std::map<int32_t, std::set<uint64_t>> sent_ahead_;
  // Per partition: entries confirmed since the last DeleteDelivered.
  std::map<int32_t, std::vector<state::Delivered>> delivered_;
  // Entries the broker refused for good, per partition: (sequence, detail); the next
  // pass over the partition moves them to the dead-letter topic.
  std::map<int32_t, std::vector<std::pair<uint64_t, std::string>>> refused_;
  // Per partition: no sends until the pause after a transient failure has passed.
  std::map<int32_t, DoublingPause> send_backoff_;
};

}  // namespace pathway::engine
