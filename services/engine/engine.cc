#include "services/engine/engine.h"

#include <google/protobuf/unknown_field_set.h>

#include <map>

#include "common/crypto.h"
#include "common/log.h"
#include "services/topics.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/event_identity.h"
#include "workflow/identity.h"
#include "workflow/personal_fields.h"
#include "workflow/shared_record.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;
using std::chrono::milliseconds;

// Opaque values given to the producer: an outbox entry is its partition and sequence
// (sequences stay below 2^40), intake output has the top bit set, a fence the next:
// the DeliveryRouter's channels.
constexpr uint64_t kIntakeOpaque = DeliveryRouter::Opaque(DeliveryRouter::Channel::kIntake, 0);
constexpr uint64_t kFenceOpaque = DeliveryRouter::Opaque(DeliveryRouter::Channel::kFence, 0);
// Set for an outbox entry that is itself a changelog record (its deletion queues no
// tombstone), so a delivery report needs no read to tell.
constexpr uint64_t kChangelogOpaque = uint64_t{1} << 61;
constexpr int kSequenceBits = 40;
constexpr uint64_t kSequenceMask = (uint64_t{1} << kSequenceBits) - 1;
constexpr uint64_t kPartitionMask = (uint64_t{1} << (61 - kSequenceBits)) - 1;

// The commands group's offset metadata in transactions mode: the last outbox sequence
// of the partition that a committed transaction carried.
constexpr std::string_view kOutboxMetadataPrefix = "pathway.outbox.v1:";

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

uint64_t OutboxOpaque(int32_t partition, uint64_t sequence, bool changelog) {
  return (static_cast<uint64_t>(partition) << kSequenceBits) | sequence |
         (changelog ? kChangelogOpaque : 0);
}

std::string Coordinates(const bus::Message& m) {
  return m.topic + "/" + std::to_string(m.partition) + "/" + std::to_string(m.offset);
}

// Whatever the original's size, a dead letter holds its digest, its size and at most
// this much of it (sealed where a dead-letter key is configured).
constexpr size_t kDeadLetterExcerptBytes = 4096;
// Room for a record's framing and headers beyond its key and value.
constexpr size_t kRecordOverheadBytes = 512;

// `cause` makes the id: the same value dead-lettered twice (after a crash) has one id.
Result<v1::Envelope> DeadLetter(std::string_view cause, std::string_view topic, int32_t partition,
                                int64_t offset, std::string_view value, std::string reason,
                                const std::string& key) {
  v1::Envelope out;
  out.set_event_id(DerivedEventId("deadletter|" + std::string(cause), 0));
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  v1::DeadLettered* d = out.mutable_dead_lettered();
  d->set_reason(std::move(reason));
  d->set_topic(std::string(topic));
  d->set_partition(partition);
  d->set_offset(offset);
  d->set_original_sha256(Sha256(value));
  d->set_original_size(value.size());
  std::string_view excerpt = value.substr(0, kDeadLetterExcerptBytes);
  if (key.empty()) {
    d->set_original(std::string(excerpt));
  } else {
    // Synthetic nonce (decision 61): a dead letter sent again after a crash or a
    // takeover is the same bytes as its first copy.
    auto sealed =
        AeadSealSynthetic(key, excerpt, "pathway.deadletter.v1|" + out.event_id(), out.event_id());
    if (!sealed) return sealed.error();
    d->set_sealed_excerpt(std::move(*sealed));
  }
  return out;
}

void AddToOutbox(state::Batch& batch, std::string_view topic, const std::string& key,
                 std::string value) {
  auto& entry = batch.outbox.emplace_back();
  entry.set_topic(std::string(topic));
  entry.set_key(key);
  entry.set_value(std::move(value));
}

std::string_view TopicOf(workflow::Sink sink) {
  switch (sink) {
    case workflow::Sink::kEvents:
      return topics::kEvents;
    case workflow::Sink::kCommands:
      return topics::kCommands;
    case workflow::Sink::kRejections:
      return topics::kRejections;
    case workflow::Sink::kAudit:
      return topics::kAudit;
  }
  return topics::kDeadLetter;  // unreachable: every sink is named above
}

// Puts what `step` decided into `batch`: the new state, the events appended to the
// subject's history, the timers, and every output, sealed as the step plans with the
// subject's data key (`store` keeps the keys).
Status CarryOut(state::Batch& batch, state::CaseStore& store, const std::string& subject,
                workflow::CaseStep step) {
  batch.subject_key = subject;
  batch.erase_subject = step.erase_subject;
  for (auto& t : step.timers.add) batch.timers_add.push_back(std::move(t));
  for (auto& t : step.timers.remove) batch.timers_remove.push_back(std::move(t));
  for (auto& out : step.outputs) {
    if (out.seal_fields) {
      const std::string id = out.envelope.event_id();
      if (auto s =
              workflow::SealPersonalFields(out.envelope,
                                           [&](std::string_view plaintext, std::string_view field) {
                                             return store.SealField(subject, plaintext, field, id);
                                           });
          !s) {
        return s;
      }
    }
    const std::string& key =
        out.sink == workflow::Sink::kCommands ? out.envelope.subject_key() : subject;
    AddToOutbox(batch, TopicOf(out.sink), key, out.envelope.SerializeAsString());
    if (out.sealed_at_rest) batch.outbox.back().set_sealed_subject_key(subject);
  }
  if (step.new_state) {
    batch.history_start = step.new_state->history_length() - step.history.size();
    batch.history = std::move(step.history);
    batch.new_state = std::move(*step.new_state);
  }
  return {};
}

std::string UnknownFieldNumbers(const v1::Envelope& e) {
  const auto& unknown = e.GetReflection()->GetUnknownFields(e);
  std::string out;
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (!out.empty()) out += ",";
    out += std::to_string(unknown.field(i).number());
  }
  return out;
}
}  // namespace

Engine::Engine(EngineOptions options, state::StoreSet& stores, const SubjectKeyer& keyer,
               const TimeSource& time, bus::Producer& producer, DeliveryRouter& deliveries,
               bus::Consumer& intake, bus::Consumer& processor, bus::Consumer& restore)
    : options_(options),
      stores_(stores),
      keyer_(keyer),
      time_(time),
      producer_(producer),
      deliveries_(deliveries),
      intake_(intake),
      processor_(processor),
      restore_(restore) {}

Status Engine::Start() {
  next_unsent_.clear();
  confirm_first_.clear();
  unconfirmed_.clear();
  delivered_.clear();
  offsets_to_publish_.clear();
  registrations_.clear();
  for (auto channel : {DeliveryRouter::Channel::kOutbox, DeliveryRouter::Channel::kIntake,
                       DeliveryRouter::Channel::kFence}) {
    auto registration =
        deliveries_.Register(channel, [this](uint64_t, const bus::Delivery& d) { OnDelivery(d); });
    if (!registration) return registration.error();
    registrations_.push_back(std::move(*registration));
  }
  if (options_.transactions) {
    if (!producer_.transactional()) {
      return Error{make_error_code(bus::errc::kConfig),
                   "transactions mode needs a transactional producer (a transactional.id)"};
    }
    // Fences an earlier incarnation with our transactional id and aborts whatever it
    // left open, so nothing it wrote after its last commit ever becomes visible.
    if (auto s = producer_.InitTransactions(options_.transaction_timeout); !s) return s;
  }
  if (auto s = intake_.Subscribe({std::string(topics::kInbound)}, nullptr); !s) return s;
  return processor_.Subscribe({std::string(topics::kCommands)}, this);
}

void Engine::OnAssign(std::vector<bus::TopicPartition>& partitions) {
  restoring_.store(true);
  if (options_.transactions) {
    // Each fence needs a transaction of its own; close the Step's one first.
    if (auto s = CommitTransaction(); !s) {
      restoring_.store(false);
      return;  // sticky: Step fails and the process restarts
    }
  }
  for (auto& tp : partitions) {
    auto next = TakeOver(tp.partition);
    if (!next) {
      // Starting anywhere else could skip or repeat commands; Step reports the error
      // and the process restarts.
      log::Error("partition_takeover_failed",
                 {{"partition", std::to_string(tp.partition)}, {"error", next.error().ToString()}});
      store_error_ = next.error();
      continue;
    }
    tp.offset = *next;
    owned_.insert(tp.partition);
    next_unsent_[tp.partition] = 0;
    confirm_first_.erase(tp.partition);
    unconfirmed_.erase(tp.partition);
    delivered_.erase(tp.partition);
    commands_next_[tp.partition] = std::max<int64_t>(*next, 0);
    if (!options_.transactions) offsets_to_publish_.insert(tp.partition);
    log::Info("partition_assigned", {{"topic", tp.topic},
                                     {"partition", std::to_string(tp.partition)},
                                     {"offset", std::to_string(tp.offset)}});
  }
  restoring_.store(false);
  assigned_once_.store(true);
}

void Engine::OnRevoke(const std::vector<bus::TopicPartition>& partitions) {
  // State is committed at the end of each Step's batch; what is left is the outbox. Sending it now
  // hands the next owner a complete changelog (it would otherwise redo that work itself).
  for (const auto& tp : partitions) {
    if (auto s = DrainOutbox({tp.partition}, options_.revoke_drain_timeout); !s) {
      log::Warn("revoke_drain_incomplete",
                {{"partition", std::to_string(tp.partition)}, {"error", s.error().ToString()}});
    }
    if (auto s = DeleteDelivered(); !s) store_error_ = s;
    owned_.erase(tp.partition);
    next_unsent_.erase(tp.partition);
    unconfirmed_.erase(tp.partition);
    delivered_.erase(tp.partition);
    confirm_first_.erase(tp.partition);
    commands_next_.erase(tp.partition);
    offsets_to_publish_.erase(tp.partition);
    committed_through_.erase(tp.partition);
    committed_commands_.erase(tp.partition);
    stores_.Close(tp.partition);
    log::Info("partition_revoked",
              {{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
  }
}

Status Engine::ProduceFence(int32_t partition, const std::string& owner, int64_t* offset) {
  pathway::store::v1::OutboxEntry fence = state::CaseStore::FenceRecord(owner);
  fence_delivery_.reset();
  bus::Outgoing out{topics::kChangelog, fence.key(), fence.value()};
  out.partition = partition;
  if (options_.transactions) {
    // Committed on its own, so that reading the changelog up to it (read_committed)
    // waits until every earlier transaction on the partition is decided.
    if (auto s = BeginTransaction(); !s) return s;
    if (auto s = producer_.Send(out, kFenceOpaque); !s) return AbortTransaction(s);
    if (auto s = CommitTransaction(); !s) return s;
  } else if (auto s = producer_.Send(out, kFenceOpaque); !s) {
    return s;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.restore_timeout;
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
  *offset = fence_delivery_->offset;
  return {};
}

Result<int64_t> Engine::TakeOver(int32_t partition) {
  const bool existed = stores_.ExistsOnDisk(partition);
  auto opened = stores_.Open(partition);
  if (!opened) return opened.error();
  state::CaseStore* store = *opened;
  auto resume = [&](state::CaseStore* s) -> Result<int64_t> {
    // An erasure whose landing records were not deleted yet: go on trying.
    auto purge = s->PurgePending();
    if (!purge) return purge.error();
    if (*purge) purge_pending_.try_emplace(partition);
    auto next = s->NextOffset(topics::kCommands, partition);
    if (!next) return next.error();
    return next->value_or(bus::kOffsetBeginning);
  };
  if (stores_.changelog_topic().empty()) return resume(store);

  auto random = RandomBytes(16);
  if (!random) return random.error();
  std::string owner = HexEncode(*random);
  int64_t fence_offset = -1;
  if (auto s = ProduceFence(partition, owner, &fence_offset); !s) return s.error();

  auto local = store->LocalFence();
  if (!local) return local.error();
  // Pass 1 (when this store has a fence): is the local copy still the truth, i.e. has
  // nobody else fenced the partition since? Pass 2 (otherwise): rebuild from the log.
  bool full = !local->has_value();
  bool truncated = false;
  state::RestoreFilter filter;
  auto deadline = std::chrono::steady_clock::now() + options_.restore_timeout;
  if (full && existed) {
    // No fence: a restore that did not finish, or a store from before the changelog.
    // Rebuild from scratch.
    if (auto s = stores_.Wipe(partition); !s) return s.error();
    auto reopened = stores_.Open(partition);
    if (!reopened) return reopened.error();
    store = *reopened;
  }
  for (int pass = full ? 2 : 1; pass <= 2; ++pass) {
    int64_t start = pass == 1 ? (*local)->offset : bus::kOffsetBeginning;
    if (auto s = restore_.Assign({{std::string(topics::kChangelog), partition, start}}); !s) {
      return s.error();
    }
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
      reached = m.offset >= fence_offset;
      std::string key = m.key.value_or("");
      auto fence_owner = state::CaseStore::FenceOwner(key);
      if (pass == 1) {
        if (first && (m.offset != (*local)->offset || fence_owner != (*local)->owner)) {
          // Our fence is gone: the topic was truncated or recreated. Only a fence of
          // another owner proves the local copy stale, so keep looking for one.
          truncated = true;
        }
        if (fence_owner && *fence_owner != (*local)->owner && *fence_owner != owner) valid = false;
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
                    "keeping the local store"}});
      }
      break;
    }
    // Another owner had the partition: the local copy is stale. Start again from the log.
    if (auto s = stores_.Wipe(partition); !s) return s.error();
    auto reopened = stores_.Open(partition);
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
    if (auto s = stores_.Wipe(partition); !s) return s.error();
    auto reopened = stores_.Open(partition);
    if (!reopened) return reopened.error();
    store = *reopened;
    filter = state::RestoreFilter();
  }
  if (full) {
    ++stats_.restores;
    stats_.restored_records += filter.applied;
    log::Info("partition_restored", {{"partition", std::to_string(partition)},
                                     {"applied", std::to_string(filter.applied)},
                                     {"ignored", std::to_string(filter.ignored)},
                                     {"fence_offset", std::to_string(fence_offset)}});
  } else {
    log::Info("partition_local_store_current", {{"partition", std::to_string(partition)},
                                                {"fence_offset", std::to_string(fence_offset)}});
  }
  store->SetOwner(owner);
  if (auto s = store->SaveLocalFence({owner, fence_offset}); !s) return s.error();
  if (options_.transactions) {
    if (auto s = AdoptCommittedOutbox(partition, *store); !s) return s.error();
  }
  return resume(store);
}

Status Engine::AdoptCommittedOutbox(int32_t partition, state::CaseStore& store) {
  auto committed = processor_.Committed({{std::string(topics::kCommands), partition, 0}},
                                        options_.restore_timeout);
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
    auto items = store.ReadOutbox(0, options_.outbox_batch);
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

Status Engine::BeginTransaction() {
  if (txn_open_) return {};
  if (auto s = producer_.BeginTransaction(); !s) return AbortTransaction(s);
  txn_open_ = true;
  return {};
}

void Engine::NoteConsumerPositions() {
  // A transaction's commit marker follows its last message. Committing "last message
  // read + 1" would leave the group one behind per partition for ever (lag tools
  // never reach 0); the consumer's position moves past the marker.
  for (const auto& tp : intake_.Positions()) {
    auto it = committed_inbound_.find(tp.partition);
    if (it != committed_inbound_.end() && tp.offset <= it->second) continue;
    int64_t& next = txn_inbound_[tp.partition];
    next = std::max(next, tp.offset);
  }
  for (const auto& tp : processor_.Positions()) {
    if (!owned_.count(tp.partition)) continue;
    auto it = committed_commands_.find(tp.partition);
    if (it != committed_commands_.end() && tp.offset <= it->second) continue;
    int64_t& next = commands_next_[tp.partition];
    next = std::max(next, tp.offset);
    txn_commands_.insert(tp.partition);
  }
}

Status Engine::CommitTransaction() {
  if (!store_error_) return store_error_;
  if (!txn_open_ && txn_commands_.empty() && txn_inbound_.empty()) return {};
  if (auto s = BeginTransaction(); !s) return s;
  // Every record is written before the offsets go (and with them the group generation
  // that fences a replaced owner): a new owner's fence then lies after all of them.
  if (auto s = producer_.Flush(options_.flush_timeout); !s) return AbortTransaction(s);
  if (txn_delivery_failed_ || intake_failures_ > 0) {
    for (auto& [partition, refused] : std::exchange(refused_, {})) {
      state::CaseStore* store = stores_.Find(partition);
      for (auto& [sequence, detail] : refused) {
        if (!store) break;
        if (auto s = DeadLetterOutput(partition, *store, sequence, "refused by Kafka: " + detail);
            !s) {
          return AbortTransaction(s);
        }
      }
    }
    return AbortTransaction(
        Error{make_error_code(bus::errc::kDelivery), "a message of the transaction failed"});
  }
  if (!txn_inbound_.empty()) {
    std::vector<bus::GroupOffset> offsets;
    for (const auto& [partition, offset] : txn_inbound_) {
      offsets.push_back({std::string(topics::kInbound), partition, offset, {}});
    }
    if (auto s = producer_.SendOffsetsToTransaction(offsets, intake_, options_.transaction_timeout);
        !s) {
      return AbortTransaction(s);
    }
  }
  std::set<int32_t> partitions = txn_commands_;
  for (const auto& [partition, sequences] : txn_sent_) {
    if (!sequences.empty()) partitions.insert(partition);
  }
  if (!partitions.empty()) {
    std::vector<bus::GroupOffset> offsets;
    for (int32_t partition : partitions) {
      if (!owned_.count(partition)) {
        // A revocation commits before it lets go, so this is a bug; committing would
        // overwrite the next owner's offset and sequence.
        return AbortTransaction(Error{make_error_code(bus::errc::kState),
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
      if (auto it = txn_sent_.find(partition); it != txn_sent_.end() && !it->second.empty()) {
        through = it->second.back().sequence;
      }
      // Every commit rewrites the metadata, so it always carries the latest sequence.
      if (through) offset.metadata = std::string(kOutboxMetadataPrefix) + std::to_string(*through);
      offsets.push_back(std::move(offset));
    }
    if (auto s =
            producer_.SendOffsetsToTransaction(offsets, processor_, options_.transaction_timeout);
        !s) {
      return AbortTransaction(s);
    }
  }
  if (auto s = producer_.CommitTransaction(options_.transaction_timeout); !s) {
    return AbortTransaction(s);
  }
  txn_open_ = false;
  for (const auto& [partition, offset] : txn_inbound_) committed_inbound_[partition] = offset;
  for (int32_t partition : partitions) committed_commands_[partition] = commands_next_[partition];
  txn_inbound_.clear();
  txn_commands_.clear();
  auto sent = std::move(txn_sent_);
  txn_sent_.clear();
  // On the wire now. A crash before these deletions is harmless: TakeOver reads the
  // committed sequence back and drops the entries (AdoptCommittedOutbox).
  for (const auto& [partition, sequences] : sent) {
    if (sequences.empty()) continue;
    committed_through_[partition] = sequences.back().sequence;
    state::CaseStore* store = stores_.Find(partition);
    if (!store) continue;
    if (auto s = store->DeleteDelivered(sequences); !s) {
      store_error_ = s;
      return s;
    }
    stats_.delivered += sequences.size();
  }
  return {};
}

Status Engine::AbortTransaction(Status cause) {
  if (txn_open_) {
    if (auto s = producer_.AbortTransaction(options_.transaction_timeout); !s) {
      log::Warn("transaction_abort_failed", {{"error", s.error().ToString()}});
    }
  }
  txn_open_ = false;
  txn_delivery_failed_ = false;
  txn_inbound_.clear();
  txn_commands_.clear();
  txn_sent_.clear();
  log::Error("transaction_aborted", {{"error", cause.error().ToString()}});
  // Consumers and the outbox cursor have moved past what was aborted: only a restart
  // (from RocksDB and the committed offsets) puts them back in step.
  if (store_error_) store_error_ = cause;
  return cause;
}

Status Engine::DrainOutbox(const std::vector<int32_t>& partitions, milliseconds timeout) {
  // An operational bound, not business time: the injected clock may stand still.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline; each pass waits at most 100 ms for deliveries (or, with
  // transactions, for one commit).
  while (true) {
    for (int32_t partition : partitions) {
      state::CaseStore* store = stores_.Find(partition);
      if (!store) continue;
      if (auto s = SendOutbox(partition, *store); !s) return s;
    }
    if (options_.transactions) {
      if (auto s = CommitTransaction(); !s) return s;
    } else {
      (void)producer_.Flush(milliseconds(100));
      if (auto s = DeleteDelivered(); !s) return s;
    }
    if (!store_error_) return store_error_;
    bool empty = true;
    for (int32_t partition : partitions) {
      state::CaseStore* store = stores_.Find(partition);
      if (!store) continue;
      auto left = store->ReadOutbox(0, 1);
      if (!left) return left.error();
      empty = empty && left->empty();
    }
    if (empty && producer_.InFlight() == 0) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{make_error_code(bus::errc::kTimeout), "outbox not drained"};
    }
  }
}

Result<uint64_t> Engine::OutboxDepth() {
  uint64_t depth = 0;
  for (int32_t partition : stores_.OpenPartitions()) {
    // RocksDB's estimate: reading a large outbox once a second would cost more than
    // the metric is worth.
    depth += stores_.Find(partition)->ApproximateOutboxEntries();
  }
  return depth;
}

Status Engine::Step(milliseconds poll_timeout) {
  Status s = StepOnce(poll_timeout);
  if (!s) failed_.store(true);
  return s;
}

Status Engine::StepOnce(milliseconds poll_timeout) {
  if (auto s = RunIntake(poll_timeout); !s) return s;
  // Timers due today fire before today's commands, as in workflow::Simulator: a
  // deadline due yesterday is breached before a command that arrives today.
  if (auto s = FireTimers(); !s) return s;
  if (auto s = RunProcessor(poll_timeout); !s) return s;
  if (auto s = SendOutbox(); !s) return s;
  if (options_.transactions) {
    NoteConsumerPositions();
    if (auto s = CommitTransaction(); !s) return s;
  }
  producer_.Poll(milliseconds(0));
  if (auto s = DeleteDelivered(); !s) return s;
  if (!store_error_) return store_error_;
  PurgeProcessedRecords();
  return {};
}

void Engine::PurgeProcessedRecords() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = purge_pending_.begin(); it != purge_pending_.end();) {
    const int32_t partition = it->first;
    PurgeRetry& retry = it->second;
    state::CaseStore* store = stores_.Find(partition);
    if (!store) {  // moved away: its new owner restores the mark and purges
      it = purge_pending_.erase(it);
      continue;
    }
    // Only once every output, changelog records included, is confirmed: a new owner
    // restoring from the changelog must never need a command deleted here.
    auto unsent = store->ReadOutbox(0, 1);
    if (retry.pause.Waiting(now) || !unsent || !unsent->empty()) {
      ++it;
      continue;
    }
    Status result = PurgePartition(partition, *store);
    if (result) result = store->ClearPurgePending();
    if (result) {
      if (retry.pause.failures > 0) {
        log::Info("purge_succeeded", {{"partition", std::to_string(partition)},
                                      {"attempts", std::to_string(retry.pause.failures + 1)}});
      }
      it = purge_pending_.erase(it);
      continue;
    }
    ++stats_.purge_failures;
    retry.last_error = result.error().ToString();
    const milliseconds pause =
        retry.pause.Fail(now, options_.purge_backoff_min, options_.purge_backoff_max);
    log::Error("purge_failed", {{"partition", std::to_string(partition)},
                                {"attempt", std::to_string(retry.pause.failures)},
                                {"retry_in_ms", std::to_string(pause.count())},
                                {"error", retry.last_error},
                                {"note",
                                 "an erased child's landing records are still on Kafka; retried "
                                 "until deleted (a broker without DeleteRecords, such as the "
                                 "development broker, never succeeds)"}});
    ++it;
  }
  std::string status;
  for (const auto& [partition, retry] : purge_pending_) {
    if (!status.empty()) status += "; ";
    status += "erasure purge pending on partition " + std::to_string(partition);
    if (retry.pause.failures > 0) {
      status += " (" + std::to_string(retry.pause.failures) + " failed: " + retry.last_error + ")";
    }
  }
  std::lock_guard lock(purge_status_mu_);
  purge_status_ = std::move(status);
}

std::string Engine::PurgeStatus() const {
  std::lock_guard lock(purge_status_mu_);
  return purge_status_;
}

Status Engine::PurgePartition(int32_t partition, state::CaseStore& store) {
  // pathway.commands.v1: below what this partition's store has consumed.
  auto consumed = store.NextOffset(topics::kCommands, partition);
  if (!consumed) return consumed.error();
  if (consumed->value_or(0) > 0) {
    if (auto s = processor_.DeleteRecordsBefore(
            {{std::string(topics::kCommands), partition, **consumed}}, options_.flush_timeout);
        !s) {
      return s;
    }
  }
  // pathway.inbound.v1: below what the intake group committed (its output, sealed or
  // keyed by hash, is already on pathway.commands.v1).
  auto partitions = intake_.Partitions(std::string(topics::kInbound), options_.flush_timeout);
  if (!partitions) return partitions.error();
  std::vector<bus::TopicPartition> asked;
  for (int32_t p : *partitions) asked.push_back({std::string(topics::kInbound), p});
  auto committed = intake_.Committed(asked, options_.flush_timeout);
  if (!committed) return committed.error();
  std::vector<bus::TopicPartition> before;
  for (const auto& c : *committed) {
    if (c.offset > 0) before.push_back({c.topic, c.partition, c.offset});
  }
  if (!before.empty()) {
    if (auto s = intake_.DeleteRecordsBefore(before, options_.flush_timeout); !s) return s;
  }
  log::Info("landing_records_deleted",
            {{"partition", std::to_string(partition)},
             {"commands_before", std::to_string(consumed->value_or(0))}});
  return {};
}

Result<EngineSnapshot> Engine::Snapshot(size_t max_due_count) {
  EngineSnapshot out;
  out.owned_partitions = owned_.size();
  auto depth = OutboxDepth();
  if (!depth) return depth.error();
  out.outbox_depth = *depth;
  workflow::CivilDate today = workflow::LondonDate(time_.Now());
  pathway::v1::Date today_proto = workflow::ToProto(today);
  for (int32_t partition : owned_) {
    state::CaseStore* store = stores_.Find(partition);
    if (!store) continue;
    auto due = store->DueTimers(partition, today_proto, max_due_count);
    if (!due) return due.error();
    out.timers_due += due->size();
    for (const auto& [name, value] : store->Stats()) out.rocksdb[name] += value;
    if (!due->empty()) {
      // Timers come back in firing order: the first is the most overdue.
      auto fires_on = workflow::ToCivil(due->front().fires_on());
      if (fires_on) {
        out.oldest_due_overdue_days =
            std::max<int64_t>(out.oldest_due_overdue_days, workflow::DaysBetween(*fires_on, today));
      }
    }
  }
  out.purges_pending = purge_pending_.size();
  out.inbound_lag = intake_.Lag();
  out.commands_lag = processor_.Lag();
  return out;
}

Status Engine::Drain(milliseconds timeout) {
  return DrainOutbox(std::vector<int32_t>(owned_.begin(), owned_.end()), timeout);
}

void Engine::OnDelivery(const bus::Delivery& d) {
  if (d.opaque & kFenceOpaque) {
    fence_delivery_ = d;
    return;
  }
  if (d.opaque & kIntakeOpaque) {
    if (!d.error) return;
    const uint64_t number = d.opaque & ~kIntakeOpaque;  // 1-based; 0: a dead letter
    // With transactions a refusal aborts the whole transaction instead.
    if (d.error == make_error_code(bus::errc::kRejected) && !options_.transactions && number > 0 &&
        number <= intake_batch_.size()) {
      log::Warn("intake_output_refused", {{"error", d.error_detail}});
      intake_refused_.emplace_back(number - 1, d.error_detail);
      return;
    }
    ++intake_failures_;
    log::Warn("intake_delivery_failed", {{"error", d.error_detail}});
    return;
  }
  const auto partition = static_cast<int32_t>((d.opaque >> kSequenceBits) & kPartitionMask);
  const uint64_t sequence = d.opaque & kSequenceMask;
  const bool changelog = (d.opaque & kChangelogOpaque) != 0;
  if (options_.transactions) {
    // Written is not committed: entries are deleted after the commit instead.
    if (d.error) {
      txn_delivery_failed_ = true;
      // Dead-lettered before the abort, so that the restart does not meet it again.
      if (d.error == make_error_code(bus::errc::kRejected)) {
        refused_[partition].emplace_back(sequence, d.error_detail);
      }
      log::Warn("outbox_delivery_failed", {{"partition", std::to_string(partition)},
                                           {"sequence", std::to_string(sequence)},
                                           {"error", d.error_detail}});
    }
    return;
  }
  state::CaseStore* store = stores_.Find(partition);
  // Revoked meanwhile: the entry stays; the next owner sends it again (same id).
  if (!store) return;
  if (d.error == make_error_code(bus::errc::kRejected)) {
    // Refused for good: SendOutbox moves it to the dead-letter topic.
    refused_[partition].emplace_back(sequence, d.error_detail);
    return;
  }
  if (d.error) {
    // Resend from here, after a pause; later entries may go twice, with the same ids.
    auto it = next_unsent_.find(partition);
    if (it != next_unsent_.end()) it->second = std::min(it->second, sequence);
    log::Warn("outbox_delivery_failed", {{"partition", std::to_string(partition)},
                                         {"sequence", std::to_string(sequence)},
                                         {"error", d.error_detail}});
    BackOff(partition);
    return;
  }
  // Deleted with the rest of the Step's deliveries in one write (DeleteDelivered).
  unconfirmed_[partition].erase(sequence);
  delivered_[partition].push_back({sequence, changelog});
  send_backoff_.erase(partition);
  ++stats_.delivered;
}

Status Engine::DeleteDelivered() {
  for (auto& [partition, delivered] : delivered_) {
    if (delivered.empty()) continue;
    state::CaseStore* store = stores_.Find(partition);
    // Revoked meanwhile: the entries stay; the next owner sends them again (same ids).
    if (store) {
      if (auto s = store->DeleteDelivered(delivered); !s) return s;
    }
    delivered.clear();
  }
  return {};
}

Status Engine::ProduceIntake(std::string_view topic, std::string_view key, std::string_view value,
                             uint64_t opaque) {
  if (options_.transactions) {
    if (auto s = BeginTransaction(); !s) return s;
  }
  // Bounded retry on a full local queue: Poll frees space as deliveries complete.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto s = producer_.Produce(topic, key, value, opaque);
    if (s || s.error().code != make_error_code(bus::errc::kQueueFull)) return s;
    producer_.Poll(milliseconds(100));
  }
  return Error{make_error_code(bus::errc::kQueueFull), "intake output"};
}

bool Engine::Fits(std::string_view key, std::string_view value) const {
  return key.size() + value.size() + kRecordOverheadBytes <= options_.max_record_bytes;
}

Status Engine::DeadLetterInbound(const bus::Message& m, std::string reason) {
  ++stats_.dead_letters;
  log::Warn("dead_letter", {{"source", Coordinates(m)}, {"reason", reason}});
  auto d = DeadLetter(Coordinates(m), m.topic, m.partition, m.offset, m.value, std::move(reason),
                      options_.dead_letter_key);
  if (!d) return d.error();
  // Without a batch index: a dead letter the broker refuses (a few KiB) stops the
  // process, since nothing smaller could stand in for it.
  return ProduceIntake(topics::kDeadLetter, Coordinates(m), d->SerializeAsString(), kIntakeOpaque);
}

Status Engine::RunIntake(milliseconds poll_timeout) {
  std::map<int32_t, int64_t> next_offsets;
  intake_batch_.clear();
  intake_refused_.clear();
  for (size_t i = 0; i < options_.max_batch; ++i) {
    auto polled = intake_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    ++stats_.inbound;
    // Kept until the batch is delivered, so an output the broker refuses can be
    // replaced by a dead letter of the message that caused it.
    intake_batch_.push_back(std::move(**polled));
    const bus::Message& m = intake_batch_.back();
    // 1-based, so that a bare kIntakeOpaque names no message.
    if (auto s = HandleInbound(m, kIntakeOpaque | intake_batch_.size()); !s) return s;
    next_offsets[m.partition] = m.offset + 1;
  }
  if (next_offsets.empty()) return {};
  if (options_.transactions) {
    // Committed with the transaction that carries their output.
    for (const auto& [partition, offset] : next_offsets) {
      txn_inbound_[partition] = std::max(txn_inbound_[partition], offset);
    }
    return {};
  }
  // Commit only what is delivered: a crash before this point re-reads the batch,
  // and the stateful stage drops the repeated event ids.
  if (auto s = producer_.Flush(options_.flush_timeout); !s) return s;
  if (!intake_refused_.empty()) {
    // Refused for good (e.g. larger than a broker's limit): retrying would stop the
    // engine on the same message for ever, so the message is dead-lettered instead.
    for (const auto& [index, detail] : std::exchange(intake_refused_, {})) {
      if (auto s = DeadLetterInbound(intake_batch_.at(index), "an output was refused: " + detail);
          !s) {
        return s;
      }
    }
    if (auto s = producer_.Flush(options_.flush_timeout); !s) return s;
  }
  intake_batch_.clear();
  if (intake_failures_ > 0) {
    intake_failures_ = 0;
    return Error{make_error_code(bus::errc::kDelivery), "intake output not delivered"};
  }
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets) {
    commit.push_back({std::string(topics::kInbound), partition, offset});
  }
  if (auto s = intake_.Commit(commit); !s) {
    // E.g. a rebalance in progress. The output is delivered; at worst the next owner
    // of these partitions reads them again, and the repeats (same event ids) are
    // dropped by the stateful stage. The next commit covers these offsets too.
    log::Warn("intake_commit_failed", {{"error", s.error().ToString()}});
  }
  return {};
}

Status Engine::HandleInbound(const bus::Message& m, uint64_t opaque) {
  if (m.value.size() > options_.max_message_bytes) {
    return DeadLetterInbound(m, "message of " + std::to_string(m.value.size()) +
                                    " bytes exceeds the " +
                                    std::to_string(options_.max_message_bytes) + "-byte limit");
  }
  v1::Envelope command;
  if (!command.ParseFromString(m.value)) {
    return DeadLetterInbound(m, "value does not decode as a pathway.v1.Envelope");
  }
  if (command.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) {
    std::string unknown = UnknownFieldNumbers(command);
    if (!unknown.empty()) {
      return DeadLetterInbound(m, "unknown payload (field " + unknown +
                                      "): published with a newer schema than this engine knows");
    }
  }

  struct Output {
    std::string_view topic;
    std::string key;
    std::string value;
  };
  std::vector<Output> outputs;
  auto reject = [&](const workflow::Rejection& r) {
    ++stats_.rejections;
    log::Info("command_rejected",
              {{"source", Coordinates(m)}, {"field", r.field}, {"rule", r.rule}});
    v1::Envelope out = workflow::MakeRejection(command, r, time_.Now());
    outputs.push_back({topics::kRejections, out.event_id(), out.SerializeAsString()});
  };
  if (command.event_id().empty()) {
    // No id to dedupe by: name the rejection after the message's coordinates.
    command.set_event_id("unidentified|" + Coordinates(m));
    reject({"event_id", "required", "every event needs an event_id"});
  } else {
    workflow::IntakeOutput routed =
        workflow::Intake(command, [this](std::string_view id) { return keyer_.Key(id); });
    if (routed.rejection) {
      reject(*routed.rejection);
    } else {
      for (const auto& c : routed.commands) {
        outputs.push_back({topics::kCommands, c.subject_key(), c.SerializeAsString()});
      }
    }
  }
  // Checked before anything is produced: a message whose output could never be
  // written is dead-lettered whole, instead of stopping the engine at every restart.
  for (const auto& o : outputs) {
    if (!Fits(o.key, o.value)) {
      return DeadLetterInbound(m, "its output to " + std::string(o.topic) + " of " +
                                      std::to_string(o.key.size() + o.value.size()) +
                                      " bytes exceeds the record limit of " +
                                      std::to_string(options_.max_record_bytes) + " bytes");
    }
  }
  for (const auto& o : outputs) {
    auto s = ProduceIntake(o.topic, o.key, o.value, opaque);
    if (!s && s.error().code == make_error_code(bus::errc::kRejected)) {
      return DeadLetterInbound(m, "an output was refused: " + s.error().ToString());
    }
    if (!s) return s;
  }
  return {};
}

Status Engine::RunProcessor(milliseconds poll_timeout) {
  std::vector<bus::Message> commands;
  for (size_t i = 0; i < options_.max_batch; ++i) {
    auto polled = processor_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    commands.push_back(std::move(**polled));
  }
  if (!options_.transactions) {
    // New children's data keys first, all together: their changelog records then go
    // out (and are confirmed) before anything sealed under them, once per batch
    // rather than once per child (see OutboxEntry.confirm_before_later). Transactions
    // commit both at once and need no such order.
    for (const auto& m : commands) {
      state::CaseStore* store = stores_.Find(m.partition);
      if (!store || !m.key || m.key->size() != 64) continue;  // HandleCommand says why
      if (auto s = store->PrepareDataKey(*m.key);
          !s && s.error().code != make_error_code(state::errc::kInvalidArgument)) {
        return s;
      }
    }
  }
  std::map<int32_t, int64_t> next_offsets;
  for (const auto& m : commands) {
    ++stats_.commands;
    auto started = std::chrono::steady_clock::now();
    if (auto s = HandleCommand(m); !s) {
      groups_.clear();  // staged only: the commands are processed again after a restart
      return s;
    }
    if (options_.on_command) {
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
      milliseconds age{0};
      if (m.timestamp_ms > 0) {
        auto now_ms = std::chrono::duration_cast<milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        age = milliseconds(std::max<int64_t>(0, now_ms - m.timestamp_ms));
      }
      options_.on_command(took, age);
    }
    if (owned_.count(m.partition)) next_offsets[m.partition] = m.offset + 1;
  }
  // One write per partition for the whole batch (group commit).
  if (auto s = FlushGroups(); !s) return s;
  // A new owner restarts where its restored store says, which can be behind what the
  // previous owner committed to the group: committing it at once keeps Kafka's lag
  // tools (and anyone waiting for the group to catch up) from counting the commands
  // it processes again as done.
  for (int32_t p : offsets_to_publish_) {
    if (owned_.count(p)) next_offsets.try_emplace(p, commands_next_[p]);
  }
  if (next_offsets.empty()) return {};
  if (options_.transactions) {
    for (const auto& [partition, offset] : next_offsets) {
      commands_next_[partition] = std::max(commands_next_[partition], offset);
      txn_commands_.insert(partition);
    }
    return {};
  }
  // RocksDB holds the authoritative offsets (committed with the state); the group's
  // offsets are kept too, so that Kafka's own lag tools show how far behind we are.
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets) {
    commit.push_back({std::string(topics::kCommands), partition, offset});
  }
  if (auto s = processor_.Commit(commit); !s) {
    log::Warn("offset_commit_failed", {{"error", s.error().ToString()}});
    return {};
  }
  for (int32_t p : offsets_to_publish_) {
    if (auto it = next_offsets.find(p); it != next_offsets.end()) {
      log::Info("commands_offset_published",
                {{"partition", std::to_string(p)}, {"offset", std::to_string(it->second)}});
    }
  }
  offsets_to_publish_.clear();
  return {};
}

Status Engine::HandleCommand(const bus::Message& m) {
  state::CaseStore* store_ptr = stores_.Find(m.partition);
  if (!store_ptr) {
    // Fetched before a revocation took effect: the partition's new owner processes
    // it from the offset in its restored store.
    log::Warn("not_owned_skipped", {{"source", Coordinates(m)}});
    return {};
  }
  state::CaseStore& store = *store_ptr;
  GroupCommit& group = GroupFor(m.partition, store);
  state::Batch batch;
  batch.consumed = state::ConsumedOffset{m.topic, m.partition, m.offset + 1};
  batch.partition = m.partition;

  v1::Envelope command;
  if (!command.ParseFromString(m.value) || command.event_id().empty() ||
      command.subject_key().size() != 64) {
    // Only the intake stage writes this topic; anything else here is a bug or a
    // stray producer. Keep it, with its reason, and move on.
    ++stats_.dead_letters;
    log::Warn("dead_letter", {{"source", Coordinates(m)}, {"reason", "malformed command"}});
    auto d =
        DeadLetter(Coordinates(m), m.topic, m.partition, m.offset, m.value,
                   "not a routed command (no event_id or subject_key)", options_.dead_letter_key);
    if (!d) return d.error();
    AddToOutbox(batch, topics::kDeadLetter, Coordinates(m), d->SerializeAsString());
    return group.Add(std::move(batch));
  }

  // Once per source, event id and subject: partners' ids are not one namespace.
  std::string identity = workflow::CommandIdentity(command);
  std::string digest = workflow::ContentDigest(command);
  auto seen = group.SeenEvent(identity);
  if (!seen) return seen.error();
  if (*seen) {
    // An entry without a digest predates digests: a repeat, as it was then decided.
    if ((*seen)->empty() || **seen == digest) {
      ++stats_.duplicates;
      log::Info("duplicate_ignored",
                {{"source", Coordinates(m)}, {"event_id", command.event_id()}});
      return group.Add(std::move(batch));  // advance the offset, nothing else
    }
    ++stats_.rejections;
    workflow::Rejection reused = workflow::ReusedIdRejection();
    log::Warn("command_rejected", {{"subject", command.subject_key()},
                                   {"event_id", command.event_id()},
                                   {"field", reused.field},
                                   {"rule", reused.rule}});
    v1::Envelope rejection = workflow::MakeReusedIdRejection(command, digest, time_.Now());
    AddToOutbox(batch, topics::kRejections, command.subject_key(), rejection.SerializeAsString());
    return group.Add(std::move(batch));  // the first message's entry stays as it is
  }
  batch.dedupe_event_id = std::move(identity);
  batch.dedupe_digest = std::move(digest);

  auto loaded = group.LoadCase(command.subject_key());
  if (!loaded) return loaded.error();
  pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());

  TimePoint now = time_.Now();
  const workflow::StepSettings settings = StepSettings();
  workflow::CaseStep step = workflow::DecideCommand(state, command, now, settings);
  if (step.needs_log) {
    // Dated before what the case has decided: re-decided from its kept commands.
    auto history = group.History(command.subject_key());
    if (!history) return history.error();
    // Entries past the case's length are a batch a crash cut short (restored in part
    // from the changelog): not decided, so not kept commands.
    if (history->size() > state.history_length()) history->resize(state.history_length());
    const std::vector<v1::Envelope> kept = workflow::CommandsOf(*history);
    step = workflow::DecideCommand(state, command, now, settings, &kept);
    ++stats_.redecisions;
    log::Info("case_redecided", {{"subject", command.subject_key()},
                                 {"event_id", command.event_id()},
                                 {"commands", std::to_string(kept.size() + 1)}});
  }
  if (step.rejection) {
    if (step.rejection->rule == "history_limit") {
      ++stats_.history_limit_rejections;
      log::Warn("history_limit_reached",
                {{"subject", command.subject_key()}, {"event_id", command.event_id()}});
    }
    // A refused command the case keeps (it may become valid) commits like any step.
    if (!step.new_state) return CommitRejection(group, std::move(batch), command, *step.rejection);
    ++stats_.rejections;
    log::Info("command_rejected", {{"subject", command.subject_key()},
                                   {"event_id", command.event_id()},
                                   {"field", step.rejection->field},
                                   {"rule", step.rejection->rule}});
  }

  state::Batch rejected = batch;  // what to commit instead if the outputs are too large
  std::vector<std::string> ids;
  for (const auto& event : step.history) ids.push_back(event.event_id());
  if (auto s = CarryOut(batch, store, command.subject_key(), std::move(step)); !s) return s;
  // Every value this commit writes or sends must fit, checked before anything is
  // committed: one that could never be sent would stop the partition for good.
  if (auto r = CheckSizes(batch)) {
    ++stats_.size_rejections;
    return CommitRejection(group, std::move(rejected), command, *r);
  }
  const bool erased = batch.erase_subject;
  if (auto s = group.Add(std::move(batch)); !s) return s;
  stats_.events += ids.size();
  for (const auto& id : ids) {
    log::Info(
        "event_recorded",
        {{"subject", command.subject_key()}, {"event_id", id}, {"cause", command.event_id()}});
  }
  if (erased) {
    log::Info("subject_erased", {{"subject", command.subject_key()}});
    purge_pending_.try_emplace(m.partition);
  }
  return {};
}

workflow::StepSettings Engine::StepSettings() const {
  return {
      .decide = {.identity_hold_days = options_.identity_hold_days,
                 .sharing = options_.statutory_sharing ? &*options_.statutory_sharing : nullptr},
      .warning_lead_days = options_.warning_lead_days,
      .max_history_per_case = options_.max_history_per_case};
}

Status Engine::CommitRejection(GroupCommit& group, state::Batch batch, const v1::Envelope& command,
                               const workflow::Rejection& r) {
  ++stats_.rejections;
  log::Info("command_rejected", {{"subject", command.subject_key()},
                                 {"event_id", command.event_id()},
                                 {"field", r.field},
                                 {"rule", r.rule}});
  // Bounded whatever the command held: MakeRejection names a hostile id by its digest.
  v1::Envelope rejection = workflow::MakeRejection(command, r, time_.Now());
  AddToOutbox(batch, topics::kRejections, command.subject_key(), rejection.SerializeAsString());
  return group.Add(std::move(batch));
}

GroupCommit& Engine::GroupFor(int32_t partition, state::CaseStore& store) {
  auto it = groups_.find(partition);
  if (it != groups_.end() && &it->second.store() != &store) it = groups_.erase(it);
  if (it == groups_.end() || it->first != partition) {
    it = groups_.emplace(partition, GroupCommit(store)).first;
  }
  return it->second;
}

Status Engine::FlushGroups() {
  Status result;
  for (auto& [partition, group] : groups_) {
    if (auto s = group.Flush(); !s && result) result = s;
  }
  groups_.clear();
  return result;
}

std::optional<workflow::Rejection> Engine::CheckSizes(const state::Batch& batch) const {
  auto too_large = [](std::string field, std::string rule, std::string what, size_t size,
                      size_t limit) {
    return workflow::Rejection{std::move(field), std::move(rule),
                               what + " would be " + std::to_string(size) +
                                   " bytes, over the limit of " + std::to_string(limit) +
                                   " bytes: send less in one command"};
  };
  if (batch.new_state) {
    const size_t size = batch.new_state->ByteSizeLong();
    if (size > options_.max_case_bytes) {
      return too_large("subject_key", "case.too_large", "the child's case record", size,
                       options_.max_case_bytes);
    }
    // Its changelog record also holds the command's identity; sealing adds a little.
    if (size + batch.subject_key.size() + batch.dedupe_event_id.size() + 2 * kRecordOverheadBytes >
        options_.max_record_bytes) {
      return too_large("subject_key", "output.too_large", "the changelog record of the case", size,
                       options_.max_record_bytes);
    }
  }
  for (const auto& event : batch.history) {
    const size_t size = event.ByteSizeLong();
    if (size + batch.subject_key.size() + 2 * kRecordOverheadBytes > options_.max_record_bytes) {
      return too_large("event_id", "output.too_large", "an event it causes", size,
                       options_.max_record_bytes);
    }
  }
  for (const auto& entry : batch.outbox) {
    if (!Fits(entry.key(), entry.value())) {
      return too_large("event_id", "output.too_large", "its output to " + entry.topic(),
                       entry.key().size() + entry.value().size(), options_.max_record_bytes);
    }
  }
  return std::nullopt;
}

void Engine::BackOff(int32_t partition) {
  ++stats_.send_retries;
  send_backoff_[partition].Fail(std::chrono::steady_clock::now(), options_.retry_backoff_min,
                                options_.retry_backoff_max);
}

Status Engine::DeadLetterOutput(int32_t partition, state::CaseStore& store, uint64_t sequence,
                                std::string reason) {
  auto items = store.ReadOutbox(sequence, 1);
  if (!items) return items.error();
  if (items->empty() || items->front().sequence != sequence) return {};  // already gone
  const auto& entry = items->front().entry;
  ++stats_.outputs_dead_lettered;
  ++stats_.dead_letters;
  log::Error("output_dead_lettered", {{"partition", std::to_string(partition)},
                                      {"sequence", std::to_string(sequence)},
                                      {"topic", entry.topic()},
                                      {"reason", reason}});
  std::string cause = "outbox|" + std::to_string(partition) + "|" + std::to_string(sequence);
  auto d = DeadLetter(cause, entry.topic(), partition, static_cast<int64_t>(sequence),
                      entry.value(), std::move(reason), options_.dead_letter_key);
  if (!d) return d.error();
  state::Batch batch;
  batch.partition = partition;
  AddToOutbox(batch, topics::kDeadLetter, cause, d->SerializeAsString());
  // Two writes: a crash between them sends the dead letter twice, with one id.
  if (auto s = store.Commit(batch); !s) return s;
  unconfirmed_[partition].erase(sequence);
  return store.DeleteOutbox(sequence);
}

Status Engine::FireTimers() {
  // Bounded per Step so a burst of due deadlines cannot stall the commands behind it:
  // at most max_batch timers per partition, and none while the partition's unsent
  // outbox is half an outbox_batch or more. A fired timer queues about six entries
  // (its event and the changelog records); without the second bound a storm would
  // queue more than a Step sends and new commands' events would wait behind it.
  TimePoint now = time_.Now();
  pathway::v1::Date today = workflow::ToProto(workflow::LondonDate(now));
  for (int32_t partition : owned_) {
    state::CaseStore* store = stores_.Find(partition);
    if (!store) continue;
    // The fired timers of a partition are committed together, like its commands.
    GroupCommit group(*store);
    auto backlog = [&] {
      return store->NextOutboxSequence() + group.StagedOutboxEntries() - next_unsent_[partition];
    };
    if (backlog() >= options_.outbox_batch / 2) continue;
    auto due = store->DueTimers(partition, today, options_.max_batch);
    if (!due) return due.error();
    for (const auto& timer : *due) {
      if (backlog() >= options_.outbox_batch / 2) break;  // the rest on the next Steps
      auto loaded = group.LoadCase(timer.subject_key());
      if (!loaded) return loaded.error();
      pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());
      state::Batch batch;
      batch.partition = partition;
      batch.timers_remove.push_back(timer);
      workflow::CaseStep step =
          workflow::FireTimerStep(timer.subject_key(), state, timer, now, StepSettings());
      if (step.new_state) {
        if (auto s = CarryOut(batch, *store, timer.subject_key(), std::move(step)); !s) return s;
        ++stats_.timers_fired;
      }
      if (auto s = group.Add(std::move(batch)); !s) return s;
    }
    if (auto s = group.Flush(); !s) return s;
  }
  return {};
}

Status Engine::SendOutbox() {
  // A partition that stopped after new data keys' records goes on in the same Step
  // once they are confirmed: one bounded wait for all partitions, so a batch that
  // meets new children costs a delivery round trip, not a Step.
  for (int round = 0; round < 2; ++round) {
    for (int32_t partition : owned_) {
      state::CaseStore* store = stores_.Find(partition);
      if (!store) continue;
      if (auto s = SendOutbox(partition, *store); !s) return s;
    }
    if (round > 0 || confirm_first_.empty()) break;
    (void)producer_.Flush(options_.new_key_wait);
    if (!store_error_) return store_error_;
  }
  return {};
}

Status Engine::SendOutbox(int32_t partition, state::CaseStore& store) {
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
  auto items = store.ReadOutbox(next, options_.outbox_batch);
  if (!items) return items.error();
  if (items->empty()) {
    next = std::max(next, store.NextOutboxSequence());  // all handed over already
    return {};
  }
  if (options_.transactions) {
    if (auto s = BeginTransaction(); !s) return s;
  }
  for (const auto& item : *items) {
    const auto& e = item.entry;
    // After a run of new keys' records, the rest waits for their confirmation.
    if (confirm_first_.count(partition) && !e.confirm_before_later()) break;
    bus::Outgoing out{e.topic(), e.key(), e.value(), e.tombstone()};
    if (e.has_partition()) out.partition = e.partition();
    Status s;
    if (!Fits(e.key(), e.value())) {
      // Checked before commit, so only an entry from an engine with a larger limit.
      s = Error{make_error_code(bus::errc::kRejected),
                std::to_string(e.key().size() + e.value().size()) +
                    " bytes exceed the record limit of " +
                    std::to_string(options_.max_record_bytes)};
    } else {
      s = producer_.Send(out, OutboxOpaque(partition, item.sequence, e.changelog()));
    }
    if (!s) {
      if (s.error().code == make_error_code(bus::errc::kQueueFull)) break;  // next Step
      if (s.error().code == make_error_code(bus::errc::kRejected)) {
        // Never sendable: waiting for it would stop the partition for good.
        if (auto d = DeadLetterOutput(partition, store, item.sequence, s.error().ToString()); !d) {
          return d;
        }
        next = item.sequence + 1;
        continue;
      }
      // Anything else may pass later (an unknown topic being created, a broker
      // restarting): try this entry again after a pause, never stop the engine for it.
      log::Warn("outbox_send_failed", {{"partition", std::to_string(partition)},
                                       {"sequence", std::to_string(item.sequence)},
                                       {"error", s.error().ToString()}});
      BackOff(partition);
      break;
    }
    next = item.sequence + 1;
    if (options_.transactions) {
      txn_sent_[partition].push_back({item.sequence, e.changelog()});
    } else {
      unconfirmed_[partition].insert(item.sequence);
    }
    if (e.confirm_before_later() && !options_.transactions)
      confirm_first_[partition] = item.sequence;
  }
  return {};
}

}  // namespace pathway::engine
