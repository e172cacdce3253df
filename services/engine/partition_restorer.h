// PartitionRestorer: makes a partition's store current when this instance is
// assigned the partition. Private to the engine.
//
// Each partition of pathway.commands.v1 has its own store (StoreSet), mirrored to the
// same partition of pathway.engine.cases.changelog through the outbox. TakeOver
// writes a fence (a fresh owner id) to the changelog partition, on its own
// (Committer::SendAlone), and waits for it to be delivered. Then, if the local store
// has a fence and nobody else fenced the partition since, it keeps the store (reading
// only the changelog after its own fence); otherwise it wipes the store and rebuilds
// it from the changelog up to the new fence. A changelog that does not start with a
// fence has lost records: the store is then rebuilt by processing pathway.commands.v1
// from its start instead. A store kept although its own fence is gone from the
// changelog (the topic recreated or emptied, nobody fenced it since: a restored backup,
// or a store that outlived its changelog) holds what the changelog lost, so TakeOver
// re-seeds the changelog from it (CaseStore::StartReseed, decision 133), queueing a
// record of every key before the partition is processed. Finally it lets the Committer
// adopt what it committed for the partition (Committer::Restored) and reports the
// offset to resume from. Without a changelog topic the store is used as it is.
//
// The fence goes out with opaque DeliveryRouter::Opaque(kFence, 0); the Engine routes
// its report to OnFenceDelivery.
//
// Ownership: references the context, producer, restore consumer (assigned here, no
// group) and committer, which must outlive it. Not thread-safe: engine thread only.
// Errors: the store's and the bus's, and kTimeout when the fence is not delivered or
// the changelog not read up to it within restore_timeout; the partition must then not
// be processed (the process restarts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "services/bus/event_bus.h"
#include "services/engine/committer.h"
#include "services/engine/stage_context.h"

namespace pathway::engine {

class PartitionRestorer {
 public:
  PartitionRestorer(StageContext& context, bus::Producer& producer, bus::Consumer& restore,
                    Committer& committer)
      : context_(context), producer_(producer), restore_(restore), committer_(committer) {}

  struct Takeover {
    int64_t next_offset = 0;     // of pathway.commands.v1; kOffsetBeginning if none stored
    bool purge_pending = false;  // an erasure's landing records still wait for deletion
  };
  // Makes `partition`'s store current and opens it (see above).
  Result<Takeover> TakeOver(int32_t partition);

  // The fence's delivery report.
  void OnFenceDelivery(uint64_t local, const bus::Delivery& delivery);

 private:
  // Writes a fence naming `owner`; its offset in the changelog.
  Result<int64_t> ProduceFence(int32_t partition, const std::string& owner);
  // Queues what is left of a re-seed the store is marked for (none: nothing).
  Status Reseed(int32_t partition, state::CaseStore& store);

  // Keys per re-seed write: one atomic write each, and one confirmation each.
  static constexpr size_t kReseedKeysPerWrite = 4096;

  StageContext& context_;
  bus::Producer& producer_;
  bus::Consumer& restore_;
  Committer& committer_;
  // The fence being produced: its delivery report fills this.
  std::optional<bus::Delivery> fence_delivery_;
};

}  // namespace pathway::engine
