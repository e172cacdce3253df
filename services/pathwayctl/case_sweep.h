// What pathwayctl's store-wide operations (rebuild, redrive) share: which cases a run
// covers (--all, --partition, --subject-key, --nhs-number-file, --resume-after) and
// the walk over them, in one order (partition, then child id), with progress and a
// clean stop on Ctrl-C at a place the run can resume after.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/store.pb.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/engine_data.h"

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
};

// Visits every case in `scope` in order: `visit` for each case read, `unreadable` for
// each that is not (not for a key mismatch, which ends the walk with its error), until
// `visit` fails (the walk ends with its error) or Ctrl-C (interrupted). `plain`:
// progress as plain lines even on a terminal (when stdout carries JSON).
Result<SweepEnd> Sweep(const EngineData& data, const Scope& scope, bool plain,
                       const std::function<Status(const SweptCase&)>& visit,
                       const std::function<void(const Place&, const Error&)>& unreadable);

}  // namespace pathway::ctl
