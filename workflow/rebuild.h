// Rebuild (design.md "Replay"; docs/operations.md "rebuild"): a stored case checked
// against its stored history with the same Apply and decide functions the engine runs.
//
// Two checks, because they catch different faults:
//  - the history folded by Apply from an empty case must give the stored state byte
//    for byte (a state written wrongly, or damaged at rest);
//  - the case re-decided from its kept commands in business-date order must be the
//    stored case (a decision the arrival order changed, or a history that lost or
//    gained a command). Both sides have every deadline timer due by `now` fired, so a
//    stopped engine's case that has yet to fire one is not a divergence.
//
// Pure and deterministic; thread-safe. Reports name fields and ids, never values (a
// value may be personal).
#pragma once

#include <google/protobuf/message.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/case_step.h"

namespace pathway::workflow {

inline constexpr size_t kMaxReportedDifferences = 20;

struct CaseCheck {
  // An erased case keeps only its mark and the erasure event: nothing is checked.
  bool erased = false;
  // Fields (paths such as "pathways[0].deadlines[2].status") in which the stored state
  // differs from its folded history; at most kMaxReportedDifferences. Empty: equal.
  std::vector<std::string> history_differences;
  bool history_differs = false;
  // What re-deciding the kept commands would change, as a correction reports it.
  pathway::v1::CaseCorrected redecided;
  // The re-decided case is not the stored one (CanonicalCase), whether or not
  // `redecided` can name the difference; `redecided_fields` names the fields of the
  // stored case (timers fired) that re-deciding changes, at most kMaxReportedDifferences.
  bool redecided_differs = false;
  std::vector<std::string> redecided_fields;
  // Apply over the history, from an empty case.
  pathway::store::v1::CaseState rebuilt;

  bool diverged() const { return history_differs || redecided_differs; }
};

// Checks the stored case of `subject_key` (`stored`) against its history (`history`,
// opened, in order) at `now`, under `settings` (the engine's).
CaseCheck CheckCase(const std::string& subject_key, const pathway::store::v1::CaseState& stored,
                    const std::vector<pathway::v1::Envelope>& history, TimePoint now,
                    const StepSettings& settings);

// The paths of the fields in which `a` and `b` (of one type) differ, in field order, at
// most `max`; repeated fields by index ("pathways[1].state").
std::vector<std::string> FieldDifferences(const google::protobuf::Message& a,
                                          const google::protobuf::Message& b,
                                          size_t max = kMaxReportedDifferences);

}  // namespace pathway::workflow
