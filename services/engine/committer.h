// Committer: how the engine's work becomes permanent, the one place where its two
// commit protocols differ. Private to the engine. The stages (intake, command stage,
// partition restorer, outbox sender) call it at fixed points and never ask which
// protocol runs; the Engine picks the implementation once, from
// EngineOptions::transactions.
//
//   DeliveryConfirmedCommitter (delivery_confirmed_committer.h, the default): each
//     record is permanent once its own delivery report confirms it. Intake commits its
//     offsets after its output is delivered, the command stage commits the group's
//     offsets after processing (RocksDB holds the authoritative ones), and the outbox
//     deletes an entry once its delivery is confirmed.
//   TransactionalCommitter (transactional_committer.h): a Step's output is one Kafka
//     transaction, committed with both stages' offsets; the commands group's offsets
//     carry the last outbox sequence committed, and entries are deleted after the
//     commit.
//
// Ownership: an implementation holds references to the bus clients and the
// StageContext it is given, which must outlive it. Not thread-safe: engine thread
// only (delivery reports arrive there too, during Producer::Poll and Flush). Errors:
// a failed Status is fatal to the process (it restarts from RocksDB and the committed
// offsets) unless a method says otherwise; a transaction that fails is aborted first
// and its failure also made sticky in StageContext::fatal.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "common/result.h"
#include "services/bus/event_bus.h"
#include "state/case_store.h"

namespace pathway::engine {

// What a delivery report means for the record it is about, and so what the stage
// that produced the record does next.
enum class DeliveryOutcome {
  kConfirmed,  // delivered, and that made it permanent: the stage may forget it
  kRetry,      // failed, may pass later: the stage sends it again (after a pause)
  kRefused,    // refused for good: the stage replaces it by a dead letter
  // Delivery does not decide it: the commit that carries the record does. A failure
  // has been noted, and fails that commit (refused outbox entries are dead-lettered
  // first); the stage only logs it.
  kPending,
};

// An outbox entry, for reports about one.
struct OutboxRef {
  int32_t partition = 0;
  uint64_t sequence = 0;
};

class Committer {
 public:
  virtual ~Committer() = default;

  // --- Lifecycle
  // Once, before the stages subscribe. Transactions: the producer must be
  // transactional (kConfig otherwise); fences an earlier incarnation with the same
  // transactional id and aborts whatever it left open.
  virtual Status Start() = 0;
  // Before any record of the Step is produced (intake output, outbox entries).
  // Transactions: opens the Step's transaction if none is open.
  virtual Status OpenOutput() = 0;
  // Sends one record that must be durable on its own, before anything that follows
  // it on its partition (a changelog fence). Transactions: in a transaction of its
  // own, so that reading up to it (read_committed) waits for every earlier one.
  virtual Status SendAlone(const bus::Outgoing& record, uint64_t opaque) = 0;

  // --- Outputs
  // Whether each record is confirmed by its own delivery report. Then an outbox entry
  // counts as in flight until its report arrives, and what is sealed under a new data
  // key waits until the key's changelog record is confirmed (the command stage writes
  // new keys first for that). Otherwise a commit makes a Step's records visible
  // together and neither order is needed.
  virtual bool confirms_each_delivery() const = 0;
  // What `delivery` means; `outbox` names the entry when it is about an outbox entry.
  virtual DeliveryOutcome Delivered(const bus::Delivery& delivery,
                                    std::optional<OutboxRef> outbox) = 0;
  // The outbox sender handed `entry` of `partition` to the producer.
  virtual void OutboxSent(int32_t partition, state::Delivered entry) = 0;
  // Waits up to `timeout` for the delivery reports of what was produced so far (a
  // Flush), where they decide anything; kTimeout if some are still outstanding.
  // Transactions: returns at once (the commit flushes).
  virtual Status AwaitDelivery(std::chrono::milliseconds timeout) = 0;

  // --- Offsets
  // The intake read pathway.inbound.v1 up to these next offsets and its output for
  // them is delivered (AwaitDelivery, then every failure dealt with). Delivery-
  // confirmed: commits them to the intake group now (a failure is logged, not
  // returned: the next commit covers them). Transactions: they go with the Step's
  // transaction.
  virtual Status CommitIntake(const std::map<int32_t, int64_t>& next_offsets) = 0;
  // The command stage processed pathway.commands.v1 up to these next offsets (of owned
  // partitions) and committed the result to RocksDB, which holds the authoritative
  // offsets. Delivery-confirmed: commits them to the commands group for Kafka's lag
  // tools, with the stored offsets of newly assigned partitions (a failure is logged,
  // not returned). Transactions: they go with the Step's transaction.
  virtual Status CommitCommands(const std::map<int32_t, int64_t>& next_offsets) = 0;

  // --- Commit points
  // Makes what the open transaction holds permanent: flushes, adds both stages'
  // offsets (the commands group's with the last outbox sequence committed), commits,
  // then deletes the committed outbox entries. Delivery-confirmed: nothing to do.
  virtual Status Commit() = 0;
  // The end of a Step: Commit, with the consumers' positions (which move past
  // transaction markers) among the offsets. Delivery-confirmed: nothing to do.
  virtual Status EndStep() = 0;

  // --- Partitions of pathway.commands.v1
  // `partition` was made current (PartitionRestorer) and its store opened. Before the
  // stages use it. Transactions: forgets the outbox entries that a committed
  // transaction already carried (their sequence is in the commands group's committed
  // metadata) and never hands their sequences out again.
  virtual Status Restored(int32_t partition, state::CaseStore& store) = 0;
  // `partition` is owned from now on, resuming at `next_offset` (kOffsetBeginning if
  // none is stored).
  virtual void Assigned(int32_t partition, int64_t next_offset) = 0;
  // `partition` is no longer owned; its outbox has been drained (bounded).
  virtual void Revoked(int32_t partition) = 0;
};

}  // namespace pathway::engine
