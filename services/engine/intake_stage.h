// IntakeStage: the stateless stage. Private to the engine.
//
// Reads pathway.inbound.v1 (partners key it as they like), decodes each Envelope,
// finds the child, sets the subject key and re-publishes the command on
// pathway.commands.v1 keyed by subject, so every event of one child is processed on
// one partition (a repartition, as in Kafka Streams). Undecodable or unknown payloads,
// and messages whose output could never be written, go to pathway.deadletter.v1 (a
// bounded dead letter: digest, size, sealed excerpt); unroutable commands to
// pathway.rejections.v1. The offsets read go to the Committer only once the output is
// delivered (at-least-once; repeats carry the same event ids and the command stage
// drops them). An output the broker refuses for good is replaced by a dead letter of
// the message that caused it, where the Committer leaves that to the stage.
//
// Records go out with opaque DeliveryRouter::Opaque(kIntake, n), n the 1-based index
// of the message in the batch (0: a dead letter); the Engine routes their reports to
// OnDelivery.
//
// Ownership: references the context, keyer, clock, producer, intake consumer and
// committer, which must outlive it; holds the batch being delivered (bounded by
// max_batch x max_message_bytes). Not thread-safe: engine thread only. Errors: the
// bus's, and kDelivery when an output was not delivered (the process restarts and
// reads the batch again).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "services/bus/event_bus.h"
#include "services/engine/committer.h"
#include "services/engine/stage_context.h"
#include "services/engine/subject_keyer.h"

namespace pathway::engine {

class IntakeStage {
 public:
  IntakeStage(StageContext& context, const SubjectKeyer& keyer, const TimeSource& time,
              bus::Producer& producer, bus::Consumer& intake, Committer& committer)
      : context_(context),
        keyer_(keyer),
        time_(time),
        producer_(producer),
        intake_(intake),
        committer_(committer) {}

  // Up to max_batch inbound messages, waiting at most `poll_timeout` for the first.
  Status Run(std::chrono::milliseconds poll_timeout);

  // A delivery report of an intake output (`local`: the message's 1-based index).
  void OnDelivery(uint64_t local, const bus::Delivery& delivery);

 private:
  // `number` goes with the message's outputs (its 1-based index in the batch).
  Status Handle(const bus::Message& message, uint64_t number);
  // Sends a bounded dead letter of `message` (digest, size, sealed excerpt).
  Status DeadLetterInbound(const bus::Message& message, std::string reason);
  Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                 uint64_t number);

  StageContext& context_;
  const SubjectKeyer& keyer_;
  const TimeSource& time_;
  bus::Producer& producer_;
  bus::Consumer& intake_;
  Committer& committer_;
  // Outputs that failed since the last batch was committed.
  uint64_t failures_ = 0;
  // The batch being delivered, and the outputs of it the broker refused for good:
  // (index in the batch, detail).
  std::vector<bus::Message> batch_;
  std::vector<std::pair<size_t, std::string>> refused_;
};

}  // namespace pathway::engine
