#include "services/engine/landing_purger.h"

#include <chrono>
#include <vector>

#include "common/log.h"
#include "services/topics.h"

namespace pathway::engine {
using std::chrono::milliseconds;

void LandingPurger::Run() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const int32_t partition = it->first;
    Retry& retry = it->second;
    state::CaseStore* store = context_.stores.Find(partition);
    if (!store) {  // moved away: its new owner restores the mark and purges
      it = pending_.erase(it);
      continue;
    }
    // Only once every output, changelog records included, is confirmed: a new owner
    // restoring from the changelog must never need a command deleted here.
    auto unsent = store->ReadOutbox(0, 1);
    if (retry.pause.Waiting(now) || !unsent || !unsent->empty()) {
      ++it;
      continue;
    }
    Status result = Purge(partition, *store);
    if (result) result = store->ClearPurgePending();
    if (result) {
      if (retry.pause.failures > 0) {
        log::Info("purge_succeeded", {{"partition", std::to_string(partition)},
                                      {"attempts", std::to_string(retry.pause.failures + 1)}});
      }
      it = pending_.erase(it);
      continue;
    }
    ++context_.stats.purge_failures;
    retry.last_error = result.error().ToString();
    const milliseconds pause = retry.pause.Fail(now, context_.options.purge_backoff_min,
                                                context_.options.purge_backoff_max);
    log::Error("purge_failed", {{"partition", std::to_string(partition)},
                                {"attempt", std::to_string(retry.pause.failures)},
                                {"retry_in_ms", std::to_string(pause.count())},
                                {"error", retry.last_error},
                                {"note",
                                 "an erased child's landing records are still on Kafka; retried "
                                 "until deleted (a broker without DeleteRecords, such as the "
                                 "development broker, never succeeds)"}});
    ++it;
  }
  std::string status;
  for (const auto& [partition, retry] : pending_) {
    if (!status.empty()) status += "; ";
    status += "erasure purge pending on partition " + std::to_string(partition);
    if (retry.pause.failures > 0) {
      status += " (" + std::to_string(retry.pause.failures) + " failed: " + retry.last_error + ")";
    }
  }
  std::lock_guard lock(status_mu_);
  status_ = std::move(status);
}

std::string LandingPurger::Describe() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

Status LandingPurger::Purge(int32_t partition, state::CaseStore& store) {
  const milliseconds timeout = context_.options.flush_timeout;
  // pathway.commands.v1: below what this partition's store has consumed.
  auto consumed = store.NextOffset(topics::kCommands, partition);
  if (!consumed) return consumed.error();
  if (consumed->value_or(0) > 0) {
    if (auto s = processor_.DeleteRecordsBefore(
            {{std::string(topics::kCommands), partition, **consumed}}, timeout);
        !s) {
      return s;
    }
  }
  // pathway.inbound.v1: below what the intake group committed (its output, sealed or
  // keyed by hash, is already on pathway.commands.v1).
  auto partitions = intake_.Partitions(std::string(topics::kInbound), timeout);
  if (!partitions) return partitions.error();
  std::vector<bus::TopicPartition> asked;
  for (int32_t p : *partitions) asked.push_back({std::string(topics::kInbound), p});
  auto committed = intake_.Committed(asked, timeout);
  if (!committed) return committed.error();
  std::vector<bus::TopicPartition> before;
  for (const auto& c : *committed) {
    if (c.offset > 0) before.push_back({c.topic, c.partition, c.offset});
  }
  if (!before.empty()) {
    if (auto s = intake_.DeleteRecordsBefore(before, timeout); !s) return s;
  }
  log::Info("landing_records_deleted",
            {{"partition", std::to_string(partition)},
             {"commands_before", std::to_string(consumed->value_or(0))}});
  return {};
}

}  // namespace pathway::engine
