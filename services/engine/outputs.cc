#include "services/engine/outputs.h"

#include <utility>

#include "common/crypto.h"
#include "common/log.h"
#include "services/topics.h"
#include "workflow/event_identity.h"

namespace pathway::engine {
namespace v1 = pathway::v1;

std::string Coordinates(const bus::Message& m) {
  return m.topic + "/" + std::to_string(m.partition) + "/" + std::to_string(m.offset);
}

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

void AddToOutbox(state::Batch& batch, std::string_view topic, const std::string& key,
                 std::string value) {
  auto& entry = batch.outbox.emplace_back();
  entry.set_topic(std::string(topic));
  entry.set_key(key);
  entry.set_value(std::move(value));
}

Result<bool> ReplaceByDeadLetter(state::CaseStore& store, int32_t partition, uint64_t sequence,
                                 std::string reason, const std::string& dead_letter_key,
                                 EngineStats& stats) {
  auto items = store.ReadOutbox(sequence, 1);
  if (!items) return items.error();
  if (items->empty() || items->front().sequence != sequence) return false;  // already gone
  const auto& entry = items->front().entry;
  ++stats.outputs_dead_lettered;
  ++stats.dead_letters;
  log::Error("output_dead_lettered", {{"partition", std::to_string(partition)},
                                      {"sequence", std::to_string(sequence)},
                                      {"topic", entry.topic()},
                                      {"reason", reason}});
  // Named by what it is, not by its sequence, which another owner deciding the same
  // command again may number differently: the same refused output has one dead letter.
  std::string cause =
      "outbox|" + entry.topic() + "|" + HexEncode(Sha256(entry.key() + '|' + entry.value()));
  auto d = DeadLetter(cause, entry.topic(), partition, static_cast<int64_t>(sequence),
                      entry.value(), std::move(reason), dead_letter_key);
  if (!d) return d.error();
  pathway::store::v1::OutboxEntry dead;
  dead.set_topic(std::string(topics::kDeadLetter));
  dead.set_key(cause);
  dead.set_value(d->SerializeAsString());
  // In place: what waits for the refused output (its command's changelog records)
  // waits for its dead letter instead.
  auto replaced = store.ReplaceOutbox(sequence, dead);
  if (!replaced) return replaced.error();
  return *replaced;
}

}  // namespace pathway::engine
