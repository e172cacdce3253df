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
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
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

// Arrival order (docs/decisions.md 81-83). A case is a function of its commands in
// business-date order, never of the order they arrive in. Pathway and shared-record
// commands are "re-decidable": each is kept in the case's history (CommandRecorded),
// refused or not, with its place in business-date order. One that sorts after all
// the case has decided (CaseState.decided_through) is decided at once, as it would be
// in order; one that sorts before makes the case be re-decided from its kept commands
// in order, and the differences from what was emitted are emitted as one
// CaseCorrected naming the command. Identity and erasure commands are decided as they
// arrive (they change who the case is, not what happened in it).
bool IsRedecidable(const pathway::v1::Envelope& command);

// The command's place in business-date order: its business date (the step's own date
// field; for a shared-record command its date or else its own day), then shared-record
// commands before pathway commands and pathway steps in their definition's order, then
// when it occurred (occurred_at: a step recorded again later the same day is the
// repeat), then its content digest (so two commands of one day sort the same whatever
// their arrival).
std::string CommandOrder(const pathway::v1::Envelope& command);

struct CaseStep {
  // DecideCommand needs the case's kept commands (it was called without them and the
  // command sorts before what the case decided): load them (CommandsOf over the
  // subject's history) and call again. Nothing else is set.
  bool needs_log = false;
  // Set when the command is refused: `outputs` holds its CommandRejected. A
  // re-decidable command refused is still kept (new_state and history are set): a
  // command that arrives later may make it valid.
  std::optional<Rejection> rejection;
  // Unset when the case does not change (a refusal of a command not kept, a timer
  // with nothing to fire).
  std::optional<pathway::store::v1::CaseState> new_state;
  std::vector<pathway::v1::Envelope> history;  // appended to the case's history, in order
  std::vector<StepOutput> outputs;             // in the order they are to be sent
  TimerChanges timers;
  bool erase_subject = false;  // the subject's data key is destroyed in this commit
};

// A CaseRedriveRequested (an operator's re-drive, docs/operations.md) re-decides the
// case from `log` without the commands it names (withdrawn for good: a CommandsWithdrawn
// in the history) and records the differences as one CaseCorrected caused by it; when
// nothing would change, nothing is recorded. It needs the log like a late command. A
// CaseMigrateRequested (PlanMigration below) moves the instances it names that can move
// and records PathwaysMigrated and, when anything else changes, one CaseCorrected caused
// by it; nothing when nothing would move. It needs the log too.
//
// The step for `command` (routed: subject_key set) against `state` at `now`. `log`:
// the case's kept commands (CommandsOf its history), or null until needs_log asks.
CaseStep DecideCommand(const pathway::store::v1::CaseState& state,
                       const pathway::v1::Envelope& command, TimePoint now,
                       const StepSettings& settings,
                       const std::vector<pathway::v1::Envelope>* log = nullptr);

// A migration (CaseMigrateRequested; docs/operations.md, "migrate"; decision 128): the
// instances of one pathway at `from_version` moved to `to_version` by re-deciding the
// case with them pinned to it.
struct MigrationRequest {
  pathway::v1::PathwayKind kind = pathway::v1::PATHWAY_KIND_UNSPECIFIED;
  uint32_t from_version = 0;
  uint32_t to_version = 0;
  std::map<std::string, std::string> mapping;  // state at from_version -> at to_version
  std::set<std::string> instance_ids;          // empty: every instance at from_version
};
MigrationRequest MigrationRequestOf(const pathway::v1::CaseMigrateRequested& command);

// Why a request cannot be carried out at all (an unknown pathway or version, the same
// version twice, a state in the mapping that is not a state of its version), naming the
// state; nullopt when it can.
std::optional<Rejection> CheckMigrationRequest(const MigrationRequest& request);

// One instance a migration looked at.
struct InstanceMigration {
  std::string instance_id;
  std::string state;     // its state now
  std::string to_state;  // the mapping's state for it ("" when its state is not mapped)
  bool moved = false;
  // Why it is not moved, naming states only: its state is not in the mapping, or
  // re-decided under the new version it ends in another state than the mapping says.
  std::string why;
};

struct Migration {
  std::vector<InstanceMigration> instances;  // each instance in scope, in case order
  std::map<std::string, uint32_t> moved;     // instance id -> the version it moves to
  // The case before (timers due by `now` fired, the moved instances' version set) and
  // after (re-decided with them pinned to the new version): equal unless the move
  // changes deadlines, steps or refusals (`changes`).
  pathway::store::v1::CaseState before;
  pathway::store::v1::CaseState after;
  bool changes = false;
};

// The migration of the case of `subject_key` (`state`, its kept commands `log`) at
// `now`: the engine's decision of a CaseMigrateRequested and `pathwayctl migrate`'s
// dry run both call it. An instance moves when its state is mapped and, re-decided
// under the new version, it ends in the mapped state; instances are re-checked until
// every one kept moving does.
Migration PlanMigration(const std::string& subject_key, const pathway::store::v1::CaseState& state,
                        const std::vector<pathway::v1::Envelope>& log,
                        const MigrationRequest& request, TimePoint now,
                        const StepSettings& settings);

// Whether `marker` withdrew kept command `command`: its event id is named and it came
// from the marker's system (from any, for a marker that names none).
bool Withdraws(const pathway::v1::CommandsWithdrawn& marker, const pathway::v1::Envelope& command);

// The commands kept in a case's history (CommandRecorded), in the order kept, without
// those an operator's re-drive withdrew (CommandsWithdrawn, Withdraws).
std::vector<pathway::v1::Envelope> CommandsOf(const std::vector<pathway::v1::Envelope>& history);

// The history entries `state` holds: all it recorded, less what retention trimmed
// (history_kept_from, where a read of its history starts: CaseStore::HistoryFrom).
uint64_t HeldHistoryLength(const pathway::store::v1::CaseState& state);
// Cuts `history`, read from history_kept_from on, to the entries `state` holds: entries
// past them are a batch a crash cut short (restored in part from the changelog), not
// decided, so neither kept commands nor the case's.
void KeepHeld(std::vector<pathway::v1::Envelope>& history,
              const pathway::store::v1::CaseState& state);

// The event id of the CommandRecorded that keeps the command whose CommandIdentity is
// `identity` in its case's history.
std::string KeptCommandId(std::string_view identity);

// The content digest (ContentDigest) of the command whose CommandIdentity is
// `identity`, if `history` kept it (a CommandRecorded, withdrawn later or not); nullopt
// if it did not. A repeat whose dedupe entry has expired (or was never restored: the
// changelog keeps only each case's latest) is recognised by it (docs/decisions.md 126).
// Only kept commands are found: one refused for its own fields is refused again.
std::optional<std::string> KeptCommandDigest(const std::vector<pathway::v1::Envelope>& history,
                                             std::string_view identity);

// The case as a statute reads it, independent of the order things were recorded in:
// referrals, pathway instances (state, deadlines, facts, steps) and refusals, with
// repeated fields in a canonical order (same-named deadlines and facts keep theirs:
// the latest counts). Excludes the shared record and who the case is, which are
// decided as commands arrive. Equal for every arrival order of the same commands.
std::string CanonicalCase(const pathway::store::v1::CaseState& state);

// Operations (docs/operations.md): the case of `subject_key` re-decided from its kept
// commands alone (`log`: CommandsOf its history), in business-date order, with every
// deadline timer due by the day of `now` fired: the case as if every command had
// arrived in order. Who the case is and its shared record are kept from `state` (they
// are decided as commands arrive, never re-decided), as are its history length and
// decided_through. An erased case is returned as it is.
pathway::store::v1::CaseState RedecideFromLog(const std::string& subject_key,
                                              const pathway::store::v1::CaseState& state,
                                              const std::vector<pathway::v1::Envelope>& log,
                                              TimePoint now, const StepSettings& settings);

// `state` with every deadline timer due by the day of `now` fired (as the engine would
// have by then): the same case, or a copy with the timers' events applied.
pathway::store::v1::CaseState FiredThrough(const std::string& subject_key,
                                           const pathway::store::v1::CaseState& state,
                                           TimePoint now, const StepSettings& settings);

// What changed from `before` to `after` as a CaseCorrected reports it: deadlines (due
// date, status, completion), steps recorded or withdrawn, refusals made or withdrawn.
// Appends to `out`; sets no other field.
void DiffCases(const pathway::store::v1::CaseState& before,
               const pathway::store::v1::CaseState& after, pathway::v1::CaseCorrected& out);

// What a case's outputs say, folded: each deadline (instance and name) with its due
// date, status and completion; every step recorded (instance, step, date, implied);
// every command refused. Folding a case's outputs (pathway.events.v1 and
// pathway.rejections.v1, in the order sent) gives the same view whatever order its
// commands arrived in: the corrections turn earlier outputs into the final ones.
struct OutputView {
  std::map<std::string, std::string> deadlines;  // "instance|name" -> "due status met_on"
  std::multiset<std::string> steps;              // "instance|step|date|implied"
  std::set<std::string> rejected;                // rejected event ids
  bool operator==(const OutputView&) const = default;
};
void FoldOutput(OutputView& view, const pathway::v1::Envelope& output);

// The step for `timer` of `subject_key` firing at `now`. The timer itself is always
// consumed (the caller removes it); `timers` holds what its events change besides.
CaseStep FireTimerStep(const std::string& subject_key, const pathway::store::v1::CaseState& state,
                       const pathway::store::v1::Timer& timer, TimePoint now,
                       const StepSettings& settings);

}  // namespace pathway::workflow
