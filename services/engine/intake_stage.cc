#include "services/engine/intake_stage.h"

#include <google/protobuf/unknown_field_set.h>

#include <map>

#include "common/log.h"
#include "services/engine/delivery_router.h"
#include "services/engine/outputs.h"
#include "services/topics.h"
#include "workflow/identity.h"
#include "workflow/outcome.h"
#include "workflow/rejection.h"
#include "workflow/workflow.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;
using std::chrono::milliseconds;

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

Status IntakeStage::Run(milliseconds poll_timeout) {
  const EngineOptions& options = context_.options;
  std::map<int32_t, int64_t> next_offsets;
  batch_.clear();
  refused_.clear();
  for (size_t i = 0; i < options.max_batch; ++i) {
    auto polled = intake_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    ++context_.stats.inbound;
    // Kept until the batch is delivered, so an output the broker refuses can be
    // replaced by a dead letter of the message that caused it.
    batch_.push_back(std::move(**polled));
    const bus::Message& m = batch_.back();
    // 1-based, so that 0 names no message.
    if (auto s = Handle(m, batch_.size()); !s) return s;
    next_offsets[m.partition] = m.offset + 1;
  }
  if (next_offsets.empty()) return {};
  // Commit only what is delivered: a crash before this point re-reads the batch,
  // and the stateful stage drops the repeated event ids.
  if (auto s = committer_.AwaitDelivery(options.flush_timeout); !s) return s;
  if (!refused_.empty()) {
    // Refused for good (e.g. larger than a broker's limit): retrying would stop the
    // engine on the same message for ever, so the message is dead-lettered instead.
    for (const auto& [index, detail] : std::exchange(refused_, {})) {
      if (auto s = DeadLetterInbound(batch_.at(index), "an output was refused: " + detail); !s) {
        return s;
      }
    }
    if (auto s = committer_.AwaitDelivery(options.flush_timeout); !s) return s;
  }
  batch_.clear();
  if (failures_ > 0) {
    failures_ = 0;
    return Error{make_error_code(bus::errc::kDelivery), "intake output not delivered"};
  }
  return committer_.CommitIntake(next_offsets);
}

void IntakeStage::OnDelivery(uint64_t number, const bus::Delivery& d) {
  const DeliveryOutcome outcome = committer_.Delivered(d, std::nullopt);
  if (!d.error) return;
  // Without a batch index (a dead letter): a refusal stops the process, since nothing
  // smaller could stand in for it.
  if (outcome == DeliveryOutcome::kRefused && number > 0 && number <= batch_.size()) {
    log::Warn("intake_output_refused", {{"error", d.error_detail}});
    refused_.emplace_back(number - 1, d.error_detail);
    return;
  }
  // Pending: the committer noted it and fails the transaction that carries it.
  if (outcome != DeliveryOutcome::kPending) ++failures_;
  log::Warn("intake_delivery_failed", {{"error", d.error_detail}});
}

Status IntakeStage::Produce(std::string_view topic, std::string_view key, std::string_view value,
                            uint64_t number) {
  if (auto s = committer_.OpenOutput(); !s) return s;
  const uint64_t opaque = DeliveryRouter::Opaque(DeliveryRouter::Channel::kIntake, number);
  // Bounded retry on a full local queue: Poll frees space as deliveries complete.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto s = producer_.Produce(topic, key, value, opaque);
    if (s || s.error().code != make_error_code(bus::errc::kQueueFull)) return s;
    producer_.Poll(milliseconds(100));
  }
  return Error{make_error_code(bus::errc::kQueueFull), "intake output"};
}

Status IntakeStage::DeadLetterInbound(const bus::Message& m, std::string reason) {
  ++context_.stats.dead_letters;
  log::Warn("dead_letter", {{"source", Coordinates(m)}, {"reason", reason}});
  // The sender's answer, as far as the bytes say who sent them.
  v1::MessageOutcome outcome =
      workflow::OutcomeOf(workflow::PlaceOf(m.topic, m.partition, m.offset),
                          workflow::ReadSender(m.value), "", time_.Now());
  outcome.mutable_dead_lettered()->set_reason(reason);
  auto d = DeadLetter(Coordinates(m), m.topic, m.partition, m.offset, m.value, std::move(reason),
                      context_.options.dead_letter_key);
  if (!d) return d.error();
  outcome.mutable_dead_lettered()->set_dead_letter_id(d->event_id());
  // Without a batch index: a dead letter or an outcome the broker refuses (a few KiB)
  // stops the process, since nothing smaller could stand in for it.
  if (auto s = Produce(topics::kDeadLetter, Coordinates(m), d->SerializeAsString(), 0); !s) {
    return s;
  }
  return Produce(context_.options.partners.TopicFor(outcome.source().agency()),
                 outcome.outcome_id(), outcome.SerializeAsString(), 0);
}

Status IntakeStage::Handle(const bus::Message& m, uint64_t number) {
  const EngineOptions& options = context_.options;
  if (m.value.size() > options.max_message_bytes) {
    return DeadLetterInbound(m, "message of " + std::to_string(m.value.size()) +
                                    " bytes exceeds the " +
                                    std::to_string(options.max_message_bytes) + "-byte limit");
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

  const v1::MessagePlace place = workflow::PlaceOf(m.topic, m.partition, m.offset);
  const bool unidentified = command.event_id().empty();
  struct Output {
    std::string_view topic;
    std::string key;
    std::string value;
  };
  std::vector<Output> outputs;
  // One rejection listing every violation (workflow/command_check.h); fields 2-4 name
  // the first.
  auto reject = [&](const std::vector<workflow::Rejection>& violations) {
    ++context_.stats.rejections;
    const workflow::Rejection& r = violations.front();
    log::Info("command_rejected", {{"source", Coordinates(m)},
                                   {"field", r.field},
                                   {"rule", r.rule},
                                   {"violations", std::to_string(violations.size())}});
    v1::Envelope out = workflow::MakeRejection(command, r, time_.Now(), violations);
    outputs.push_back({topics::kRejections, out.event_id(), out.SerializeAsString()});
    // The sender's answer: the same rejection, on its own topic.
    // Its event id as the rejection names it (a hostile one by its digest).
    const std::string sent_id = unidentified ? "" : out.command_rejected().rejected_event_id();
    v1::MessageOutcome outcome =
        workflow::OutcomeOf(place, {sent_id, command.source()}, command.subject_key(), time_.Now());
    *outcome.mutable_rejected() = out.command_rejected();
    outputs.push_back({context_.options.partners.TopicFor(command.source().agency()),
                       outcome.outcome_id(), outcome.SerializeAsString()});
  };
  // No id to dedupe by: name the rejection after the message's coordinates, and still
  // check the rest, so that the rejection lists every violation.
  if (unidentified) command.set_event_id("unidentified|" + Coordinates(m));
  workflow::IntakeOutput routed =
      workflow::Intake(command, [this](std::string_view id) { return keyer_.Key(id); });
  if (unidentified || routed.rejection) {
    std::vector<workflow::Rejection> violations;
    if (unidentified)
      violations.push_back({"event_id", "required", "every event needs an event_id"});
    if (!routed.violations.empty()) {
      violations.insert(violations.end(), routed.violations.begin(), routed.violations.end());
    } else if (routed.rejection) {
      violations.push_back(*routed.rejection);
    }
    // A rejection about a child named validly carries the child's key.
    if (!routed.subject_key.empty()) command.set_subject_key(routed.subject_key);
    reject(violations);
  } else {
    for (auto& c : routed.commands) {
      // The command stage answers the sender (its outcome names this place).
      *c.mutable_inbound_place() = place;
      outputs.push_back({topics::kCommands, c.subject_key(), c.SerializeAsString()});
    }
  }
  // Checked before anything is produced: a message whose output could never be
  // written is dead-lettered whole, instead of stopping the engine at every restart.
  for (const auto& o : outputs) {
    if (!Fits(o.key, o.value, options.max_record_bytes)) {
      return DeadLetterInbound(m, "its output to " + std::string(o.topic) + " of " +
                                      std::to_string(o.key.size() + o.value.size()) +
                                      " bytes exceeds the record limit of " +
                                      std::to_string(options.max_record_bytes) + " bytes");
    }
  }
  for (const auto& o : outputs) {
    auto s = Produce(o.topic, o.key, o.value, number);
    if (!s && s.error().code == make_error_code(bus::errc::kRejected)) {
      return DeadLetterInbound(m, "an output was refused: " + s.error().ToString());
    }
    if (!s) return s;
  }
  return {};
}

}  // namespace pathway::engine
