#include "services/engine/transactional_committer.h"

#include <algorithm>

#include "common/log.h"
#include "services/engine/outputs.h"
#include "services/topics.h"

namespace pathway::engine {

std::optional<uint64_t> ParseOutboxMetadata(std::string_view metadata) {
  if (!metadata.starts_with(kOutboxMetadataPrefix)) return std::nullopt;
  std::string_view digits = metadata.substr(kOutboxMetadataPrefix.size());
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

Status TransactionalCommitter::Start() {
  if (!producer_.transactional()) {
    return Error{make_error_code(bus::errc::kConfig),
                 "transactions mode needs a transactional producer (a transactional.id)"};
  }
  // Fences an earlier incarnation with our transactional id and aborts whatever it
  // left open, so nothing it wrote after its last commit ever becomes visible.
  return producer_.InitTransactions(context_.options.transaction_timeout);
}

Status TransactionalCommitter::OpenOutput() {
  if (open_) return {};
  if (auto s = producer_.BeginTransaction(); !s) return Abort(s);
  open_ = true;
  return {};
}

Status TransactionalCommitter::SendAlone(const bus::Outgoing& record, uint64_t opaque) {
  if (auto s = OpenOutput(); !s) return s;
  if (auto s = producer_.Send(record, opaque); !s) return Abort(s);
  return Commit();
}

DeliveryOutcome TransactionalCommitter::Delivered(const bus::Delivery& delivery,
                                                  std::optional<OutboxRef> outbox) {
  // Written is not committed: entries are deleted after the commit instead.
  if (!delivery.error) return DeliveryOutcome::kPending;
  delivery_failed_ = true;
  // Dead-lettered before the abort, so that the restart does not meet it again. (A
  // refused intake output fails the transaction like any other failure.)
  if (outbox && delivery.error == make_error_code(bus::errc::kRejected)) {
    refused_[outbox->partition].emplace_back(outbox->sequence, delivery.error_detail);
  }
  return DeliveryOutcome::kPending;
}

Status TransactionalCommitter::CommitIntake(const std::map<int32_t, int64_t>& next_offsets) {
  // Committed with the transaction that carries their output.
  for (const auto& [partition, offset] : next_offsets) {
    inbound_[partition] = std::max(inbound_[partition], offset);
  }
  return {};
}

Status TransactionalCommitter::CommitCommands(const std::map<int32_t, int64_t>& next_offsets) {
  for (const auto& [partition, offset] : next_offsets) {
    commands_next_[partition] = std::max(commands_next_[partition], offset);
    commands_.insert(partition);
  }
  return {};
}

void TransactionalCommitter::NoteConsumerPositions() {
  // A transaction's commit marker follows its last message. Committing "last message
  // read + 1" would leave the group one behind per partition for ever (lag tools
  // never reach 0); the consumer's position moves past the marker.
  for (const auto& tp : intake_.Positions()) {
    auto it = committed_inbound_.find(tp.partition);
    if (it != committed_inbound_.end() && tp.offset <= it->second) continue;
    int64_t& next = inbound_[tp.partition];
    next = std::max(next, tp.offset);
  }
  for (const auto& tp : processor_.Positions()) {
    if (!context_.owned.count(tp.partition)) continue;
    auto it = committed_commands_.find(tp.partition);
    if (it != committed_commands_.end() && tp.offset <= it->second) continue;
    int64_t& next = commands_next_[tp.partition];
    next = std::max(next, tp.offset);
    commands_.insert(tp.partition);
  }
}

Status TransactionalCommitter::EndStep() {
  NoteConsumerPositions();
  return Commit();
}

Status TransactionalCommitter::Commit() {
  if (!context_.fatal) return context_.fatal;
  if (!open_ && commands_.empty() && inbound_.empty()) return {};
  if (auto s = OpenOutput(); !s) return s;
  // Every record is written before the offsets go (and with them the group generation
  // that fences a replaced owner): a new owner's fence then lies after all of them.
  if (auto s = producer_.Flush(context_.options.flush_timeout); !s) return Abort(s);
  if (delivery_failed_) {
    for (auto& [partition, refused] : std::exchange(refused_, {})) {
      state::CaseStore* store = context_.stores.Find(partition);
      for (auto& [sequence, detail] : refused) {
        if (!store) break;
        auto replaced =
            ReplaceByDeadLetter(*store, partition, sequence, "refused by Kafka: " + detail,
                                context_.options.dead_letter_key, context_.stats);
        if (!replaced) return Abort(replaced.error());
      }
    }
    return Abort(
        Error{make_error_code(bus::errc::kDelivery), "a message of the transaction failed"});
  }
  if (!inbound_.empty()) {
    std::vector<bus::GroupOffset> offsets;
    for (const auto& [partition, offset] : inbound_) {
      offsets.push_back({std::string(topics::kInbound), partition, offset, {}});
    }
    if (auto s = producer_.SendOffsetsToTransaction(offsets, intake_,
                                                    context_.options.transaction_timeout);
        !s) {
      return Abort(s);
    }
  }
  std::set<int32_t> partitions = commands_;
  for (const auto& [partition, sequences] : sent_) {
    if (!sequences.empty()) partitions.insert(partition);
  }
  if (!partitions.empty()) {
    std::vector<bus::GroupOffset> offsets;
    for (int32_t partition : partitions) {
      if (!context_.owned.count(partition)) {
        // A revocation commits before it lets go, so this is a bug; committing would
        // overwrite the next owner's offset and sequence.
        return Abort(Error{make_error_code(bus::errc::kState),
                           "transaction holds partition " + std::to_string(partition) +
                               ", which this instance no longer owns"});
      }
      bus::GroupOffset offset{std::string(topics::kCommands), partition, 0, {}};
      if (auto it = commands_next_.find(partition); it != commands_next_.end()) {
        offset.offset = it->second;
      }
      std::optional<uint64_t> through;
      if (auto it = committed_through_.find(partition); it != committed_through_.end()) {
        through = it->second;
      }
      if (auto it = sent_.find(partition); it != sent_.end() && !it->second.empty()) {
        through = it->second.back().sequence;
      }
      // Every commit rewrites the metadata, so it always carries the latest sequence.
      if (through) offset.metadata = std::string(kOutboxMetadataPrefix) + std::to_string(*through);
      offsets.push_back(std::move(offset));
    }
    if (auto s = producer_.SendOffsetsToTransaction(offsets, processor_,
                                                    context_.options.transaction_timeout);
        !s) {
      return Abort(s);
    }
  }
  if (auto s = producer_.CommitTransaction(context_.options.transaction_timeout); !s) {
    return Abort(s);
  }
  open_ = false;
  for (const auto& [partition, offset] : inbound_) committed_inbound_[partition] = offset;
  for (int32_t partition : partitions) committed_commands_[partition] = commands_next_[partition];
  inbound_.clear();
  commands_.clear();
  auto sent = std::exchange(sent_, {});
  // On the wire now. A crash before these deletions is harmless: the next owner (or
  // this one, restarted) reads the committed sequence back and drops the entries
  // (Restored).
  for (const auto& [partition, sequences] : sent) {
    if (sequences.empty()) continue;
    committed_through_[partition] = sequences.back().sequence;
    state::CaseStore* store = context_.stores.Find(partition);
    if (!store) continue;
    if (auto s = store->DeleteDelivered(sequences); !s) {
      context_.fatal = s;
      return s;
    }
    context_.stats.delivered += sequences.size();
  }
  return {};
}

Status TransactionalCommitter::Abort(Status cause) {
  if (open_) {
    if (auto s = producer_.AbortTransaction(context_.options.transaction_timeout); !s) {
      log::Warn("transaction_abort_failed", {{"error", s.error().ToString()}});
    }
  }
  open_ = false;
  delivery_failed_ = false;
  inbound_.clear();
  commands_.clear();
  sent_.clear();
  log::Error("transaction_aborted", {{"error", cause.error().ToString()}});
  // Consumers and the outbox cursor have moved past what was aborted: only a restart
  // (from RocksDB and the committed offsets) puts them back in step.
  if (context_.fatal) context_.fatal = cause;
  return cause;
}

Status TransactionalCommitter::Restored(int32_t partition, state::CaseStore& store) {
  auto committed = processor_.Committed({{std::string(topics::kCommands), partition, 0}},
                                        context_.options.restore_timeout);
  if (!committed) return committed.error();
  std::optional<uint64_t> through;
  if (!committed->empty()) through = ParseOutboxMetadata(committed->front().metadata);
  if (!through) {
    committed_through_.erase(partition);
    return {};
  }
  // Sequences up to `through` went out in committed transactions (ours before a crash,
  // or the previous owner's): never hand them out again, and drop what is left of them.
  // Reserve first: the deletions below queue changelog tombstones at new sequences.
  if (auto s = store.ReserveOutboxSequences(*through + 1); !s) return s;
  uint64_t dropped = 0;
  // Bounded: every pass deletes what it read or stops.
  for (bool more = true; more;) {
    auto items = store.ReadOutbox(0, context_.options.outbox_batch);
    if (!items) return items.error();
    more = !items->empty();
    for (const auto& item : *items) {
      if (item.sequence > *through) {
        more = false;
        break;
      }
      if (auto s = store.DeleteOutbox(item.sequence); !s) return s;
      ++dropped;
    }
  }
  committed_through_[partition] = *through;
  log::Info("outbox_committed_adopted", {{"partition", std::to_string(partition)},
                                         {"committed_through", std::to_string(*through)},
                                         {"dropped", std::to_string(dropped)}});
  return {};
}

void TransactionalCommitter::Assigned(int32_t partition, int64_t next_offset) {
  commands_next_[partition] = std::max<int64_t>(next_offset, 0);
}

void TransactionalCommitter::Revoked(int32_t partition) {
  commands_next_.erase(partition);
  committed_through_.erase(partition);
  committed_commands_.erase(partition);
}

}  // namespace pathway::engine
