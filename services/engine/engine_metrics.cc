#include "services/engine/engine_metrics.h"

namespace pathway::engine {
namespace {
std::vector<double> LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
}
std::vector<double> AgeBounds() { return {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}; }
}  // namespace

EngineMetrics::EngineMetrics(ops::Registry& registry)
    : owned_partitions_(registry.AddGauge("pathway_engine_owned_partitions",
                                          "Partitions of pathway.commands.v1 this instance owns")),
      outbox_depth_(registry.AddGauge("pathway_engine_outbox_depth",
                                      "Outbox entries waiting for a confirmed delivery")),
      timers_due_(registry.AddGauge("pathway_engine_timers_due",
                                    "Deadline timers due now and not yet fired (capped)")),
      oldest_due_overdue_days_(
          registry.AddGauge("pathway_engine_timer_oldest_due_overdue_days",
                            "How many days overdue the oldest due timer is (0: none due)")),
      inbound_lag_(registry.AddGauge("pathway_engine_consumer_lag_messages",
                                     "Messages behind the end of the assigned partitions",
                                     {{"topic", "pathway.inbound.v1"}})),
      commands_lag_(registry.AddGauge("pathway_engine_consumer_lag_messages",
                                      "Messages behind the end of the assigned partitions",
                                      {{"topic", "pathway.commands.v1"}})),
      purges_pending_(registry.AddGauge(
          "pathway_engine_erasure_purges_pending",
          "Partitions whose landing-topic records still wait to be deleted after an erasure")),
      registry_(registry),
      processing_(registry.AddHistogram("pathway_engine_command_processing_seconds",
                                        "Time to decide and commit one command", LatencyBounds())),
      age_(registry.AddHistogram(
          "pathway_engine_command_age_seconds",
          "Time from a command's append to pathway.commands.v1 to its commit", AgeBounds())) {
  auto add = [&](const char* name, const char* help, uint64_t EngineStats::*field) {
    counters_.push_back({&registry.AddCounter(name, help), field});
  };
  add("pathway_engine_inbound_messages_total", "Messages read from pathway.inbound.v1",
      &EngineStats::inbound);
  add("pathway_engine_commands_total", "Commands read from pathway.commands.v1",
      &EngineStats::commands);
  add("pathway_engine_events_total", "Events decided and recorded", &EngineStats::events);
  add("pathway_engine_rejections_total", "Commands rejected with a field and a rule",
      &EngineStats::rejections);
  add("pathway_engine_dead_letters_total", "Messages sent to pathway.deadletter.v1",
      &EngineStats::dead_letters);
  add("pathway_engine_duplicates_total", "Commands whose event id was seen before",
      &EngineStats::duplicates);
  add("pathway_engine_outbox_delivered_total", "Outbox entries confirmed by Kafka",
      &EngineStats::delivered);
  add("pathway_engine_timers_fired_total", "Deadline warnings and breaches recorded",
      &EngineStats::timers_fired);
  add("pathway_engine_restores_total", "Partitions rebuilt from the changelog",
      &EngineStats::restores);
  add("pathway_engine_restored_records_total", "Changelog records applied by restores",
      &EngineStats::restored_records);
  add("pathway_engine_changelog_reseeded_records_total",
      "Changelog records queued again from a store kept over a lost changelog",
      &EngineStats::reseeded_records);
  add("pathway_engine_history_limit_rejections_total",
      "Commands rejected because their case reached the history limit",
      &EngineStats::history_limit_rejections);
  add("pathway_engine_redecisions_total",
      "Cases re-decided in business-date order for a command that arrived out of order",
      &EngineStats::redecisions);
  add("pathway_engine_size_rejections_total",
      "Commands rejected because their outputs or case would pass a size limit",
      &EngineStats::size_rejections);
  add("pathway_engine_outputs_dead_lettered_total",
      "Outputs Kafka refused for good (too large, invalid), sent to pathway.deadletter.v1",
      &EngineStats::outputs_dead_lettered);
  add("pathway_engine_send_retries_total",
      "Sends or deliveries that failed and are retried after a pause", &EngineStats::send_retries);
  add("pathway_engine_purge_failures_total",
      "Failed attempts to delete landing-topic records after an erasure (retried)",
      &EngineStats::purge_failures);
  add("pathway_engine_dedupe_expired_total",
      "Dedupe entries deleted past their retention (--dedupe-retention-days)",
      &EngineStats::dedupe_expired);
  add("pathway_engine_histories_trimmed_total",
      "Closed cases whose history was replaced by one entry (--closed-history-retention-days)",
      &EngineStats::histories_trimmed);
}

void EngineMetrics::Update(const EngineStats& stats, const EngineSnapshot& snapshot) {
  for (auto& m : counters_) {
    uint64_t now = stats.*(m.field);
    if (now > m.seen) m.counter->Inc(now - m.seen);
    m.seen = now;
  }
  owned_partitions_.Set(static_cast<double>(snapshot.owned_partitions));
  outbox_depth_.Set(static_cast<double>(snapshot.outbox_depth));
  timers_due_.Set(static_cast<double>(snapshot.timers_due));
  oldest_due_overdue_days_.Set(static_cast<double>(snapshot.oldest_due_overdue_days));
  inbound_lag_.Set(static_cast<double>(snapshot.inbound_lag));
  commands_lag_.Set(static_cast<double>(snapshot.commands_lag));
  purges_pending_.Set(static_cast<double>(snapshot.purges_pending));
  for (const auto& [name, value] : snapshot.rocksdb) {
    auto it = rocksdb_.find(name);
    if (it == rocksdb_.end()) {
      ops::Gauge& g = registry_.AddGauge("pathway_engine_rocksdb_" + name,
                                         "RocksDB " + name + ", summed over the owned partitions");
      it = rocksdb_.emplace(name, &g).first;
    }
    it->second->Set(static_cast<double>(value));
  }
}

void EngineMetrics::Observe(std::chrono::microseconds took, std::chrono::milliseconds age) {
  processing_.Observe(static_cast<double>(took.count()) / 1e6);
  if (age.count() > 0) age_.Observe(static_cast<double>(age.count()) / 1e3);
}

}  // namespace pathway::engine
