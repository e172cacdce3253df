// The engine's day number: "today" as the engine keeps it in its stores (a dedupe
// entry's day, a retention pass's day). Private to the engine.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/time_source.h"
#include "workflow/calendar.h"

namespace pathway::engine {

// The London date at `now` (workflow::LondonDate) as days since 1970-01-01. The
// engine's own date, never a command's.
inline uint32_t EngineDay(TimePoint now) {
  return static_cast<uint32_t>(
      std::chrono::sys_days(workflow::LondonDate(now)).time_since_epoch().count());
}

}  // namespace pathway::engine
