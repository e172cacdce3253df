#include "services/engine/delivery_confirmed_committer.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/log.h"
#include "services/topics.h"

namespace pathway::engine {

Status DeliveryConfirmedCommitter::Start() {
  to_publish_.clear();
  return {};
}

DeliveryOutcome DeliveryConfirmedCommitter::Delivered(const bus::Delivery& delivery,
                                                      std::optional<OutboxRef> /*outbox*/) {
  if (!delivery.error) return DeliveryOutcome::kConfirmed;
  // Refused for good (e.g. larger than a broker's limit): sending it again would stop
  // the stage on it for ever. Anything else (a broker restarting) may pass later.
  if (delivery.error == make_error_code(bus::errc::kRejected)) return DeliveryOutcome::kRefused;
  return DeliveryOutcome::kRetry;
}

Status DeliveryConfirmedCommitter::CommitIntake(const std::map<int32_t, int64_t>& next_offsets) {
  std::vector<bus::TopicPartition> commit;
  for (const auto& [partition, offset] : next_offsets) {
    commit.push_back({std::string(topics::kInbound), partition, offset});
  }
  if (auto s = intake_.Commit(commit); !s) {
    // E.g. a rebalance in progress. The output is delivered; at worst the next owner
    // of these partitions reads them again, and the repeats (same event ids) are
    // dropped by the stateful stage. The next commit covers these offsets too.
    log::Warn("intake_commit_failed", {{"error", s.error().ToString()}});
  }
  return {};
}

Status DeliveryConfirmedCommitter::CommitCommands(const std::map<int32_t, int64_t>& processed) {
  std::map<int32_t, int64_t> next_offsets = processed;
  // A new owner restarts where its restored store says, which can be behind what the
  // previous owner committed to the group: committing it at once keeps Kafka's lag
  // tools (and anyone waiting for the group to catch up) from counting the commands
  // it processes again as done.
  for (const auto& [partition, stored] : to_publish_) {
    if (context_.owned.count(partition)) next_offsets.try_emplace(partition, stored);
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
    return {};
  }
  for (const auto& [partition, stored] : to_publish_) {
    if (auto it = next_offsets.find(partition); it != next_offsets.end()) {
      log::Info("commands_offset_published",
                {{"partition", std::to_string(partition)}, {"offset", std::to_string(it->second)}});
    }
  }
  to_publish_.clear();
  return {};
}

void DeliveryConfirmedCommitter::Assigned(int32_t partition, int64_t next_offset) {
  to_publish_[partition] = std::max<int64_t>(next_offset, 0);
}

}  // namespace pathway::engine
