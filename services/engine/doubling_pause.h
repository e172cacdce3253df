// DoublingPause: a pause after failures that doubles with each one, from `min` up to
// `max`. The outbox's sends and the erasure purge retry on it. Private to the engine.
// A value type; not thread-safe.
#pragma once

#include <algorithm>
#include <chrono>

namespace pathway::engine {

struct DoublingPause {
  std::chrono::steady_clock::time_point until;
  std::chrono::milliseconds delay{0};
  int failures = 0;
  // Records a failure at `now` and returns the pause it starts.
  std::chrono::milliseconds Fail(std::chrono::steady_clock::time_point now,
                                 std::chrono::milliseconds min, std::chrono::milliseconds max) {
    ++failures;
    delay = std::clamp(delay * 2, min, std::max(min, max));
    until = now + delay;
    return delay;
  }
  bool Waiting(std::chrono::steady_clock::time_point now) const { return now < until; }
};

}  // namespace pathway::engine
