#include "workflow/simulator.h"

#include "workflow/workflow.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

Simulator::Simulator(Keyer keyer, int warning_lead_days)
    : keyer_(std::move(keyer)), lead_days_(warning_lead_days) {}

void Simulator::Record(Subject& subject, const std::string& key, std::vector<v1::Envelope> events) {
  TimerChanges changes = TimersFor(key, subject.state, events, lead_days_);
  for (const auto& t : changes.remove) timers_.erase(t);
  for (auto& t : changes.add) timers_.insert(std::move(t));
  for (auto& e : events) {
    Apply(subject.state, e);
    subject.events.push_back(std::move(e));
  }
}

void Simulator::AdvanceTo(CivilDate as_of) {
  // Bounded: each pass removes one timer and firing adds none.
  while (!timers_.empty()) {
    store::Timer timer = *timers_.begin();
    auto fires_on = ToCivil(timer.fires_on());
    if (fires_on && std::chrono::sys_days{*fires_on} > std::chrono::sys_days{as_of}) break;
    timers_.erase(timers_.begin());
    auto it = subjects_.find(timer.subject_key());
    if (it == subjects_.end() || !fires_on) continue;
    TimePoint at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::sys_days{*fires_on} + std::chrono::hours(12));
    Record(it->second, timer.subject_key(), FireTimer(it->second.state, timer, at));
  }
}

void Simulator::Process(v1::Envelope inbound, TimePoint now) {
  AdvanceTo(LondonDate(now));
  Routing routing = RouteCommand(inbound);
  if (routing.rejection) {
    unrouted_.push_back(MakeRejection(inbound, *routing.rejection, now));
    return;
  }
  std::string key = keyer_(routing.nhs_number);
  inbound.set_subject_key(key);
  Subject& subject = subjects_[key];
  if (!inbound.event_id().empty() && !seen_.insert(inbound.event_id()).second) return;
  Decision decision = Decide(subject.state, inbound, now);
  if (decision.rejection) {
    subject.rejections.push_back(MakeRejection(inbound, *decision.rejection, now));
    return;
  }
  Record(subject, key, std::move(decision.events));
}

}  // namespace pathway::workflow
