// Deadline timers: every pending deadline has a warning timer (`lead` days before it,
// default 14) and a breach timer (the day after it). Timers are derived from events,
// so the engine (which stores them in state/) and the simulator agree on them.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"

namespace pathway::workflow {

inline constexpr int kDefaultWarningLeadDays = 14;

struct TimerChanges {
  std::vector<pathway::store::v1::Timer> add;
  std::vector<pathway::store::v1::Timer> remove;
};

// The timers to add and remove because `events` (from Decide or FireTimer) were
// applied to `before` (the case state before them) of subject `subject_key`.
TimerChanges TimersFor(const std::string& subject_key, const pathway::store::v1::CaseState& before,
                       const std::vector<pathway::v1::Envelope>& events, int lead_days);

// The events timer `timer` produces at `now`: a DeadlineWarning or DeadlineBreached
// while its deadline is still pending (and not yet warned), nothing otherwise. Event
// ids are deterministic in the timer's identity.
std::vector<pathway::v1::Envelope> FireTimer(const pathway::store::v1::CaseState& state,
                                             const pathway::store::v1::Timer& timer, TimePoint now);

// Every deadline timer `state` implies: both timers of each pending deadline (the
// engine may already have fired or removed some; firing one again is a no-op).
std::vector<pathway::store::v1::Timer> DeadlineTimersOf(const std::string& subject_key,
                                                        const pathway::store::v1::CaseState& state,
                                                        int lead_days);

// Those of DeadlineTimersOf(subject_key, state, lead_days) that fire on or before
// `up_to`, in the same order, less the warnings already given (FireTimer fires nothing
// for them), without building the others; `all` is set to how many there are in all.
std::vector<pathway::store::v1::Timer> TimersToFire(const std::string& subject_key,
                                                    const pathway::store::v1::CaseState& state,
                                                    int lead_days, CivilDate up_to, size_t& all);

// The day the first of those TimersToFire would return fires, if there is one: tells
// that none is due yet without building and sorting them.
std::optional<CivilDate> FirstTimerToFire(const pathway::store::v1::CaseState& state,
                                          int lead_days);

// Orders timers as they must fire: by date, then identity.
bool TimerBefore(const pathway::store::v1::Timer& a, const pathway::store::v1::Timer& b);

}  // namespace pathway::workflow
