#include "services/engine/outbox_sender.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "services/engine/delivery_router.h"
#include "services/engine/outputs.h"

namespace pathway::engine {
namespace {
constexpr int kSequenceBits = 40;
constexpr uint64_t kSequenceMask = (uint64_t{1} << kSequenceBits) - 1;
// Bit 61, below the router's channel bits.
constexpr uint64_t kMirroredBit = uint64_t{1} << 61;
constexpr uint64_t kPartitionMask = (uint64_t{1} << (61 - kSequenceBits)) - 1;
}  // namespace

uint64_t OutboxSender::LocalOpaque(int32_t partition, uint64_t sequence, bool mirrored) {
  return (static_cast<uint64_t>(partition) << kSequenceBits) | sequence |
         (mirrored ? kMirroredBit : 0);
}

void OutboxSender::Reset() {
  next_unsent_.clear();
  confirm_first_.clear();
  unconfirmed_.clear();
  unconfirmed_outputs_.clear();
  sent_ahead_.clear();
  delivered_.clear();
}

void OutboxSender::Assigned(int32_t partition) {
  next_unsent_[partition] = 0;
  confirm_first_.erase(partition);
  unconfirmed_.erase(partition);
  unconfirmed_outputs_.erase(partition);
  sent_ahead_.erase(partition);
  delivered_.erase(partition);
}

void OutboxSender::Revoked(int32_t partition) {
  next_unsent_.erase(partition);
  unconfirmed_.erase(partition);
  unconfirmed_outputs_.erase(partition);
  sent_ahead_.erase(partition);
  delivered_.erase(partition);
  confirm_first_.erase(partition);
}

uint64_t OutboxSender::NextUnsent(int32_t partition) const {
  auto it = next_unsent_.find(partition);
  return it == next_unsent_.end() ? 0 : it->second;
}

Status OutboxSender::SendOwned() {
  // A partition that stopped after new data keys' records goes on in the same Step
  // once they are confirmed: one bounded wait for all partitions, so a batch that
  // meets new children costs a delivery round trip, not a Step.
  for (int round = 0; round < 2; ++round) {
    for (int32_t partition : context_.owned) {
      state::CaseStore* store = context_.stores.Find(partition);
      if (!store) continue;
      if (auto s = Send(partition, *store); !s) return s;
    }
    if (round > 0 || confirm_first_.empty()) break;
    (void)producer_.Flush(context_.options.new_key_wait);
    if (!context_.fatal) return context_.fatal;
  }
  return {};
}

Status OutboxSender::Send(int32_t partition, state::CaseStore& store) {
  const EngineOptions& options = context_.options;
  if (auto it = refused_.find(partition); it != refused_.end()) {
    for (auto& [sequence, detail] : std::exchange(it->second, {})) {
      if (auto s = DeadLetterOutput(partition, store, sequence, "refused by Kafka: " + detail);
          !s) {
        return s;
      }
    }
    refused_.erase(partition);
  }
  if (auto it = send_backoff_.find(partition); it != send_backoff_.end()) {
    if (it->second.Waiting(std::chrono::steady_clock::now())) return {};  // retried later
  }
  uint64_t& next = next_unsent_[partition];
  if (auto fence = confirm_first_.find(partition); fence != confirm_first_.end()) {
    if (next > fence->second) {
      // Wait until every entry up to the new key's record is confirmed. Every entry
      // below `next` was handed to the producer by this owner, so the unconfirmed
      // ones are exactly those it still waits for.
      const auto& waiting = unconfirmed_[partition];
      if (!waiting.empty() && *waiting.begin() <= fence->second) return {};
    }
    // Confirmed, or a failed delivery rewound `next` to resend it: go on.
    confirm_first_.erase(fence);
  }
  // Most rounds find most partitions sent up to date: no need to open an iterator.
  if (next >= store.NextOutboxSequence()) return {};
  auto items = store.ReadOutbox(next, options.outbox_batch);
  if (!items) return items.error();
  if (items->empty()) {
    next = std::max(next, store.NextOutboxSequence());  // all handed over already
    return {};
  }
  if (auto s = committer_.OpenOutput(); !s) return s;
  const bool confirms_each = committer_.confirms_each_delivery();
  // Outputs sent past a held changelog record (below): skipped when the cursor gets
  // there. Bounded by one read of the outbox.
  std::set<uint64_t>& ahead = sent_ahead_[partition];
  bool held = false;  // a changelog record of this pass waits for earlier outputs
  for (const auto& item : *items) {
    const auto& e = item.entry;
    if (ahead.count(item.sequence)) {
      if (!held) next = item.sequence + 1;  // forgotten below, once passed
      continue;
    }
    // After a run of new keys' records, the rest waits for their confirmation.
    if (confirm_first_.count(partition) && !e.confirm_before_later()) break;
    // A changelog record waits for the outputs before it: were it restored while one
    // of them is lost with this owner, nobody would decide (and send) that output
    // again. Every entry below it was handed over by this owner, so the unconfirmed
    // outputs are exactly those it waits for. Outputs behind it do not wait: they go
    // ahead of the cursor. The records after a held one are held too (changelog
    // records keep their order), and at a held new key's record everything stops,
    // since what follows it may be sealed under the key.
    if (e.changelog() && confirms_each) {
      const auto& outputs = unconfirmed_outputs_[partition];
      if (held || (!outputs.empty() && *outputs.begin() < item.sequence)) {
        if (e.confirm_before_later()) break;
        held = true;
        continue;
      }
    }
    bus::Outgoing out{e.topic(), e.key(), e.value(), e.tombstone()};
    if (e.has_partition()) out.partition = e.partition();
    Status s;
    if (!Fits(e.key(), e.value(), options.max_record_bytes)) {
      // Checked before commit, so only an entry from an engine with a larger limit.
      s = Error{make_error_code(bus::errc::kRejected),
                std::to_string(e.key().size() + e.value().size()) +
                    " bytes exceed the record limit of " +
                    std::to_string(options.max_record_bytes)};
    } else {
      s = producer_.Send(
          out, DeliveryRouter::Opaque(DeliveryRouter::Channel::kOutbox,
                                      LocalOpaque(partition, item.sequence, e.mirrored())));
    }
    if (!s) {
      if (s.error().code == make_error_code(bus::errc::kQueueFull)) break;  // next Step
      if (s.error().code == make_error_code(bus::errc::kRejected)) {
        // Never sendable: waiting for it would stop the partition for good. Its dead
        // letter takes its place and goes in the next pass.
        if (auto d = DeadLetterOutput(partition, store, item.sequence, s.error().ToString()); !d) {
          return d;
        }
        break;
      }
      // Anything else may pass later (an unknown topic being created, a broker
      // restarting): try this entry again after a pause, never stop the engine for it.
      log::Warn("outbox_send_failed", {{"partition", std::to_string(partition)},
                                       {"sequence", std::to_string(item.sequence)},
                                       {"error", s.error().ToString()}});
      BackOff(partition);
      break;
    }
    if (held) {
      ahead.insert(item.sequence);
    } else {
      next = item.sequence + 1;
    }
    committer_.OutboxSent(partition, {item.sequence, e.mirrored()});
    // Where a commit confirms a Step's records together, nothing waits for a
    // delivery report.
    if (!confirms_each) continue;
    unconfirmed_[partition].insert(item.sequence);
    if (!e.changelog()) unconfirmed_outputs_[partition].insert(item.sequence);
    if (e.confirm_before_later()) confirm_first_[partition] = item.sequence;
  }
  // Entries the cursor passed, or that went (confirmed and deleted) before it got there.
  ahead.erase(ahead.begin(), ahead.lower_bound(next));
  return {};
}

void OutboxSender::OnDelivery(uint64_t local, const bus::Delivery& d) {
  const auto partition = static_cast<int32_t>((local >> kSequenceBits) & kPartitionMask);
  const uint64_t sequence = local & kSequenceMask;
  const bool mirrored = (local & kMirroredBit) != 0;
  const DeliveryOutcome outcome = committer_.Delivered(d, OutboxRef{partition, sequence});
  if (outcome == DeliveryOutcome::kPending) {
    if (d.error) {
      log::Warn("outbox_delivery_failed", {{"partition", std::to_string(partition)},
                                           {"sequence", std::to_string(sequence)},
                                           {"error", d.error_detail}});
    }
    return;
  }
  // Revoked meanwhile: the entry stays; the next owner sends it again (same id).
  if (!context_.stores.Find(partition)) return;
  switch (outcome) {
    case DeliveryOutcome::kRefused:
      // Refused for good: the next pass replaces it by a dead letter, which is then
      // sent from its place (and confirmed like any output).
      refused_[partition].emplace_back(sequence, d.error_detail);
      return;
    case DeliveryOutcome::kRetry: {
      // Resend from here, after a pause; later entries may go twice, with the same ids.
      auto it = next_unsent_.find(partition);
      if (it != next_unsent_.end()) it->second = std::min(it->second, sequence);
      sent_ahead_[partition].erase(sequence);
      log::Warn("outbox_delivery_failed", {{"partition", std::to_string(partition)},
                                           {"sequence", std::to_string(sequence)},
                                           {"error", d.error_detail}});
      BackOff(partition);
      return;
    }
    case DeliveryOutcome::kConfirmed:
      // Deleted with the rest of the Step's deliveries in one write (DeleteDelivered).
      unconfirmed_[partition].erase(sequence);
      unconfirmed_outputs_[partition].erase(sequence);
      delivered_[partition].push_back({sequence, mirrored});
      send_backoff_.erase(partition);
      ++context_.stats.delivered;
      return;
    case DeliveryOutcome::kPending:
      return;  // handled above
  }
}

Status OutboxSender::DeleteDelivered() {
  for (auto& [partition, delivered] : delivered_) {
    if (delivered.empty()) continue;
    state::CaseStore* store = context_.stores.Find(partition);
    // Revoked meanwhile: the entries stay; the next owner sends them again (same ids).
    if (store) {
      if (auto s = store->DeleteDelivered(delivered); !s) return s;
    }
    delivered.clear();
  }
  return {};
}

Status OutboxSender::DeadLetterOutput(int32_t partition, state::CaseStore& store, uint64_t sequence,
                                      std::string reason) {
  auto replaced = ReplaceByDeadLetter(store, partition, sequence, std::move(reason),
                                      context_.options.dead_letter_key, context_.stats);
  if (!replaced) return replaced.error();
  // The dead letter is sent from the replaced entry's place; what was handed over
  // after it goes again (same ids).
  auto it = next_unsent_.find(partition);
  if (*replaced && it != next_unsent_.end()) it->second = std::min(it->second, sequence);
  if (*replaced) sent_ahead_[partition].erase(sequence);
  return {};
}

void OutboxSender::BackOff(int32_t partition) {
  ++context_.stats.send_retries;
  send_backoff_[partition].Fail(std::chrono::steady_clock::now(),
                                context_.options.retry_backoff_min,
                                context_.options.retry_backoff_max);
}

}  // namespace pathway::engine
