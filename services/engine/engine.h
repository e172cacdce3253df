// The engine: the intake stage and the stateful stage, hosted on the event bus.
//
// Intake (stateless): reads pathway.inbound.v1 (partners key it as they like),
// decodes each Envelope, finds the child, sets the subject key and re-publishes the
// command on pathway.commands.v1 keyed by subject, so every event of one child is
// processed on one partition (a repartition, as in Kafka Streams). Undecodable or
// unknown payloads go to pathway.deadletter.v1, unroutable commands to
// pathway.rejections.v1. Intake offsets are committed to Kafka only after its
// output is delivered (at-least-once; repeats carry the same event ids).
//
// Stateful stage: reads pathway.commands.v1 from the offsets stored in RocksDB,
// drops event ids it has seen, runs workflow::Decide, and commits new state,
// history, dedupe entry, outbox entries and the consumed offset of every command of a
// partition read in one Step in one atomic write (GroupCommit). The outbox is then
// sent with the idempotent producer; an entry is deleted only after its delivery is
// confirmed (in one write per Step), so a crash re-sends the same ids and loses none.
//
// Scale-out: each partition of pathway.commands.v1 has its own store (StoreSet),
// mirrored to the same partition of pathway.engine.cases.changelog through the
// outbox. On assignment the engine fences the changelog partition with a fresh owner
// id and either keeps its local store (nobody else owned the partition since its last
// fence) or rebuilds the store from the changelog, then seeks to the stored offset.
// On revocation it drains that partition's outbox (bounded) and closes the store.
// docs/guarantees.md states exactly what this guarantees.
//
// Wiring: the producer's delivery reports must reach the engine through a
// DeliveryRouter made before the producer (delivery_router.h):
//
//   DeliveryRouter deliveries;                      // outlives the producer
//   auto producer = NewKafkaProducer(config, deliveries.callback());
//   Engine engine(options, stores, keyer, time, *producer, deliveries, ...);
//
// Not thread-safe: one thread calls Start, Step and Drain (rebalance callbacks and
// delivery reports run in them). All references passed to the constructor must
// outlive the Engine.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/config.pb.h"
#include "services/bus/event_bus.h"
#include "services/engine/delivery_router.h"
#include "services/engine/engine_options.h"
#include "services/engine/group_commit.h"
#include "services/engine/subject_keyer.h"
#include "state/case_store.h"
#include "state/store_set.h"
#include "workflow/case_step.h"
#include "workflow/rejection.h"

namespace pathway::engine {

class Engine final : public bus::RebalanceListener {
 public:
  // `deliveries` receives `producer`'s delivery reports (see the wiring above).
  // `restore` reads the changelog (Assign only; it may be unused without a changelog).
  Engine(EngineOptions options, state::StoreSet& stores, const SubjectKeyer& keyer,
         const TimeSource& time, bus::Producer& producer, DeliveryRouter& deliveries,
         bus::Consumer& intake, bus::Consumer& processor, bus::Consumer& restore);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Registers with the delivery router (kState if another engine is registered
  // there) and subscribes both stages. The outbox is re-sent from its start: whatever
  // a previous run left undelivered goes out first.
  Status Start();

  // One bounded round: up to max_batch inbound messages, up to max_batch commands,
  // one outbox pass and delivery reports. Each consumer waits at most
  // `poll_timeout` for its first message. An error is fatal to the process (restart
  // resumes from stored offsets without loss or duplicates).
  Status Step(std::chrono::milliseconds poll_timeout);

  // Sends the outbox until it is empty or `timeout` passes (kTimeout).
  Status Drain(std::chrono::milliseconds timeout);

  const EngineStats& stats() const { return stats_; }
  // Partitions of pathway.commands.v1 this instance owns (restored and processing).
  const std::set<int32_t>& owned() const { return owned_; }
  // Outbox entries not yet confirmed, over every open partition: RocksDB's estimate.
  Result<uint64_t> OutboxDepth();
  // Metrics that need reads; call on the engine thread, e.g. once a second.
  Result<EngineSnapshot> Snapshot(size_t max_due_count = 10000);
  // Live: the engine thread has not failed. Ready: live, subscribed, assigned at least
  // once and not restoring a partition. Safe to call from any thread.
  bool live() const { return !failed_.load(); }
  bool ready() const { return live() && assigned_once_.load() && !restoring_.load(); }
  // Erasure purges still pending and why ("" if none), for /health/ready's detail.
  // Safe to call from any thread.
  std::string PurgeStatus() const;

  // bus::RebalanceListener (the stateful stage's consumer): start each assigned
  // partition at the offset stored in RocksDB.
  void OnAssign(std::vector<bus::TopicPartition>& partitions) override;
  void OnRevoke(const std::vector<bus::TopicPartition>& partitions) override;

 private:
  // A delivery report, routed here by the router (every channel).
  void OnDelivery(const bus::Delivery& delivery);
  Status StepOnce(std::chrono::milliseconds poll_timeout);
  Status RunIntake(std::chrono::milliseconds poll_timeout);
  // `opaque` goes with the message's outputs (kIntakeOpaque and its batch number).
  Status HandleInbound(const bus::Message& message, uint64_t opaque);
  // Sends a bounded dead letter of `message` (digest, size, sealed excerpt).
  Status DeadLetterInbound(const bus::Message& message, std::string reason);
  // Whether a record of this key and value fits options_.max_record_bytes.
  bool Fits(std::string_view key, std::string_view value) const;
  // Replaces outbox entry `sequence` of `partition` by a dead letter naming `reason`:
  // one commit adds the dead letter (bounded), then the entry is deleted.
  Status DeadLetterOutput(int32_t partition, state::CaseStore& store, uint64_t sequence,
                          std::string reason);
  // Why `batch` may not be committed (a value larger than its limit), if it may not.
  std::optional<workflow::Rejection> CheckSizes(const state::Batch& batch) const;
  // What a case step depends on, from options_ (the simulator takes the same).
  workflow::StepSettings StepSettings() const;
  // Rejects `command` in a batch of its own (consumed offset and dedupe entry only).
  Status CommitRejection(GroupCommit& group, state::Batch batch,
                         const pathway::v1::Envelope& command, const workflow::Rejection& r);
  Status RunProcessor(std::chrono::milliseconds poll_timeout);
  // The group commit of `partition`'s commands in this Step (made on first use).
  GroupCommit& GroupFor(int32_t partition, state::CaseStore& store);
  // Commits every partition's group (one write each) and forgets them.
  Status FlushGroups();
  Status HandleCommand(const bus::Message& message);
  Status FireTimers();
  Status SendOutbox();
  Status SendOutbox(int32_t partition, state::CaseStore& store);
  // Deletes the outbox entries confirmed since the last call, one write per partition.
  Status DeleteDelivered();
  // Makes the partition's store current (see the class comment); the offset of
  // pathway.commands.v1 to resume from.
  Result<int64_t> TakeOver(int32_t partition);
  // Sends the outbox of `partitions` until it is empty or `timeout` passes (kTimeout).
  Status DrainOutbox(const std::vector<int32_t>& partitions, std::chrono::milliseconds timeout);
  // Transactions mode.
  Status BeginTransaction();
  // Flushes, adds both stages' offsets and commits; then deletes the committed outbox
  // entries. Also commits when only offsets moved. A failure aborts (AbortTransaction).
  Status CommitTransaction();
  // Aborts the open transaction (best effort) and makes `cause` sticky: the process
  // must restart, from RocksDB and the committed offsets.
  Status AbortTransaction(Status cause);
  // Adds consumer positions that moved past what was last committed (e.g. past a
  // transaction's commit marker) to the next transaction's offsets.
  void NoteConsumerPositions();
  // After a restore: forgets outbox entries a committed transaction already carried
  // (their sequence is in the commands group's committed metadata).
  Status AdoptCommittedOutbox(int32_t partition, state::CaseStore& store);
  Status ProduceFence(int32_t partition, const std::string& owner, int64_t* offset);
  Status ProduceIntake(std::string_view topic, std::string_view key, std::string_view value,
                       uint64_t opaque);
  // After an erasure: deletes the processed records of pathway.commands.v1 (the
  // partition's) and pathway.inbound.v1 (all partitions, below the intake group's
  // committed offsets), which hold what partners sent in clear. Never fatal: a
  // failure is logged (purge_failed), counted and retried after a doubling pause
  // until it succeeds; PurgeStatus says what is pending.
  void PurgeProcessedRecords();
  Status PurgePartition(int32_t partition, state::CaseStore& store);

  EngineOptions options_;
  state::StoreSet& stores_;
  const SubjectKeyer& keyer_;
  const TimeSource& time_;
  bus::Producer& producer_;
  DeliveryRouter& deliveries_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;
  bus::Consumer& restore_;

  std::set<int32_t> owned_;  // partitions of pathway.commands.v1 this instance owns
  // Per owned partition: the first outbox sequence not yet handed to the producer.
  std::map<int32_t, uint64_t> next_unsent_;
  // Per partition: the sequence of the last new data key's changelog record sent;
  // nothing after it is sent until everything up to it is confirmed.
  std::map<int32_t, uint64_t> confirm_first_;
  // Per partition, without transactions: outbox entries handed to the producer and
  // not yet confirmed (bounded by what one Step sends plus failed ones).
  std::map<int32_t, std::set<uint64_t>> unconfirmed_;
  // Per partition: entries confirmed since the last DeleteDelivered.
  std::map<int32_t, std::vector<state::Delivered>> delivered_;
  // The fence being produced: its delivery report fills these.
  std::optional<bus::Delivery> fence_delivery_;
  uint64_t intake_failures_ = 0;  // intake deliveries that failed since the last commit
  // The intake batch being delivered (bounded by max_batch x max_message_bytes), and
  // the outputs of it the broker refused for good: (index in the batch, detail).
  std::vector<bus::Message> intake_batch_;
  std::vector<std::pair<size_t, std::string>> intake_refused_;
  // Outbox entries the broker refused for good, per partition: (sequence, detail);
  // SendOutbox moves them to the dead-letter topic.
  std::map<int32_t, std::vector<std::pair<uint64_t, std::string>>> refused_;
  // A pause after failures that doubles with each one, from `min` up to `max`: the
  // outbox's sends and the erasure purge retry on it.
  struct DoublingPause {
    std::chrono::steady_clock::time_point until;
    std::chrono::milliseconds delay{0};
    int failures = 0;
    // Records a failure at `now` and returns the pause it starts.
    std::chrono::milliseconds Fail(std::chrono::steady_clock::time_point now,
                                   std::chrono::milliseconds min, std::chrono::milliseconds max) {
      ++failures;
      delay = std::clamp(delay * 2, min, std::max(min, max));
      until = now + delay;
      return delay;
    }
    bool Waiting(std::chrono::steady_clock::time_point now) const { return now < until; }
  };
  // Per partition: no sends until the pause after a transient failure has passed.
  std::map<int32_t, DoublingPause> send_backoff_;
  // Backs `partition` off after a transient failure (retry_backoff_min, doubling).
  void BackOff(int32_t partition);
  // Transactions mode: what the open transaction holds.
  bool txn_open_ = false;
  bool txn_delivery_failed_ = false;
  std::map<int32_t, int64_t> txn_inbound_;                     // next offsets of pathway.inbound.v1
  std::map<int32_t, std::vector<state::Delivered>> txn_sent_;  // outbox entries, per partition
  std::set<int32_t> txn_commands_;                             // partitions whose offset moved
  std::map<int32_t, int64_t> commands_next_;                   // per owned partition
  // Without transactions: partitions assigned whose stored offset the group's
  // committed offset does not show yet (a new owner may restart behind it).
  std::set<int32_t> offsets_to_publish_;
  std::map<int32_t, uint64_t> committed_through_;  // last committed outbox sequence
  std::map<int32_t, int64_t> committed_inbound_;   // offsets last committed by this
  std::map<int32_t, int64_t> committed_commands_;  //   instance, per partition
  // Partitions of pathway.commands.v1 where a subject was erased: once their outbox is
  // sent, the landing topics' processed records are deleted (PurgeProcessedRecords),
  // retried with a doubling pause until that succeeds. The store keeps the mark, so a
  // restart (or a new owner) goes on with it.
  struct PurgeRetry {
    DoublingPause pause;  // purge_backoff_min, doubling
    std::string last_error;
  };
  std::map<int32_t, PurgeRetry> purge_pending_;
  // Per partition: the commands decided in this Step, committed together at its end.
  std::map<int32_t, GroupCommit> groups_;
  Status store_error_;  // a failure inside a delivery callback, surfaced by Step
  EngineStats stats_;
  // Released first (members are destroyed in reverse order): no report reaches an
  // engine being destroyed.
  std::vector<DeliveryRouter::Registration> registrations_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> assigned_once_{false};
  std::atomic<bool> restoring_{false};
  mutable std::mutex purge_status_mu_;
  std::string purge_status_;  // PurgeStatus(), written on the engine thread
};

}  // namespace pathway::engine
