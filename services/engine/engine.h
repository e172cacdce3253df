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
// The Engine is a facade over the stages of a stream processor (docs/architecture.md,
// "Inside the engine"): IntakeStage, CommandStage, PartitionRestorer, OutboxSender and
// LandingPurger, with one Committer (delivery-confirmed outbox, or Kafka transactions
// with EngineOptions::transactions) deciding how their work becomes permanent. It
// owns them, sequences them in Step, and hands them the rebalance callbacks.
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

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "services/bus/event_bus.h"
#include "services/bus/kafka_bus.h"
#include "services/engine/delivery_router.h"
#include "services/engine/engine_options.h"
#include "services/engine/subject_keyer.h"
#include "state/store_set.h"

namespace pathway::engine {

// The restore consumer's settings, from the engine's own. It reads a changelog
// partition up to a fence it has just written, so a fetch that finds nothing must
// come back at once instead of waiting fetch.wait.max.ms (librdkafka's 500 ms): with
// one fetch per broker in flight, each partition's takeover used to wait for the
// previous partition's idle fetch. An operator's own fetch.wait.max.ms is kept.
bus::KafkaConfig RestoreConsumerConfig(bus::KafkaConfig config);

class Engine final : public bus::RebalanceListener {
 public:
  // `deliveries` receives `producer`'s delivery reports (see the wiring above).
  // `restore` reads the changelog (Assign only; it may be unused without a changelog).
  Engine(EngineOptions options, state::StoreSet& stores, const SubjectKeyer& keyer,
         const TimeSource& time, bus::Producer& producer, DeliveryRouter& deliveries,
         bus::Consumer& intake, bus::Consumer& processor, bus::Consumer& restore);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Registers the stages with the delivery router (kState if another engine is
  // registered there) and subscribes both stages. The outbox is re-sent from its
  // start: whatever a previous run left undelivered goes out first.
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
  struct Stages;  // engine.cc: the context, the committer and the stages

  Status StepOnce(std::chrono::milliseconds poll_timeout);
  // Sends the outbox of `partitions` until it is empty or `timeout` passes (kTimeout).
  Status DrainOutbox(const std::vector<int32_t>& partitions, std::chrono::milliseconds timeout);

  const EngineOptions options_;
  state::StoreSet& stores_;
  const TimeSource& time_;
  bus::Producer& producer_;
  DeliveryRouter& deliveries_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;

  std::set<int32_t> owned_;  // partitions of pathway.commands.v1 this instance owns
  EngineStats stats_;
  std::unique_ptr<Stages> stages_;
  std::vector<DeliveryRouter::Registration> registrations_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> assigned_once_{false};
  std::atomic<bool> restoring_{false};
};

}  // namespace pathway::engine
