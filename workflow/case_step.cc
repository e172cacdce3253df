#include "workflow/case_step.h"

#include "workflow/identity.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

CaseStep Refuse(const v1::Envelope& command, Rejection rejection, TimePoint now) {
  CaseStep step;
  step.outputs.push_back({Sink::kRejections, MakeRejection(command, rejection, now)});
  step.rejection = std::move(rejection);
  return step;
}

// Folds `events` into `state` and plans every output they cause, in a fixed order per
// event: the commands it sends on and the rejections it causes (committed with it, so
// neither is lost nor sent without it), the event itself, then its audit record.
void Record(CaseStep& step, const std::string& subject_key, store::CaseState state,
            std::vector<v1::Envelope> events, TimePoint now, const StepSettings& settings) {
  step.timers = TimersFor(subject_key, state, events, settings.warning_lead_days);
  for (const auto& event : events) {
    // The subject's key is forgotten in this commit: nothing may be sealed after.
    if (event.has_erasure_completed()) step.erase_subject = true;
    Emissions emitted = EmissionsFor(state, event, now);
    for (auto& c : emitted.commands) {
      // A released command is what a partner sent: sealed at rest and on the changelog.
      const bool partners = event.has_held_command_released();
      step.outputs.push_back({Sink::kCommands, std::move(c), false, partners});
    }
    for (auto& r : emitted.rejections) step.outputs.push_back({Sink::kRejections, std::move(r)});
    Apply(state, event);
    step.outputs.push_back({Sink::kEvents, PublishedCopy(event), /*seal_fields=*/true});
    // Views and reuses of the shared record are audited in the same commit.
    if (auto audit = AuditFor(event)) step.outputs.push_back({Sink::kAudit, std::move(*audit)});
  }
  step.history = std::move(events);
  step.new_state = std::move(state);
}
}  // namespace

CaseStep DecideCommand(const store::CaseState& state, const v1::Envelope& command, TimePoint now,
                       const StepSettings& settings) {
  Decision decision = Decide(state, command, now, settings.decide);
  if (decision.rejection) return Refuse(command, std::move(*decision.rejection), now);
  if (state.history_length() + decision.events.size() > settings.max_history_per_case) {
    return Refuse(
        command,
        {"subject_key", "history_limit",
         "this case already holds " + std::to_string(state.history_length()) +
             " events and the limit per case is " + std::to_string(settings.max_history_per_case) +
             ": an operator must archive the case before more can be recorded"},
        now);
  }
  CaseStep step;
  Record(step, command.subject_key(), state, std::move(decision.events), now, settings);
  return step;
}

CaseStep FireTimerStep(const std::string& subject_key, const store::CaseState& state,
                       const store::Timer& timer, TimePoint now, const StepSettings& settings) {
  CaseStep step;
  std::vector<v1::Envelope> events = FireTimer(state, timer, now);
  if (events.empty()) return step;
  Record(step, subject_key, state, std::move(events), now, settings);
  return step;
}

}  // namespace pathway::workflow
