// One step of a case: the whole recipe "command (or fired timer) + case -> new case,
// history, outputs, timers", as one pure function. The engine and the simulator both
// call it and only carry out what it returns (the engine seals and commits, the
// simulator keeps it in memory), so the two cannot drift apart: the history limit,
// the commands an event sends on, the audit records and the sealing plan are all
// decided here.
//
// Pure and deterministic: no I/O, time is an argument. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/store.pb.h"
#include "workflow/rejection.h"
#include "workflow/timers.h"
#include "workflow/workflow.h"

namespace pathway::workflow {

inline constexpr uint64_t kDefaultMaxHistoryPerCase = 10000;

// Deployment settings a step depends on (the same in the engine and the simulator).
struct StepSettings {
  DecideOptions decide;
  int warning_lead_days = kDefaultWarningLeadDays;
  // Events a case may hold before an operator must archive it (Temporal's lesson:
  // cap per-case history). A command that would pass it is rejected, rule
  // history_limit.
  uint64_t max_history_per_case = kDefaultMaxHistoryPerCase;
};

// Where an output goes. The engine maps each to its topic (services/topics.h).
enum class Sink {
  kEvents,      // pathway.events.v1, keyed by the subject
  kCommands,    // pathway.commands.v1, keyed by the target subject (envelope.subject_key)
  kRejections,  // pathway.rejections.v1, keyed by the subject
  kAudit,       // pathway.audit.v1, keyed by the subject
};

// One message the step sends. The sealing plan travels with it: the engine seals
// `envelope`'s personal fields under the subject's data key when `seal_fields`
// (workflow/personal_fields.h), and keeps the outbox entry sealed at rest when
// `sealed_at_rest` (a partner's own command, released from a hold).
struct StepOutput {
  Sink sink = Sink::kEvents;
  pathway::v1::Envelope envelope;
  bool seal_fields = false;
  bool sealed_at_rest = false;
};

struct CaseStep {
  // Set when the command is refused: `outputs` then holds only its CommandRejected and
  // nothing else of the case changes.
  std::optional<Rejection> rejection;
  // Unset when the case does not change (a refusal, a timer with nothing to fire).
  std::optional<pathway::store::v1::CaseState> new_state;
  std::vector<pathway::v1::Envelope> history;  // appended to the case's history, in order
  std::vector<StepOutput> outputs;             // in the order they are to be sent
  TimerChanges timers;
  bool erase_subject = false;  // the subject's data key is destroyed in this commit
};

// The step for `command` (routed: subject_key set) against `state` at `now`.
CaseStep DecideCommand(const pathway::store::v1::CaseState& state,
                       const pathway::v1::Envelope& command, TimePoint now,
                       const StepSettings& settings);

// The step for `timer` of `subject_key` firing at `now`. The timer itself is always
// consumed (the caller removes it); `timers` holds what its events change besides.
CaseStep FireTimerStep(const std::string& subject_key, const pathway::store::v1::CaseState& state,
                       const pathway::store::v1::Timer& timer, TimePoint now,
                       const StepSettings& settings);

}  // namespace pathway::workflow
