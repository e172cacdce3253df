// The gateway's two Kafka clients, each on its own thread:
//
// BusCommandSink publishes commands to pathway.inbound.v1 with the idempotent producer,
//   keyed like `pathwayctl publish` (services/pathwayctl/inbound_key.h: a coarse bucket
//   of the child's identifier, never the identifier), and reports each delivery.
//   librdkafka reports every message within message.timeout.ms, so `done` always runs.
//
// BusOutcomeTracker reads pathway.events.v1 and pathway.rejections.v1 (every
//   partition, outside any consumer group, from their ends when it starts: each gateway
//   instance sees every outcome) and keeps, per inbound event id, the events it caused
//   (causation_id) or its rejection (CommandRejected.rejected_event_id). Bounded: the
//   most recent `max_outcomes` commands, at most `max_events_per_outcome` events each.
//   Waiters are answered once the tracker has caught up after an outcome arrived (so a
//   command's events come together), or at their deadline with kPending.
//
// BusMemberReader and BusDeadLetterReader read a topic from the beginning of every
//   partition into memory (reads.h's MembersDirectory, deadletters.h's DeadLetterStore).
//
// Each owns its client and thread; the destructor stops the thread (answering what
// still waits: the sink with an error, the tracker with kPending) and joins it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/time_source.h"
#include "services/bus/event_bus.h"
#include "services/gateway/api/api.h"
#include "services/gateway/api/deadletters.h"
#include "services/gateway/api/reads.h"

namespace pathway::gateway {

class BusCommandSink final : public CommandSink {
 public:
  // `producer` must report deliveries to the callback this returns (make the producer
  // with it): NewKafkaProducer(config, sink->DeliveryHandler()).
  BusCommandSink();
  ~BusCommandSink() override;
  bus::DeliveryCallback DeliveryHandler();
  // How records are keyed: as partners key pathway.inbound.v1 (pathway::ctl::
  // InboundKey), or by the envelope's subject key (pathway.audit.v1, where one
  // partition holds a child's whole trail).
  enum class Keying { kInbound, kSubject };
  // Starts the thread; `topic` is pathway.inbound.v1 (or pathway.audit.v1) in production.
  void Start(std::unique_ptr<bus::Producer> producer, std::string topic,
             Keying keying = Keying::kInbound);
  void Publish(const pathway::v1::Envelope& command, std::function<void(Status)> done) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct OutcomeTrackerOptions {
  std::string events_topic;      // pathway.events.v1
  std::string rejections_topic;  // pathway.rejections.v1
  std::size_t max_outcomes = 100'000;
  std::size_t max_events_per_outcome = 64;
  std::chrono::milliseconds poll{20};
};

class BusOutcomeTracker final : public OutcomeSource {
 public:
  // Assigns every partition of both topics at their end offsets, asked of the broker
  // (each within `timeout`), so that no outcome of a command published after Start
  // returns can be missed. `time` must outlive the tracker.
  static Result<std::unique_ptr<BusOutcomeTracker>> Start(std::unique_ptr<bus::Consumer> consumer,
                                                          OutcomeTrackerOptions options,
                                                          const TimeSource& time,
                                                          std::chrono::milliseconds timeout);
  ~BusOutcomeTracker() override;

  CommandOutcome Find(const std::string& event_id) const override;
  void Await(const std::string& event_id, TimePoint deadline,
             std::function<void(CommandOutcome)> done) override;

  struct Impl;

 private:
  explicit BusOutcomeTracker(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Keeps a MembersDirectory (reads.h) from pathway.engine.members.v1, read from the
// beginning of every partition on a thread of its own, so the gateway knows which
// engine instance serves which partition before it answers its first read.
class BusMemberReader {
 public:
  // `directory` must outlive the reader.
  static Result<std::unique_ptr<BusMemberReader>> Start(std::unique_ptr<bus::Consumer> consumer,
                                                        std::string topic,
                                                        MembersDirectory& directory,
                                                        std::chrono::milliseconds timeout);
  ~BusMemberReader();

  struct Impl;

 private:
  explicit BusMemberReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Keeps the newest dead letters (DeadLetterStore, deadletters.h) from
// pathway.deadletter.v1, read from the beginning of every partition on a thread of its
// own and outside any consumer group, so every gateway instance shows all of them. A
// record that is not a DeadLettered envelope is skipped; the store's bound keeps the
// newest. The store holds no original bytes (ParseDeadLetter copies none).
class BusDeadLetterReader {
 public:
  // Asks the broker for the topic's partitions (within `timeout`) and assigns them all
  // from the beginning. `store` must outlive the reader.
  static Result<std::unique_ptr<BusDeadLetterReader>> Start(std::unique_ptr<bus::Consumer> consumer,
                                                            std::string topic,
                                                            DeadLetterStore& store,
                                                            std::chrono::milliseconds timeout);
  ~BusDeadLetterReader();

  struct Impl;

 private:
  explicit BusDeadLetterReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathway::gateway
