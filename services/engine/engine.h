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
// Not thread-safe: one thread calls Start, Step and Drain (rebalance callbacks run in
// Step). All references passed to the constructor must outlive the Engine.
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
#include "services/engine/group_commit.h"
#include "services/engine/subject_keyer.h"
#include "state/case_store.h"
#include "state/store_set.h"
#include "workflow/case_step.h"
#include "workflow/rejection.h"

namespace pathway::engine {

struct EngineOptions {
  size_t max_batch = 256;      // messages per stage per Step
  size_t outbox_batch = 1024;  // outbox entries sent per Step
  // Inbound values larger than this are dead-lettered. Well below max_record_bytes, so
  // a routed command (the inbound value and a subject key) always fits a record.
  size_t max_message_bytes = 512 << 10;
  // The largest record (key and value) the producer and the brokers accept: at most
  // librdkafka's message.max.bytes (default 1,000,000) and every output topic's
  // max.message.bytes. Every output is checked against it before it is committed; one
  // that does not fit is rejected or dead-lettered instead (docs/guarantees.md).
  size_t max_record_bytes = 1'000'000;
  // A case's state (one RocksDB value and one changelog record) may not grow past
  // this: the command that would pass it is rejected (rule case.too_large).
  size_t max_case_bytes = 256 << 10;
  // 32 bytes: dead letters carry their excerpt sealed under this key (main.cc derives
  // it from the key-encryption key). Empty: the excerpt goes in clear (unit tests).
  std::string dead_letter_key;
  std::chrono::milliseconds flush_timeout{15000};  // intake output delivery bound
  // How long a Step waits for new data keys' changelog records to be confirmed before
  // it sends what is sealed under them; unconfirmed by then, they go on a later Step.
  std::chrono::milliseconds new_key_wait{200};
  int warning_lead_days = 14;  // deadline warnings this long before
  // How long a command naming only an unlinked UPN or local id waits for its link.
  int identity_hold_days = 14;
  // Sharing the law allows without consent (config/statutory_sharing.json); none if
  // unset: then only an agency's own facts and consented ones are shared.
  std::optional<pathway::v1::StatutorySharing> statutory_sharing;
  // Events kept per case. A command that would grow a case beyond this is rejected
  // (rule history_limit) so one runaway subject cannot grow without bound.
  uint64_t max_history_per_case = 10000;
  // After a send or delivery that failed but may pass later, the partition's outbox
  // waits this long before it is tried again, doubling up to the maximum.
  std::chrono::milliseconds retry_backoff_min{100};
  std::chrono::milliseconds retry_backoff_max{5000};
  // After an erasure, deleting the landing topics' records is retried until it
  // succeeds: this long after the first failure, doubling up to the maximum.
  std::chrono::milliseconds purge_backoff_min{1000};
  std::chrono::milliseconds purge_backoff_max{600000};
  std::chrono::milliseconds restore_timeout{120000};      // per partition, on assignment
  std::chrono::milliseconds revoke_drain_timeout{10000};  // per revocation
  // Kafka transactions (needs a transactional producer, Producer::transactional()).
  // Each Step's output (intake output, outbox entries with their changelog records) is
  // one transaction, committed together with the consumed offsets of both stages; the
  // commands group's offsets carry the last outbox sequence committed, so an entry
  // whose transaction committed is never sent again, even after a crash before its
  // local deletion. read_committed consumers then see every output once, and a
  // replaced instance's transaction is fenced by its group's generation (KIP-447).
  bool transactions = false;
  std::chrono::milliseconds transaction_timeout{60000};  // per transactional call
  // Called after each command of the stateful stage with how long it took to decide
  // (its commit is the Step's group commit, after the last command) and how long ago it was
  // appended to pathway.commands.v1 (broker time; 0 if unknown). On the engine thread; for metrics.
  std::function<void(std::chrono::microseconds took, std::chrono::milliseconds age)> on_command;
};

// Values that cost a RocksDB read to compute, for metrics (Engine::Snapshot).
struct EngineSnapshot {
  size_t owned_partitions = 0;
  uint64_t outbox_depth = 0;                // entries waiting for delivery (incl. changelog)
  uint64_t timers_due = 0;                  // due now, counted up to the cap given to Snapshot
  int64_t oldest_due_overdue_days = 0;      // how late the oldest due timer is (0: none due)
  int64_t inbound_lag = 0;                  // messages behind on pathway.inbound.v1
  int64_t commands_lag = 0;                 // messages behind on pathway.commands.v1
  size_t purges_pending = 0;                // partitions whose landing records wait for deletion
  std::map<std::string, uint64_t> rocksdb;  // CaseStore::Stats summed over partitions
};

struct EngineStats {
  uint64_t inbound = 0;           // messages read from pathway.inbound.v1
  uint64_t commands = 0;          // messages read from pathway.commands.v1
  uint64_t events = 0;            // events decided (recorded and queued for emission)
  uint64_t rejections = 0;        // commands rejected (intake and stateful stage)
  uint64_t dead_letters = 0;      // messages dead-lettered
  uint64_t duplicates = 0;        // commands whose event id was seen before
  uint64_t delivered = 0;         // outbox entries confirmed and deleted
  uint64_t timers_fired = 0;      // deadline warnings and breaches recorded
  uint64_t restored_records = 0;  // changelog records applied by restores
  uint64_t restores = 0;          // partitions rebuilt from the changelog
  uint64_t history_limit_rejections = 0;
  uint64_t redecisions = 0;            // cases re-decided for a command that arrived out of order
  uint64_t size_rejections = 0;        // commands whose outputs or state were too large
  uint64_t outputs_dead_lettered = 0;  // outputs the broker refused for good
  uint64_t send_retries = 0;           // transient send or delivery failures, retried later
  uint64_t purge_failures = 0;         // failed attempts to delete landing records
};

class Engine final : public bus::RebalanceListener {
 public:
  // `restore` reads the changelog (Assign only; it may be unused without a changelog).
  Engine(EngineOptions options, state::StoreSet& stores, const SubjectKeyer& keyer,
         const TimeSource& time, bus::Producer& producer, bus::Consumer& intake,
         bus::Consumer& processor, bus::Consumer& restore);

  // Subscribes both stages. The outbox is re-sent from its start: whatever a
  // previous run left undelivered goes out first.
  Status Start();

  // One bounded round: up to max_batch inbound messages, up to max_batch commands,
  // one outbox pass and delivery reports. Each consumer waits at most
  // `poll_timeout` for its first message. An error is fatal to the process (restart
  // resumes from stored offsets without loss or duplicates).
  Status Step(std::chrono::milliseconds poll_timeout);

  // Sends the outbox until it is empty or `timeout` passes (kTimeout).
  Status Drain(std::chrono::milliseconds timeout);

  // Wire to the producer's DeliveryCallback.
  void OnDelivery(const bus::Delivery& delivery);

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
  std::atomic<bool> failed_{false};
  std::atomic<bool> assigned_once_{false};
  std::atomic<bool> restoring_{false};
  mutable std::mutex purge_status_mu_;
  std::string purge_status_;  // PurgeStatus(), written on the engine thread
};

}  // namespace pathway::engine
