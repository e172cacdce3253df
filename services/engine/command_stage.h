// CommandStage: the per-partition stateful stage. Private to the engine.
//
// Reads pathway.commands.v1 (each owned partition from the offset its store holds),
// drops event ids it has seen, runs workflow::DecideCommand on the child's case and
// stages the result (new state, history, dedupe entry, timers, outbox entries and the
// consumed offset) in the partition's GroupCommit; after the batch, one atomic write
// per partition commits every command of it (decision 98), and the consumed offsets
// go to the Committer. FireTimers does the same for deadline timers now due (a
// warning or a breach), before the Step's commands. A command whose outputs or state
// would not fit a record, or would grow a case past its limits, is rejected instead
// (CheckSizes), so one that could never be sent cannot stop the partition. A
// malformed command (only the intake writes this topic) is dead-lettered.
//
// Where the Committer confirms each delivery on its own, the batch's new children get
// their data keys first, all together, so that their changelog records are confirmed
// before anything sealed under them is sent.
//
// Ownership: references the context, clock, commands consumer, committer, outbox
// sender (for its cursor) and purger (told of erasures), which must outlive it; holds
// the Step's staged groups. Not thread-safe: engine thread only. Errors: the bus's and
// the store's; what was staged is then dropped, and the commands are processed again
// after a restart from the stored offsets.
#pragma once

#include <chrono>
#include <map>
#include <optional>

#include "common/result.h"
#include "common/time_source.h"
#include "services/bus/event_bus.h"
#include "services/engine/committer.h"
#include "services/engine/group_commit.h"
#include "services/engine/landing_purger.h"
#include "services/engine/outbox_sender.h"
#include "services/engine/stage_context.h"
#include "workflow/case_step.h"
#include "workflow/outcome.h"
#include "workflow/rejection.h"

namespace pathway::engine {

class CommandStage {
 public:
  CommandStage(StageContext& context, const TimeSource& time, bus::Consumer& processor,
               Committer& committer, const OutboxSender& outbox, LandingPurger& purger)
      : context_(context),
        time_(time),
        processor_(processor),
        committer_(committer),
        outbox_(outbox),
        purger_(purger) {}

  // Fires due deadline timers of the owned partitions, bounded per Step: at most
  // max_batch per partition, and none while the partition's unsent outbox is half an
  // outbox_batch or more, so a burst of due deadlines cannot stall the commands
  // behind it. One write per partition.
  Status FireTimers();
  // Up to max_batch commands, waiting at most `poll_timeout` for the first; one write
  // per partition, then the consumed offsets go to the Committer.
  Status Run(std::chrono::milliseconds poll_timeout);

  // Why `batch` may not be committed (a value larger than its limit), if it may not.
  std::optional<workflow::Rejection> CheckSizes(const state::Batch& batch) const;

 private:
  Status HandleCommand(const bus::Message& message);
  // Rejects `command` in a batch of its own (consumed offset and dedupe entry only).
  Status CommitRejection(GroupCommit& group, state::Batch batch,
                         const pathway::v1::Envelope& command, const workflow::Rejection& r);
  // Queues `outcome` to its sender's topic (docs/partners.md).
  void Answer(state::Batch& batch, const pathway::v1::MessageOutcome& outcome) const;
  // The outcome of a partner's message that was rejected, or repeated: nothing for the
  // engine's own commands (no inbound place), nor for a re-delivery of the first.
  void AnswerRejected(state::Batch& batch, const pathway::v1::Envelope& command,
                      const pathway::v1::Envelope& rejection) const;
  void AnswerDuplicate(state::Batch& batch, const pathway::v1::Envelope& command,
                       const workflow::FirstMessage& first) const;
  // What a case step depends on, from the options (the simulator takes the same).
  workflow::StepSettings StepSettings() const;
  // The group commit of `partition`'s commands in this Step (made on first use).
  GroupCommit& GroupFor(int32_t partition, state::CaseStore& store);
  // Commits every partition's group (one write each) and forgets them.
  Status FlushGroups();

  StageContext& context_;
  const TimeSource& time_;
  bus::Consumer& processor_;
  Committer& committer_;
  const OutboxSender& outbox_;
  LandingPurger& purger_;
  // Per partition: the commands decided in this Step, committed together at its end.
  std::map<int32_t, GroupCommit> groups_;
};

// Puts what `step` decided into `batch`: the new state, the events appended to the
// subject's history, the timers, and every output, sealed as the step plans with the
// subject's data key (`store` keeps the keys). Errors are sealing's.
Status CarryOut(state::Batch& batch, state::CaseStore& store, const std::string& subject,
                workflow::CaseStep step);

}  // namespace pathway::engine
