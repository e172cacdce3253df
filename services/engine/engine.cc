#include "services/engine/engine.h"

#include <google/protobuf/unknown_field_set.h>

#include <map>

#include "common/crypto.h"
#include "common/log.h"
#include "services/topics.h"
#include "workflow/calendar.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace pathway::engine {
namespace {
namespace v1 = pathway::v1;
using std::chrono::milliseconds;

// Opaque values given to the producer: outbox sequences as they are, intake output
// with the top bit set (outbox sequences never reach 2^63).
constexpr uint64_t kIntakeOpaque = uint64_t{1} << 63;

std::string Coordinates(const bus::Message& m) {
  return m.topic + "/" + std::to_string(m.partition) + "/" + std::to_string(m.offset);
}

v1::Envelope DeadLetter(const bus::Message& m, std::string reason) {
  v1::Envelope out;
  // Deterministic: the same message dead-lettered twice (after a crash) has one id.
  out.set_event_id(DerivedEventId("deadletter|" + Coordinates(m), 0));
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  v1::DeadLettered* d = out.mutable_dead_lettered();
  d->set_reason(std::move(reason));
  d->set_topic(m.topic);
  d->set_partition(m.partition);
  d->set_offset(m.offset);
  d->set_original(m.value);
  return out;
}

void AddToOutbox(state::Batch& batch, std::string_view topic, const std::string& key,
                 std::string value) {
  auto& entry = batch.outbox.emplace_back();
  entry.set_topic(std::string(topic));
  entry.set_key(key);
  entry.set_value(std::move(value));
}

// Folds `events` into `state` and puts both into `batch`: the new state, the events
// appended to the subject's history, and each event queued for pathway.events.v1.
void RecordEvents(state::Batch& batch, const std::string& subject,
                  pathway::store::v1::CaseState state, std::vector<v1::Envelope> events) {
  batch.subject_key = subject;
  batch.history_start = state.history_length();
  for (const auto& event : events) {
    workflow::Apply(state, event);
    AddToOutbox(batch, topics::kEvents, subject, event.SerializeAsString());
  }
  batch.history = std::move(events);
  batch.new_state = std::move(state);
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

Engine::Engine(EngineOptions options, state::CaseStore& store, const SubjectKeyer& keyer,
               const TimeSource& time, bus::Producer& producer, bus::Consumer& intake,
               bus::Consumer& processor)
    : options_(options),
      store_(store),
      keyer_(keyer),
      time_(time),
      producer_(producer),
      intake_(intake),
      processor_(processor) {}

Status Engine::Start() {
  next_unsent_ = 0;
  if (auto s = intake_.Subscribe({std::string(topics::kInbound)}, nullptr); !s) return s;
  return processor_.Subscribe({std::string(topics::kCommands)}, this);
}

void Engine::OnAssign(std::vector<bus::TopicPartition>& partitions) {
  for (auto& tp : partitions) {
    auto next = store_.NextOffset(tp.topic, tp.partition);
    if (!next) {
      // Starting anywhere else could skip or repeat commands; Step reports the error.
      store_error_ = next.error();
      continue;
    }
    tp.offset = next->value_or(bus::kOffsetBeginning);
    owned_.insert(tp.partition);
    log::Info("partition_assigned", {{"topic", tp.topic},
                                     {"partition", std::to_string(tp.partition)},
                                     {"offset", std::to_string(tp.offset)}});
  }
}

void Engine::OnRevoke(const std::vector<bus::TopicPartition>& partitions) {
  // State is already committed per message, so a revoked partition needs no flush.
  for (const auto& tp : partitions) {
    owned_.erase(tp.partition);
    log::Info("partition_revoked",
              {{"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
  }
}

Status Engine::Step(milliseconds poll_timeout) {
  if (auto s = RunIntake(poll_timeout); !s) return s;
  // Timers due today fire before today's commands, as in workflow::Simulator: a
  // deadline due yesterday is breached before a command that arrives today.
  if (auto s = FireTimers(); !s) return s;
  if (auto s = RunProcessor(poll_timeout); !s) return s;
  if (auto s = SendOutbox(); !s) return s;
  producer_.Poll(milliseconds(0));
  if (!store_error_) return store_error_;
  return {};
}

Status Engine::Drain(milliseconds timeout) {
  // An operational bound, not business time: the injected clock may stand still.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Bounded by the deadline; each pass waits at most 100 ms for deliveries.
  while (true) {
    if (auto s = SendOutbox(); !s) return s;
    (void)producer_.Flush(milliseconds(100));
    if (!store_error_) return store_error_;
    auto left = store_.ReadOutbox(0, 1);
    if (!left) return left.error();
    if (left->empty() && producer_.InFlight() == 0) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{make_error_code(bus::errc::kTimeout), "outbox not drained"};
    }
  }
}

void Engine::OnDelivery(const bus::Delivery& d) {
  if (d.opaque & kIntakeOpaque) {
    if (d.error) {
      ++intake_failures_;
      log::Warn("intake_delivery_failed", {{"error", d.error_detail}});
    }
    return;
  }
  if (d.error) {
    // Resend from here; later entries may go twice, with the same ids.
    next_unsent_ = std::min(next_unsent_, d.opaque);
    log::Warn("outbox_delivery_failed",
              {{"sequence", std::to_string(d.opaque)}, {"error", d.error_detail}});
    return;
  }
  if (auto s = store_.DeleteOutbox(d.opaque); !s) {
    store_error_ = s;
    return;
  }
  ++stats_.delivered;
}

Status Engine::ProduceIntake(std::string_view topic, std::string_view key, std::string_view value) {
  // Bounded retry on a full local queue: Poll frees space as deliveries complete.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto s = producer_.Produce(topic, key, value, kIntakeOpaque);
    if (s || s.error().code != make_error_code(bus::errc::kQueueFull)) return s;
    producer_.Poll(milliseconds(100));
  }
  return Error{make_error_code(bus::errc::kQueueFull), "intake output"};
}

Status Engine::RunIntake(milliseconds poll_timeout) {
  std::map<int32_t, int64_t> next_offsets;
  for (size_t i = 0; i < options_.max_batch; ++i) {
    auto polled = intake_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    const bus::Message& m = **polled;
    ++stats_.inbound;
    if (auto s = HandleInbound(m); !s) return s;
    next_offsets[m.partition] = m.offset + 1;
  }
  if (next_offsets.empty()) return {};
  // Commit only what is delivered: a crash before this point re-reads the batch,
  // and the stateful stage drops the repeated event ids.
  if (auto s = producer_.Flush(options_.flush_timeout); !s) return s;
  if (intake_failures_ > 0) {
    intake_failures_ = 0;
    return Error{make_error_code(bus::errc::kDelivery), "intake output not delivered"};
  }
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets) {
    commit.push_back({std::string(topics::kInbound), partition, offset});
  }
  return intake_.Commit(commit);
}

Status Engine::HandleInbound(const bus::Message& m) {
  auto dead_letter = [&](std::string reason) {
    ++stats_.dead_letters;
    log::Warn("dead_letter", {{"source", Coordinates(m)}, {"reason", reason}});
    v1::Envelope d = DeadLetter(m, std::move(reason));
    return ProduceIntake(topics::kDeadLetter, Coordinates(m), d.SerializeAsString());
  };
  if (m.value.size() > options_.max_message_bytes) {
    return dead_letter("message of " + std::to_string(m.value.size()) + " bytes exceeds the " +
                       std::to_string(options_.max_message_bytes) + "-byte limit");
  }
  v1::Envelope command;
  if (!command.ParseFromString(m.value)) {
    return dead_letter("value does not decode as a pathway.v1.Envelope");
  }
  if (command.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) {
    std::string unknown = UnknownFieldNumbers(command);
    if (!unknown.empty()) {
      return dead_letter("unknown payload (field " + unknown +
                         "): published with a newer schema than this engine knows");
    }
  }

  auto reject = [&](const workflow::Rejection& r) {
    ++stats_.rejections;
    log::Info("command_rejected",
              {{"source", Coordinates(m)}, {"field", r.field}, {"rule", r.rule}});
    v1::Envelope out = workflow::MakeRejection(command, r, time_.Now());
    return ProduceIntake(topics::kRejections, out.event_id(), out.SerializeAsString());
  };
  if (command.event_id().empty()) {
    // No id to dedupe by: name the rejection after the message's coordinates.
    command.set_event_id("unidentified|" + Coordinates(m));
    return reject({"event_id", "required", "every event needs an event_id"});
  }
  workflow::Routing routing = workflow::RouteCommand(command);
  if (routing.rejection) return reject(*routing.rejection);

  command.set_subject_key(keyer_.Key(routing.nhs_number));
  std::string key = command.subject_key();
  return ProduceIntake(topics::kCommands, key, command.SerializeAsString());
}

Status Engine::RunProcessor(milliseconds poll_timeout) {
  std::map<int32_t, int64_t> next_offsets;
  for (size_t i = 0; i < options_.max_batch; ++i) {
    auto polled = processor_.Poll(i == 0 ? poll_timeout : milliseconds(0));
    if (!polled) return polled.error();
    if (!polled->has_value()) break;
    ++stats_.commands;
    if (auto s = HandleCommand(**polled); !s) return s;
    next_offsets[(*polled)->partition] = (*polled)->offset + 1;
  }
  if (next_offsets.empty()) return {};
  // RocksDB holds the authoritative offsets (committed with the state); the group's
  // offsets are kept too, so that Kafka's own lag tools show how far behind we are.
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets) {
    commit.push_back({std::string(topics::kCommands), partition, offset});
  }
  if (auto s = processor_.Commit(commit); !s) {
    log::Warn("offset_commit_failed", {{"error", s.error().ToString()}});
  }
  return {};
}

Status Engine::HandleCommand(const bus::Message& m) {
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
    AddToOutbox(
        batch, topics::kDeadLetter, Coordinates(m),
        DeadLetter(m, "not a routed command (no event_id or subject_key)").SerializeAsString());
    return store_.Commit(batch);
  }

  auto seen = store_.SeenEvent(command.event_id());
  if (!seen) return seen.error();
  if (*seen) {
    ++stats_.duplicates;
    log::Info("duplicate_ignored", {{"source", Coordinates(m)}, {"event_id", command.event_id()}});
    return store_.Commit(batch);  // advance the offset, nothing else
  }
  batch.dedupe_event_id = command.event_id();

  auto loaded = store_.LoadCase(command.subject_key());
  if (!loaded) return loaded.error();
  pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());

  TimePoint now = time_.Now();
  workflow::Decision decision = workflow::Decide(state, command, now);
  if (decision.rejection) {
    ++stats_.rejections;
    log::Info("command_rejected", {{"subject", command.subject_key()},
                                   {"event_id", command.event_id()},
                                   {"field", decision.rejection->field},
                                   {"rule", decision.rejection->rule}});
    v1::Envelope rejection = workflow::MakeRejection(command, *decision.rejection, now);
    AddToOutbox(batch, topics::kRejections, command.subject_key(), rejection.SerializeAsString());
    return store_.Commit(batch);
  }

  workflow::TimerChanges timers = workflow::TimersFor(command.subject_key(), state, decision.events,
                                                      options_.warning_lead_days);
  batch.timers_add = std::move(timers.add);
  batch.timers_remove = std::move(timers.remove);
  for (const auto& event : decision.events) {
    log::Info("event_recorded", {{"subject", command.subject_key()},
                                 {"event_id", event.event_id()},
                                 {"cause", command.event_id()}});
  }
  stats_.events += decision.events.size();
  RecordEvents(batch, command.subject_key(), std::move(state), std::move(decision.events));
  return store_.Commit(batch);
}

Status Engine::FireTimers() {
  // Bounded per Step (max_batch per partition) so a burst of due deadlines cannot
  // stall the commands waiting behind it; the rest fire on the next Steps.
  TimePoint now = time_.Now();
  pathway::v1::Date today = workflow::ToProto(workflow::LondonDate(now));
  for (int32_t partition : owned_) {
    auto due = store_.DueTimers(partition, today, options_.max_batch);
    if (!due) return due.error();
    for (const auto& timer : *due) {
      auto loaded = store_.LoadCase(timer.subject_key());
      if (!loaded) return loaded.error();
      pathway::store::v1::CaseState state = loaded->value_or(pathway::store::v1::CaseState());
      state::Batch batch;
      batch.partition = partition;
      batch.timers_remove.push_back(timer);
      std::vector<v1::Envelope> events = workflow::FireTimer(state, timer, now);
      if (!events.empty()) {
        RecordEvents(batch, timer.subject_key(), std::move(state), std::move(events));
        ++stats_.timers_fired;
      }
      if (auto s = store_.Commit(batch); !s) return s;
    }
  }
  return {};
}

Status Engine::SendOutbox() {
  auto items = store_.ReadOutbox(next_unsent_, options_.outbox_batch);
  if (!items) return items.error();
  for (const auto& item : *items) {
    auto s =
        producer_.Produce(item.entry.topic(), item.entry.key(), item.entry.value(), item.sequence);
    if (!s) {
      if (s.error().code == make_error_code(bus::errc::kQueueFull)) break;  // next Step
      return s;
    }
    next_unsent_ = item.sequence + 1;
  }
  return {};
}

}  // namespace pathway::engine
