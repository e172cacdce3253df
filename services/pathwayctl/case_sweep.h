// What pathwayctl's store-wide operations (rebuild, redrive, migrate) share: which cases
// a run covers (--all, --partition, --subject-key, --nhs-number-file, --resume-after),
// the flags and inputs every such run takes, the walk over the cases, in one order
// (partition, then child id), with progress and a clean stop on Ctrl-C at a place the
// run can resume after, and the end of the run on the audit trail.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "services/operations/report_json.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/redrive_sender.h"

namespace pathway::ctl {

inline constexpr std::string_view kScopeFlagsHelp =
    "  --all                          every case of every partition in DIR\n"
    "  --partition P                  the cases of one partition\n"
    "  --subject-key KEY              one case by its subject key (the child id)\n"
    "  --nhs-number-file F            one child by the NHS number in F (- for stdin)\n"
    "  --instance ID                  the child whose case holds this pathway instance\n"
    "  --resume-after P:KEY           skip cases up to and including KEY of partition P\n";

// A case's place in the walk's order.
struct Place {
  int32_t partition = 0;
  std::string subject;  // hex subject key
  std::string Text() const { return std::to_string(partition) + ":" + subject; }
};

struct ScopeFlags {
  bool all = false;
  std::string partition, subject_key, nhs_file, instance, resume_after;
  void AddTo(std::vector<Flag>& flags);
};

struct Scope {
  std::string text;  // for the audit: "all", "partition 3", "subject <key>"
  std::optional<int32_t> partition;
  std::string subject;   // one case only
  std::string instance;  // with `subject`: the pathway instance named (--instance)
  std::optional<Place> resume_after;
};

// The scope the flags name, in `data`; an error message for the operator (naming the
// flag, never an NHS number read). `usage` says whether it is bad usage (exit 2) or a
// failure (exit 1).
struct ScopeError {
  std::string message;
  bool usage = true;
};
Result<Scope> ResolveScope(const ScopeFlags& flags, const EngineData& data, ScopeError& error);

// The case holding pathway instance `instance` (32 hex digits), found by reading every
// case of every partition in `data`; nullopt if none holds it.
Result<std::optional<Place>> FindInstance(const EngineData& data, const std::string& instance);

// One case of the walk, its state and history opened.
struct SweptCase {
  Place place;
  const pathway::store::v1::CaseState& state;
  const std::vector<pathway::v1::Envelope>& history;
};

struct SweepEnd {
  uint64_t cases = 0;       // visited (read or not)
  uint64_t unreadable = 0;  // whose state or history did not open
  bool interrupted = false;
  std::optional<Place> last;  // the last case visited
  // Where a run resumes: `last` as --resume-after takes it; empty when none was visited.
  std::string ResumeAfter() const { return last ? last->Text() : std::string(); }
};

// Visits every case in `scope` in order: `visit` for each case read, `unreadable` for
// each that is not (not for a key mismatch, which ends the walk with its error), until
// `visit` fails (the walk ends with its error) or Ctrl-C (interrupted). `plain`:
// progress as plain lines even on a terminal (when stdout carries JSON).
Result<SweepEnd> Sweep(const EngineData& data, const Scope& scope, bool plain,
                       const std::function<Status(const SweptCase&)>& visit,
                       const std::function<void(const Place&, const Error&)>& unreadable);

// The flags every store-wide run takes besides its own: the scope, the engine's data and
// decision settings, who runs it and why, and Kafka (for the audit and the sender).
// Not to be copied once added to a flag list (the Kafka flags point into it).
struct SweptRunFlags {
  ScopeFlags scope;
  EngineDataFlags data;
  DecisionFlags decisions;
  OperatorFlags who;
  KafkaFlags kafka;
  void AddTo(std::vector<Flag>& flags);
};

// Parses `args` with the command's own `flags`, `run_flags` and --help. Returns the exit
// code when the command ends here: 0 after printing `usage` and the help of every
// SweptRunFlags flag on stdout (--help), 2 on bad usage said as `command`'s error (a bad
// flag, or a positional argument, never echoed: it may well be an NHS number). nullopt:
// the command goes on. `run_flags` is not to be copied afterwards.
std::optional<int> ParseSweptRunArgs(std::string_view command, std::string_view usage,
                                     std::span<char* const> args, std::vector<Flag> flags,
                                     SweptRunFlags& run_flags);

// What a store-wide run reads before it starts.
struct SweptRunInput {
  Decisions decisions;
  EngineData data;
  Scope scope;
};

// Checks the operator and Kafka flags, then loads the decision settings, the engine's
// data and the scope. On failure it says why as `command`'s error, sets `exit_code` (2 bad
// usage, 1 failure) and returns nullopt: the caller exits without reading anything.
std::optional<SweptRunInput> LoadSweptRun(std::string_view command, SweptRunFlags& flags,
                                          const TimeSource& time, int& exit_code);

// The sender of an audited run's commands to the engine. On failure it says why as
// `command`'s error and records the run FAILED on `audit`: the caller exits 1.
Result<std::unique_ptr<RedriveSender>> StartSender(std::string_view command,
                                                   const SweptRunFlags& flags,
                                                   OperationAudit& audit, const TimeSource& time);

// Records on the child's own trail that what `subject`'s case holds is about to be
// shown; an error (the walk's) says it was not recorded.
Status RecordShown(OperationAudit& audit, const std::string& subject);

// Prints a case the walk could not read, on stdout (Sweep's `unreadable`).
void PrintUnreadable(const Place& place, const Error& error);

// Prints what re-deciding a case changes, one line each, indented under the case:
// deadlines (due date and status before and after), steps recorded or withdrawn, and
// refusals made or withdrawn (redrive's and migrate's listings).
void PrintCorrection(const pathway::v1::CaseCorrected& diff);

// How a run's end is told in its messages.
struct SweptRunWords {
  std::string_view command;  // as its errors name it: "rebuild"
  // What the run sent the engine, as named when the broker does not confirm it:
  // "<sent> not confirmed by the broker: <error> (<again>)".
  std::string_view sent;
  std::string_view again;
  // What the run does to a case: "(nothing <visited> yet: run again)" when interrupted
  // before the first.
  std::string_view visited;
  // "interrupted after 1 case" rather than "interrupted after 1 cases".
  bool singular;
};

// Ends a run over `input` after Sweep gave `end`: confirms what `sender` (null when the
// run sends nothing) sent, then reports a failure to confirm, the walk's error or a
// subject with no case as the command's error, records it on `audit` (FAILED; FINISHED
// for the unknown subject) and returns the exit code, 1. Otherwise records INTERRUPTED
// (and prints on stderr where to resume) or FINISHED (an error to record it is printed,
// not fatal) and returns nullopt: the caller prints its result. `counts`: the audit's
// counts, given the walk's end when there is one.
std::optional<int> FinishSweptRun(const SweptRunWords& words, const SweptRunInput& input,
                                  OperationAudit& audit, RedriveSender* sender,
                                  const Result<SweepEnd>& end,
                                  const std::function<Counts(const SweepEnd*)>& counts);

// The start of the JSON document of a run that can apply what it lists (redrive,
// migrate): the operation, its scope, whether it was a dry run, how many commands it
// sent (as `sent_key`), the as-of day (`now` in London) and where the walk ended. The
// caller adds its own fields and calls Done.
operations::report::Json SweptRunJson(std::string_view operation_id, std::string_view scope,
                                      bool dry_run, std::string_view sent_key, uint64_t sent,
                                      TimePoint now, const SweepEnd& end);

}  // namespace pathway::ctl
