// Time is injected everywhere (as Envoy's TimeSource): production uses the system
// clock, tests and `pathwayctl simulate` use SimulatedTimeSource.
#pragma once

#include <atomic>
#include <chrono>

namespace pathway {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::microseconds>;

// Thread-safe: Now() may be called from any thread.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint Now() const = 0;
};

class RealTimeSource final : public TimeSource {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now());
  }
};

// Time moves only when told to. Thread-safe.
class SimulatedTimeSource final : public TimeSource {
 public:
  explicit SimulatedTimeSource(TimePoint start) : now_us_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(std::chrono::microseconds(now_us_.load(std::memory_order_acquire)));
  }
  void Set(TimePoint t) { now_us_.store(t.time_since_epoch().count(), std::memory_order_release); }
  void Advance(std::chrono::microseconds d) { now_us_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace pathway
