// The engine's Prometheus metrics: counters mirrored from EngineStats, gauges from
// EngineSnapshot, and command latency histograms. Rates (events per second) are
// the counters' rate() in Prometheus.
//
// Update and Observe run on the engine thread; the registry renders on the HTTP
// thread (ops::Registry is thread-safe). The registry must outlive this object.
#pragma once

#include <chrono>

#include "services/engine/engine.h"
#include "services/ops/metrics.h"

namespace pathway::engine {

class EngineMetrics {
 public:
  explicit EngineMetrics(ops::Registry& registry);

  // Brings counters and gauges up to date.
  void Update(const EngineStats& stats, const EngineSnapshot& snapshot);
  // One command of the stateful stage (wire to EngineOptions::on_command).
  void Observe(std::chrono::microseconds took, std::chrono::milliseconds age);

 private:
  struct Mirrored {
    ops::Counter* counter;
    uint64_t EngineStats::*field;
    uint64_t seen = 0;
  };
  std::vector<Mirrored> counters_;
  ops::Gauge& owned_partitions_;
  ops::Gauge& outbox_depth_;
  ops::Gauge& timers_due_;
  ops::Gauge& oldest_due_overdue_days_;
  ops::Gauge& inbound_lag_;
  ops::Gauge& commands_lag_;
  ops::Gauge& purges_pending_;
  ops::Registry& registry_;
  std::map<std::string, ops::Gauge*> rocksdb_;
  ops::Histogram& processing_;
  ops::Histogram& age_;
};

}  // namespace pathway::engine
