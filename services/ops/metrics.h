// A small metrics registry rendered in the Prometheus text exposition format 0.0.4.
//
// Contract:
// - Ownership: the Registry owns every metric. The references returned by AddCounter,
//   AddGauge and AddHistogram stay valid for the Registry's lifetime; metrics are never
//   removed. Registry is neither copyable nor movable.
// - Thread safety: every member of Counter, Gauge, Histogram and Registry may be called
//   from any thread at any time (Render concurrently with updates and with Add*). Counter
//   and Gauge are lock-free atomics; Histogram takes a short mutex per Observe so a
//   rendered histogram is always consistent (count == +Inf bucket).
// - Callback gauges run on the thread that calls Render, without the registry lock held.
//   A callback must be thread-safe, quick, must not throw, and should not block.
// - Registration is a startup-time activity with names fixed in code, so breaking its
//   rules is a programming error: Add* throw std::invalid_argument (caught at the
//   process edge) for an invalid metric or label name, a reserved label name (`__*`, and
//   `le` on histograms), a repeated label name, a name already registered with another
//   type or help text, a name that collides with a histogram's `_bucket`/`_sum`/`_count`
//   series, the same name and label set twice, or histogram bounds that are not finite
//   and strictly increasing.
// - Names follow Prometheus: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*.
//   By convention counters end in `_total` and carry a unit suffix (`_seconds`,
//   `_bytes`); that is not enforced. Label values are escaped (\\, \", \n), so any bytes
//   may be used, but they must never carry personal data (no NHS numbers, names).
// - Output: families sorted by name (one HELP/TYPE pair each, HELP omitted when empty),
//   series within a family sorted by their rendered labels, labels within a series
//   sorted by name; so Render is deterministic for the same values.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pathway::ops {

// Constant labels of one series, e.g. {{"partition", "3"}}. Order does not matter.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonic count (wraps at 2^64).
class Counter {
 public:
  void Inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  Counter() = default;
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Integers are exact up to 2^53.
class Gauge {
 public:
  void Set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  Gauge() = default;
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets with fixed, finite upper bounds (inclusive, as
// Prometheus' `le`), plus the implicit +Inf bucket. NaN is counted in +Inf only (and
// makes the sum NaN), as the Go client does.
class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };

  void Observe(double v) noexcept;
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  friend class Registry;
  explicit Histogram(std::vector<double> bounds);

  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> buckets_;  // per bucket (not cumulative), size bounds_ + 1
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& AddGauge(std::string_view name, std::string_view help, Labels labels = {});
  // `bounds`: finite, strictly increasing upper bounds; a trailing +Inf is accepted and
  // dropped (the +Inf bucket is always present). May be empty.
  Histogram& AddHistogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                          Labels labels = {});
  // A gauge whose value is computed by `callback` at each Render (see the contract
  // above: thread-safe, quick, non-throwing). Shares the gauge family of `name`.
  void AddCallbackGauge(std::string_view name, std::string_view help,
                        std::function<double()> callback, Labels labels = {});

  // The whole registry in text format 0.0.4 (Content-Type
  // `text/plain; version=0.0.4; charset=utf-8`).
  std::string Render() const;

  static bool IsValidMetricName(std::string_view name);
  static bool IsValidLabelName(std::string_view name);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family;
  struct Series;
  // Validates the name and labels, then adds `series` (which holds the metric).
  Series& Insert(std::string_view name, std::string_view help, Type type, Labels labels,
                 std::unique_ptr<Series> series);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

// The Prometheus text form of a sample value: NaN, +Inf, -Inf, or the shortest
// round-trip decimal (scientific when the exponent is < -4 or >= 6, as Go's 'g', -1).
std::string FormatValue(double v);

}  // namespace pathway::ops
