#include "services/engine/partition_restorer.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/crypto.h"
#include "common/log.h"
#include "services/engine/delivery_router.h"
#include "services/topics.h"
#include "state/errc.h"

namespace pathway::engine {
using std::chrono::milliseconds;

void PartitionRestorer::OnFenceDelivery(uint64_t /*local*/, const bus::Delivery& delivery) {
  fence_delivery_ = delivery;
}

Result<int64_t> PartitionRestorer::ProduceFence(int32_t partition, const std::string& owner) {
  pathway::store::v1::OutboxEntry fence = state::CaseStore::FenceRecord(owner);
  fence_delivery_.reset();
  bus::Outgoing out{topics::kChangelog, fence.key(), fence.value()};
  out.partition = partition;
  if (auto s =
          committer_.SendAlone(out, DeliveryRouter::Opaque(DeliveryRouter::Channel::kFence, 0));
      !s) {
    return s.error();
  }
  auto deadline = std::chrono::steady_clock::now() + context_.options.restore_timeout;
  // Bounded: Flush waits at most 100 ms a pass and the deadline ends the loop.
  while (!fence_delivery_) {
    (void)producer_.Flush(milliseconds(100));
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{make_error_code(bus::errc::kTimeout), "changelog fence not delivered"};
    }
  }
  if (fence_delivery_->error) {
    return Error{fence_delivery_->error, "changelog fence: " + fence_delivery_->error_detail};
  }
  return fence_delivery_->offset;
}

Result<PartitionRestorer::Takeover> PartitionRestorer::TakeOver(int32_t partition) {
  state::StoreSet& stores = context_.stores;
  const bool existed = stores.ExistsOnDisk(partition);
  auto opened = stores.Open(partition);
  if (!opened) return opened.error();
  state::CaseStore* store = *opened;
  auto resume = [&](state::CaseStore* s) -> Result<Takeover> {
    Takeover out;
    // An erasure whose landing records were not deleted yet: go on trying.
    auto purge = s->PurgePending();
    if (!purge) return purge.error();
    out.purge_pending = *purge;
    auto next = s->NextOffset(topics::kCommands, partition);
    if (!next) return next.error();
    out.next_offset = next->value_or(bus::kOffsetBeginning);
    return out;
  };
  if (stores.changelog_topic().empty()) return resume(store);

  auto random = RandomBytes(16);
  if (!random) return random.error();
  std::string owner = HexEncode(*random);
  // Noted first: should this takeover stop before SaveLocalFence, the next one must
  // not take this fence for another owner's and throw away a store that is current
  // (or, over a lost changelog, the only copy).
  auto noted = store->NotedOwners();
  if (!noted) return noted.error();
  if (auto s = store->NoteOwner(owner); !s) return s.error();
  auto fenced = ProduceFence(partition, owner);
  if (!fenced) return fenced.error();
  const int64_t fence_offset = *fenced;

  auto local = store->LocalFence();
  if (!local) return local.error();
  // Pass 1 (when this store has a fence): is the local copy still the truth, i.e. has
  // nobody else fenced the partition since? Pass 2 (otherwise): rebuild from the log.
  bool full = !local->has_value();
  bool truncated = false;
  bool reseed = false;  // the local store is kept over a changelog that lost its records
  state::RestoreFilter filter;
  auto deadline = std::chrono::steady_clock::now() + context_.options.restore_timeout;
  if (full && existed) {
    // No fence: a restore that did not finish, or a store from before the changelog.
    // Rebuild from scratch.
    if (auto s = stores.Wipe(partition); !s) return s.error();
    auto reopened = stores.Open(partition);
    if (!reopened) return reopened.error();
    store = *reopened;
  }
  for (int pass = full ? 2 : 1; pass <= 2; ++pass) {
    int64_t start = pass == 1 ? (*local)->offset : bus::kOffsetBeginning;
    // Unassigned first: re-assigning a partition that is still assigned (pass 2 after
    // pass 1, or a partition taken over before) can let messages fetched for the old
    // position reach Poll ahead of the new ones.
    if (auto s = restore_.Assign({}); !s) return s.error();
    if (auto s = restore_.Assign({{std::string(topics::kChangelog), partition, start}}); !s) {
      return s.error();
    }
    // Messages fetched for an earlier position that get through anyway are recognised
    // by their offsets: a read from `start` moves strictly upwards to the fence, and
    // nothing past the fence belongs to this takeover.
    int64_t last = -1;
    bool valid = true;
    bool first = true;
    std::vector<state::ChangelogRecord> chunk;
    auto flush = [&]() -> Status {
      if (chunk.empty()) return {};
      auto s = store->ApplyChangelog(chunk, filter);
      chunk.clear();
      return s;
    };
    bool reached = false;
    while (!reached) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return Error{make_error_code(bus::errc::kTimeout),
                     "changelog partition " + std::to_string(partition) + " not read to its fence"};
      }
      auto polled = restore_.Poll(milliseconds(200));
      if (!polled) return polled.error();
      if (!polled->has_value()) continue;
      const bus::Message& m = **polled;
      if (m.partition != partition) continue;
      if (m.offset > fence_offset || m.offset <= last) continue;
      if (pass == 1 && m.offset < start) continue;
      last = m.offset;
      reached = m.offset == fence_offset;
      std::string key = m.key.value_or("");
      auto fence_owner = state::CaseStore::FenceOwner(key);
      if (pass == 1) {
        if (first && (m.offset != (*local)->offset || fence_owner != (*local)->owner)) {
          // Our fence is gone: the topic was truncated or recreated. Only a fence of
          // another owner proves the local copy stale, so keep looking for one.
          truncated = true;
        }
        if (fence_owner && *fence_owner != (*local)->owner && *fence_owner != owner &&
            std::find(noted->begin(), noted->end(), *fence_owner) == noted->end()) {
          valid = false;
        }
      } else {
        if (first && m.offset > 0 && !fence_owner) truncated = true;
        if (m.offset <= fence_offset) {
          chunk.push_back({m.offset, std::move(key),
                           m.tombstone ? std::nullopt : std::optional<std::string>(m.value)});
          if (chunk.size() >= 1024) {
            if (auto s = flush(); !s) return s.error();
          }
        }
      }
      first = false;
    }
    if (pass == 2) {
      if (auto s = flush(); !s) return s.error();
      break;
    }
    if (valid) {
      if (truncated) {
        log::Warn("changelog_truncated",
                  {{"partition", std::to_string(partition)},
                   {"note",
                    "local fence no longer in the changelog; no other owner seen since, "
                    "keeping the local store and re-seeding the changelog from it"}});
        reseed = true;
      }
      break;
    }
    // Another owner had the partition: the local copy is stale. Start again from the log.
    if (auto s = stores.Wipe(partition); !s) return s.error();
    auto reopened = stores.Open(partition);
    if (!reopened) return reopened.error();
    store = *reopened;
    full = true;
  }
  if (full && truncated) {
    // A compacted changelog never loses its first fence; this one has lost records
    // (the mock broker keeps ~5 MB per partition, or the topic was recreated or given
    // a retention). A partial restore would be wrong, so rebuild by processing the
    // commands topic from its start instead (deterministic: the same ids and state, as
    // far as that topic still reaches back).
    log::Error("changelog_incomplete",
               {{"partition", std::to_string(partition)},
                {"note",
                 "the changelog does not start with a fence; rebuilding the partition "
                 "from pathway.commands.v1 instead"}});
    if (auto s = stores.Wipe(partition); !s) return s.error();
    auto reopened = stores.Open(partition);
    if (!reopened) return reopened.error();
    store = *reopened;
    filter = state::RestoreFilter();
  }
  if (full) {
    ++context_.stats.restores;
    context_.stats.restored_records += filter.applied;
    log::Info("partition_restored", {{"partition", std::to_string(partition)},
                                     {"applied", std::to_string(filter.applied)},
                                     {"ignored", std::to_string(filter.ignored)},
                                     {"fence_offset", std::to_string(fence_offset)}});
  } else {
    log::Info("partition_local_store_current", {{"partition", std::to_string(partition)},
                                                {"fence_offset", std::to_string(fence_offset)}});
  }
  store->SetOwner(owner);
  // Marked before the new fence is saved: once it is, the next takeover no longer sees
  // the loss, and only the mark makes it finish an interrupted re-seed.
  if (reseed) {
    if (auto s = store->StartReseed(); !s) return s.error();
  }
  if (auto s = store->SaveLocalFence({owner, fence_offset}); !s) return s.error();
  if (auto s = committer_.Restored(partition, *store); !s) return s.error();
  // After Restored: with transactions it drops outbox sequences an earlier owner
  // committed, and the re-seed's records must take sequences above those.
  if (auto s = Reseed(partition, *store); !s) return s.error();
  return resume(store);
}

Status PartitionRestorer::Reseed(int32_t partition, state::CaseStore& store) {
  uint64_t queued = 0;
  // Bounded: each call queues at least one key or finishes, and nothing else writes
  // the store while its partition is being taken over.
  for (;;) {
    auto step = store.ReseedSome(kReseedKeysPerWrite);
    if (!step) return step.error();
    queued += step->queued;
    if (step->done) break;
    if (step->queued == 0) {
      return Error{
          make_error_code(state::errc::kCorruption),
          "changelog re-seed of partition " + std::to_string(partition) + " made no progress"};
    }
  }
  if (queued == 0) return {};
  context_.stats.reseeded_records += queued;
  log::Info("changelog_reseeded",
            {{"partition", std::to_string(partition)}, {"records", std::to_string(queued)}});
  return {};
}

}  // namespace pathway::engine
