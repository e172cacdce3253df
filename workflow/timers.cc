#include "workflow/timers.h"

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "common/crypto.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/pathway.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

store::Timer MakeTimer(const std::string& subject, const std::string& instance,
                       const std::string& name, store::TimerKind kind, CivilDate fires_on,
                       const v1::Date& due) {
  store::Timer t;
  t.set_subject_key(subject);
  t.set_instance_id(instance);
  t.set_deadline(name);
  t.set_kind(kind);
  *t.mutable_fires_on() = ToProto(fires_on);
  *t.mutable_due() = due;
  return t;
}

// The days the timers of a deadline set on `set_on` and due on `due` fire on: the
// warning's (when there is room for one, always before the breach) and the breach's.
struct TimerDays {
  std::optional<CivilDate> warn;
  CivilDate breach;
};
std::optional<TimerDays> DaysOf(const v1::Date& set_on, const v1::Date& due, int lead_days) {
  auto due_date = ToCivil(due);
  auto set_date = ToCivil(set_on);
  if (!due_date || !set_date) return std::nullopt;
  // Warn `lead_days` ahead, but never before the day after the deadline was set: a
  // deadline shorter than the lead still gets its warning, as early as it can.
  CivilDate warn = AddDays(*due_date, -lead_days);
  CivilDate earliest = AddDays(*set_date, 1);
  if (std::chrono::sys_days{warn} < std::chrono::sys_days{earliest}) warn = earliest;
  TimerDays days{std::nullopt, AddDays(*due_date, 1)};
  if (std::chrono::sys_days{warn} < std::chrono::sys_days{*due_date}) days.warn = warn;
  return days;
}

// Both timers of a deadline set on `set_on` and due on `due`.
void TimersOf(const std::string& subject, const std::string& instance, const std::string& name,
              const v1::Date& set_on, const v1::Date& due, int lead_days,
              std::vector<store::Timer>& out) {
  const auto days = DaysOf(set_on, due, lead_days);
  if (!days) return;
  if (days->warn) {
    out.push_back(MakeTimer(subject, instance, name, store::TIMER_KIND_WARNING, *days->warn, due));
  }
  out.push_back(MakeTimer(subject, instance, name, store::TIMER_KIND_BREACH, days->breach, due));
}

const store::Deadline* PendingDeadline(const store::CaseState& state, const std::string& instance,
                                       const std::string& name) {
  for (const auto& p : state.pathways()) {
    if (p.instance_id() != instance) continue;
    const store::Deadline* d = FindDeadline(p, name);
    if (d && d->status() == v1::DEADLINE_STATUS_PENDING) return d;
  }
  return nullptr;
}

// Whether the warning of `d`, a deadline of `p`, was given: FireTimer then fires
// nothing for it.
bool WarningGiven(const store::CaseState& state, const store::PathwayInstance& p,
                  const store::Deadline& d) {
  return d.warned() && PendingDeadline(state, p.instance_id(), d.name()) == &d;
}

const store::PathwayInstance* Instance(const store::CaseState& state, const std::string& id) {
  for (const auto& p : state.pathways()) {
    if (p.instance_id() == id) return &p;
  }
  return nullptr;
}

// The envelope of an event a timer fires; `identity` makes its id deterministic.
v1::Envelope TimerEnvelope(const store::Timer& timer, const std::string& identity, TimePoint now) {
  v1::Envelope e;
  e.set_event_id(DerivedEventId(identity, 0));
  e.set_subject_key(timer.subject_key());
  auto us = now.time_since_epoch().count();
  e.mutable_recorded_at()->set_seconds(us / 1'000'000);
  e.mutable_recorded_at()->set_nanos(static_cast<int32_t>((us % 1'000'000) * 1000));
  e.mutable_source()->set_agency("pathway");
  e.mutable_source()->set_system("pathway-engine");
  e.set_causation_id("timer");
  return e;
}

// The instance and name of the deadline a DeadlineMet, DeadlineCancelled or
// DeadlineSuperseded closes.
std::pair<std::string, std::string> ClosedDeadline(const v1::Envelope& e) {
  if (e.has_deadline_met()) return {e.deadline_met().instance_id(), e.deadline_met().name()};
  if (e.has_deadline_cancelled()) {
    return {e.deadline_cancelled().instance_id(), e.deadline_cancelled().name()};
  }
  return {e.deadline_superseded().instance_id(), e.deadline_superseded().name()};
}

store::Timer HoldTimer(const std::string& subject, const v1::CommandHeld& held) {
  auto expires = ToCivil(held.expires_on());
  return MakeTimer(subject, held.held_event_id(), "identity_hold", store::TIMER_KIND_IDENTITY_HOLD,
                   expires ? *expires : CivilDate{}, held.expires_on());
}
}  // namespace

TimerChanges TimersFor(const std::string& subject_key, const store::CaseState& before,
                       const std::vector<v1::Envelope>& events, int lead_days) {
  TimerChanges changes;
  for (const auto& e : events) {
    switch (e.payload_case()) {
      case v1::Envelope::kCommandHeld:
        changes.add.push_back(HoldTimer(subject_key, e.command_held()));
        break;
      case v1::Envelope::kErasureCompleted:
        // Nothing is left to warn about or to release.
        for (const auto& p : before.pathways()) {
          for (const auto& d : p.deadlines()) {
            if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
            TimersOf(subject_key, p.instance_id(), d.name(), d.set_on(), d.due(), lead_days,
                     changes.remove);
          }
        }
        for (const auto& held : before.held()) {
          changes.remove.push_back(HoldTimer(subject_key, held));
        }
        break;
      case v1::Envelope::kHeldCommandReleased: {
        const std::string& id = e.held_command_released().held_event_id();
        // Held and released in one decision: the timer was never stored.
        auto same = std::find_if(changes.add.begin(), changes.add.end(), [&](const auto& t) {
          return t.kind() == store::TIMER_KIND_IDENTITY_HOLD && t.instance_id() == id;
        });
        if (same != changes.add.end()) {
          changes.add.erase(same);
          break;
        }
        for (const auto& held : before.held()) {
          if (held.held_event_id() == id) changes.remove.push_back(HoldTimer(subject_key, held));
        }
        break;
      }
      case v1::Envelope::kDeadlineSet: {
        const auto& s = e.deadline_set();
        TimersOf(subject_key, s.instance_id(), s.name(), s.set_on(), s.due(), lead_days,
                 changes.add);
        break;
      }
      case v1::Envelope::kDeadlineMet:
      case v1::Envelope::kDeadlineCancelled:
      case v1::Envelope::kDeadlineSuperseded: {
        // Named, not bound: lambdas may not capture structured bindings before clang 16.
        const auto closed = ClosedDeadline(e);
        const auto& instance = closed.first;
        const auto& name = closed.second;
        // Set earlier in the same decision (a step implied before the one that meets
        // it): its timers were never stored, so they are not added.
        auto same = [&](const store::Timer& t) {
          return t.kind() != store::TIMER_KIND_IDENTITY_HOLD && t.instance_id() == instance &&
                 t.deadline() == name;
        };
        if (std::any_of(changes.add.begin(), changes.add.end(), same)) {
          changes.add.erase(std::remove_if(changes.add.begin(), changes.add.end(), same),
                            changes.add.end());
          break;
        }
        if (const store::Deadline* d = PendingDeadline(before, instance, name)) {
          TimersOf(subject_key, instance, name, d->set_on(), d->due(), lead_days, changes.remove);
        }
        break;
      }
      default:
        break;
    }
  }
  return changes;
}

std::vector<v1::Envelope> FireTimer(const store::CaseState& state, const store::Timer& timer,
                                    TimePoint now) {
  std::vector<v1::Envelope> out;
  if (timer.kind() == store::TIMER_KIND_IDENTITY_HOLD) {
    // Still held (not released since): the wait is over.
    for (const auto& held : state.held()) {
      if (held.held_event_id() != timer.instance_id()) continue;
      v1::Envelope e = TimerEnvelope(
          timer, "timer|" + timer.subject_key() + "|identity_hold|" + timer.instance_id(), now);
      e.mutable_held_command_expired()->set_held_event_id(held.held_event_id());
      *e.mutable_held_command_expired()->mutable_on() = timer.fires_on();
      out.push_back(std::move(e));
    }
    return out;
  }
  const store::Deadline* d = PendingDeadline(state, timer.instance_id(), timer.deadline());
  // A deadline re-set since the timer was made has timers of its own.
  if (!d || d->due().SerializeAsString() != timer.due().SerializeAsString()) return out;
  if (timer.kind() == store::TIMER_KIND_WARNING && d->warned()) return out;

  std::string identity = "timer|" + timer.subject_key() + "|" + timer.instance_id() + "|" +
                         timer.deadline() + "|" + std::to_string(timer.kind()) + "|" +
                         FormatDate(StoredDate(timer.due()));
  v1::Envelope e = TimerEnvelope(timer, identity, now);
  e.set_pathway_instance_id(timer.instance_id());
  if (timer.kind() == store::TIMER_KIND_WARNING) {
    auto* w = e.mutable_deadline_warning();
    w->set_instance_id(timer.instance_id());
    w->set_name(timer.deadline());
    *w->mutable_due() = d->due();
    w->set_days_left(DaysBetween(StoredDate(timer.fires_on()), StoredDate(d->due())));
    *w->mutable_on() = timer.fires_on();
  } else {
    auto* b = e.mutable_deadline_breached();
    b->set_instance_id(timer.instance_id());
    b->set_name(timer.deadline());
    *b->mutable_due() = d->due();
    const store::PathwayInstance* instance = Instance(state, timer.instance_id());
    // reg 10(4): a recorded exception is reported as such; the deadline never moves.
    b->set_excepted(d->exceptable() && instance && !FactValue(*instance, "exception").empty());
    *b->mutable_on() = timer.fires_on();
  }
  out.push_back(std::move(e));
  return out;
}

std::vector<store::Timer> DeadlineTimersOf(const std::string& subject_key,
                                           const store::CaseState& state, int lead_days) {
  std::vector<store::Timer> out;
  for (const auto& p : state.pathways()) {
    for (const auto& d : p.deadlines()) {
      if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
      TimersOf(subject_key, p.instance_id(), d.name(), d.set_on(), d.due(), lead_days, out);
    }
  }
  std::sort(out.begin(), out.end(), TimerBefore);
  return out;
}

std::vector<store::Timer> TimersToFire(const std::string& subject_key,
                                       const store::CaseState& state, int lead_days,
                                       CivilDate up_to, size_t& all) {
  std::vector<store::Timer> out;
  all = 0;
  auto add = [&](const store::PathwayInstance& p, const store::Deadline& d, store::TimerKind kind,
                 CivilDate on) {
    ++all;
    if (std::chrono::sys_days{on} > std::chrono::sys_days{up_to}) return;
    out.push_back(MakeTimer(subject_key, p.instance_id(), d.name(), kind, on, d.due()));
  };
  for (const auto& p : state.pathways()) {
    for (const auto& d : p.deadlines()) {
      if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
      const auto days = DaysOf(d.set_on(), d.due(), lead_days);
      if (!days) continue;
      if (days->warn && WarningGiven(state, p, d)) {
        ++all;
      } else if (days->warn) {
        add(p, d, store::TIMER_KIND_WARNING, *days->warn);
      }
      add(p, d, store::TIMER_KIND_BREACH, days->breach);
    }
  }
  std::sort(out.begin(), out.end(), TimerBefore);
  return out;
}

std::optional<CivilDate> FirstTimerToFire(const store::CaseState& state, int lead_days) {
  std::optional<CivilDate> first;
  for (const auto& p : state.pathways()) {
    for (const auto& d : p.deadlines()) {
      if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
      const auto days = DaysOf(d.set_on(), d.due(), lead_days);
      if (!days) continue;
      const bool warn = days->warn && !WarningGiven(state, p, d);
      const CivilDate on = warn ? *days->warn : days->breach;
      if (!first || std::chrono::sys_days{on} < std::chrono::sys_days{*first}) first = on;
    }
  }
  return first;
}

bool TimerBefore(const store::Timer& a, const store::Timer& b) {
  // Compared in place, without copying the strings: sorting a case's timers compares
  // them many times.
  const auto& x = a.fires_on();
  const auto& y = b.fires_on();
  if (x.year() != y.year()) return x.year() < y.year();
  if (x.month() != y.month()) return x.month() < y.month();
  if (x.day() != y.day()) return x.day() < y.day();
  if (int c = a.subject_key().compare(b.subject_key())) return c < 0;
  if (int c = a.instance_id().compare(b.instance_id())) return c < 0;
  if (int c = a.deadline().compare(b.deadline())) return c < 0;
  return static_cast<int>(a.kind()) < static_cast<int>(b.kind());
}

}  // namespace pathway::workflow
