#include "workflow/simulator.h"

#include "workflow/event_identity.h"
#include "workflow/identity.h"
#include "workflow/input_limits.h"

namespace pathway::workflow {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

Simulator::Simulator(Keyer keyer, int warning_lead_days, DecideOptions options)
    : Simulator(std::move(keyer), StepSettings{.decide = std::move(options),
                                               .warning_lead_days = warning_lead_days}) {}

Simulator::Simulator(Keyer keyer, StepSettings settings)
    : keyer_(std::move(keyer)), settings_(std::move(settings)) {}

void Simulator::Record(const std::string& key, CaseStep step, std::vector<v1::Envelope>& sent) {
  Subject& subject = subjects_[key];
  for (const auto& t : step.timers.remove) timers_.erase(t);
  for (auto& t : step.timers.add) timers_.insert(std::move(t));
  for (auto& out : step.outputs) {
    if (out.sink == Sink::kCommands) sent.push_back(std::move(out.envelope));
    if (out.sink == Sink::kEvents || out.sink == Sink::kRejections) {
      subject.outputs.push_back(out.envelope);
    }
    if (out.sink == Sink::kRejections) subject.rejections.push_back(std::move(out.envelope));
  }
  if (step.new_state) subject.state = std::move(*step.new_state);
  for (auto& e : step.history) subject.events.push_back(std::move(e));
}

void Simulator::Run(std::vector<v1::Envelope> commands, TimePoint now) {
  // Bounded: a command sends on at most one round of commands (a release or a link),
  // and those send on nothing but links' confirmations, which send on nothing.
  for (size_t i = 0; i < commands.size() && i < 1'000'000; ++i) {
    v1::Envelope command = commands[i];
    const std::string key = command.subject_key();
    if (!command.event_id().empty()) {
      std::string digest = ContentDigest(command);
      auto [seen, added] = seen_.try_emplace(CommandIdentity(command), digest);
      if (!added) {
        if (seen->second != digest) {
          Subject& subject = subjects_[key];
          subject.rejections.push_back(MakeReusedIdRejection(command, digest, now));
          subject.outputs.push_back(subject.rejections.back());
        }
        continue;
      }
    }
    Subject& subject = subjects_[key];
    CaseStep step = DecideCommand(subject.state, command, now, settings_);
    if (step.needs_log) {
      const std::vector<v1::Envelope> kept = CommandsOf(subject.events);
      step = DecideCommand(subject.state, command, now, settings_, &kept);
    }
    Record(key, std::move(step), commands);
  }
}

void Simulator::AdvanceTo(CivilDate as_of) {
  // Bounded: each pass removes one timer, and firing adds none (commands it sends on
  // may add timers of their own, each fired at most once).
  while (!timers_.empty()) {
    store::Timer timer = *timers_.begin();
    auto fires_on = ToCivil(timer.fires_on());
    if (fires_on && std::chrono::sys_days{*fires_on} > std::chrono::sys_days{as_of}) break;
    timers_.erase(timers_.begin());
    auto it = subjects_.find(timer.subject_key());
    if (it == subjects_.end() || !fires_on) continue;
    TimePoint at = std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::sys_days{*fires_on} + std::chrono::hours(12));
    std::vector<v1::Envelope> sent;
    Record(timer.subject_key(),
           FireTimerStep(timer.subject_key(), it->second.state, timer, at, settings_), sent);
    Run(std::move(sent), at);
  }
}

void Simulator::Process(v1::Envelope inbound, TimePoint now) {
  // A command whose occurred_at is out of range is rejected at intake; its time must
  // not move the simulated clock (and fire every timer up to the year 9999) first.
  if (!inbound.has_occurred_at() || TimestampInRange(inbound.occurred_at())) {
    AdvanceTo(LondonDate(now));
  }
  IntakeOutput routed = Intake(inbound, keyer_);
  if (routed.rejection) {
    // As the engine's intake stage: every violation, and the child's key when the
    // command names a valid NHS number (then the rejection is filed under the child,
    // with no case opened for it).
    if (routed.subject_key.empty()) {
      unrouted_.push_back(MakeRejection(inbound, *routed.rejection, now, routed.violations));
      return;
    }
    inbound.set_subject_key(routed.subject_key);
    Subject& subject = subjects_[routed.subject_key];
    subject.rejections.push_back(MakeRejection(inbound, *routed.rejection, now, routed.violations));
    subject.outputs.push_back(subject.rejections.back());
    return;
  }
  Run(std::move(routed.commands), now);
}

}  // namespace pathway::workflow
