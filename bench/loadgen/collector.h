// Reads what the engine (or the raw pipe) writes and finds, for each command sent, the
// first output it caused: an event on pathway.events.v1 or pathway.audit.v1 (accepted)
// or a CommandRejected on pathway.rejections.v1 (rejected).
//
// An output names its command by correlation id: the engine sets an output's
// correlation_id to the command's own when the command has none (the load generator's
// never do), and keeps it through everything the command causes (audit records,
// released holds, identity links). A CommandRejected also names the command in
// rejected_event_id. Timer events (causation_id "timer") name no command. What the raw
// pipe writes is the command itself: its event id names it.
//
// Reads every partition from the beginning outside any group, on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "services/bus/kafka_bus.h"

namespace pathway::loadgen {

using SteadyClock = std::chrono::steady_clock;

enum class Outcome : uint8_t { kNone = 0, kAccepted = 1, kRejected = 2 };

struct Counts {
  size_t events = 0;        // every message on pathway.events.v1
  size_t timer_events = 0;  // of which fired by deadline timers
  size_t audit = 0;         // pathway.audit.v1
  size_t rejections = 0;    // pathway.rejections.v1
  size_t dead_letters = 0;  // pathway.deadletter.v1
  size_t undecodable = 0;   // outputs that are no Envelope
  size_t unknown = 0;       // outputs that name no command of this run (nor a timer)
  // Per rule, the commands of this run whose first outcome was a rejection by it.
  std::map<std::string, size_t> rejection_rules;
};

class Collector {
 public:
  // `event_ids[i]` is command i's event id.
  static Result<std::unique_ptr<Collector>> Start(const bus::KafkaConfig& config,
                                                  const std::vector<std::string>& event_ids);
  ~Collector();  // stops the thread
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Commands with an outcome so far.
  size_t resolved() const { return resolved_.load(); }
  // When the latest output of any kind was read.
  SteadyClock::time_point last_output() const;
  // Stops reading; after this the accessors below are stable.
  void Stop();
  bool failed() const { return failed_.load(); }
  const std::string& failure() const { return failure_; }

  const std::vector<Outcome>& outcomes() const { return outcomes_; }
  // When command i's first output was read (steady clock, ns); 0 if none was.
  const std::vector<int64_t>& seen_ns() const { return seen_ns_; }
  const Counts& counts() const { return counts_; }

 private:
  Collector() = default;
  void Run();
  void Note(const bus::Message& m);

  std::unique_ptr<bus::Consumer> consumer_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<Outcome> outcomes_;
  std::vector<int64_t> seen_ns_;
  Counts counts_;
  std::atomic<size_t> resolved_{0};
  std::atomic<int64_t> last_output_ns_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::string failure_;
  std::thread thread_;
};

}  // namespace pathway::loadgen
