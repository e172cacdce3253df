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
// history, dedupe entry, outbox entries and the consumed offset in one batch. The
// outbox is then sent with the idempotent producer; an entry is deleted only after
// its delivery is confirmed, so a crash re-sends the same ids and loses none.
//
// Not thread-safe: one thread calls Start, Step and Drain. All references passed to
// the constructor must outlive the Engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>

#include "common/result.h"
#include "common/time_source.h"
#include "services/bus/event_bus.h"
#include "services/engine/subject_keyer.h"
#include "state/case_store.h"

namespace pathway::engine {

struct EngineOptions {
  size_t max_batch = 256;                          // messages per stage per Step
  size_t outbox_batch = 1024;                      // outbox entries sent per Step
  size_t max_message_bytes = 1 << 20;              // larger inbound values are dead-lettered
  std::chrono::milliseconds flush_timeout{15000};  // intake output delivery bound
  int warning_lead_days = 14;                      // deadline warnings this long before
};

struct EngineStats {
  uint64_t inbound = 0;       // messages read from pathway.inbound.v1
  uint64_t commands = 0;      // messages read from pathway.commands.v1
  uint64_t events = 0;        // events decided (recorded and queued for emission)
  uint64_t rejections = 0;    // commands rejected (intake and stateful stage)
  uint64_t dead_letters = 0;  // messages dead-lettered
  uint64_t duplicates = 0;    // commands whose event id was seen before
  uint64_t delivered = 0;     // outbox entries confirmed and deleted
  uint64_t timers_fired = 0;  // deadline warnings and breaches recorded
};

class Engine final : public bus::RebalanceListener {
 public:
  Engine(EngineOptions options, state::CaseStore& store, const SubjectKeyer& keyer,
         const TimeSource& time, bus::Producer& producer, bus::Consumer& intake,
         bus::Consumer& processor);

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

  // bus::RebalanceListener (the stateful stage's consumer): start each assigned
  // partition at the offset stored in RocksDB.
  void OnAssign(std::vector<bus::TopicPartition>& partitions) override;
  void OnRevoke(const std::vector<bus::TopicPartition>& partitions) override;

 private:
  Status RunIntake(std::chrono::milliseconds poll_timeout);
  Status HandleInbound(const bus::Message& message);
  Status RunProcessor(std::chrono::milliseconds poll_timeout);
  Status HandleCommand(const bus::Message& message);
  Status FireTimers();
  Status SendOutbox();
  Status ProduceIntake(std::string_view topic, std::string_view key, std::string_view value);

  EngineOptions options_;
  state::CaseStore& store_;
  const SubjectKeyer& keyer_;
  const TimeSource& time_;
  bus::Producer& producer_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;

  std::set<int32_t> owned_;       // partitions of pathway.commands.v1 this instance owns
  uint64_t next_unsent_ = 0;      // first outbox sequence not yet handed to the producer
  uint64_t intake_failures_ = 0;  // intake deliveries that failed since the last commit
  Status store_error_;            // a failure inside a delivery callback, surfaced by Step
  EngineStats stats_;
};

}  // namespace pathway::engine
