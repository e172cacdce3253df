// Re-drive (docs/operations.md, "redrive"): what a case would be had some of its kept
// commands never been sent (a partner's bad week left out), or had its commands been
// decided by this version of the rules, computed with the engine's own re-decision
// (RedecideFromLog) and reported as the differences a CaseCorrected would carry.
//
// What is re-decided is what a late command re-decides: referrals, pathways (states,
// deadlines, steps) and refusals, from the pathway commands the case kept. Who the case
// is and its shared record are decided as commands arrive (decision 82) and are not
// kept for re-decision: they stay as they are, whoever sent them.
//
// Pure and deterministic; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"

namespace pathway::workflow {

// Which kept commands to leave out. A command is left out when it came from
// `source_system` (Envelope.source.system) and was recorded by the engine (its
// arrival) on a day in [from, to] (London dates; an open end when unset). Empty
// `source_system`: nothing is left out (the case is re-decided as it is).
struct RedriveFilter {
  std::string source_system;
  std::optional<CivilDate> from;
  std::optional<CivilDate> to;
  // Set: only the commands of this pathway instance are left out (its pathway and
  // reference); the rest of the case keeps every command. Empty: every pathway's.
  std::string instance_id;
  bool Excludes(const pathway::v1::Envelope& recorded, const pathway::v1::Envelope& command) const;

  // What is wrong with a window given as text (`pathwayctl redrive`'s flags, the
  // gateway's re-drive scope); the caller words it in its own terms.
  enum class Fault { kDatesWithoutSource, kFrom, kTo, kToBeforeFrom };
  // Sets `source_system` and the window from `from` and `to` (YYYY-MM-DD; "" for an
  // open end); dates narrow a source, so they need one. On a fault the filter is not
  // to be used.
  std::optional<Fault> SetWindow(std::string source, std::string_view from, std::string_view to);
  // "without SYSTEM from DATE to DATE" ("the start", "now" for open ends); "" when
  // nothing is left out. How audit records and reports name what was left out.
  std::string Describe() const;
};

struct RedrivePlan {
  bool erased = false;                  // nothing to re-drive
  std::vector<std::string> excluded;    // event ids of the kept commands left out
  bool changes = false;                 // the re-decided case differs from the stored one
  pathway::v1::CaseCorrected diff;      // deadlines, steps and refusals that change
  std::vector<std::string> fields;      // the fields that change (paths, never values)
  pathway::store::v1::CaseState after;  // the re-decided case (timers due by `now` fired)
};

// The plan for the case of `subject_key` (`stored`, its opened `history`) at `now`.
RedrivePlan PlanRedrive(const std::string& subject_key, const pathway::store::v1::CaseState& stored,
                        const std::vector<pathway::v1::Envelope>& history,
                        const RedriveFilter& filter, TimePoint now, const StepSettings& settings);

// Migration (docs/operations.md, "migrate"): what moving a case's instances of one
// pathway from one definition version to another would do, computed with the engine's
// own decision of a CaseMigrateRequested (PlanMigration).
struct MigratePlan {
  bool erased = false;                       // nothing to migrate
  std::vector<InstanceMigration> instances;  // each instance in scope: moved or why not
  size_t moved = 0;                          // how many move
  bool changes = false;                      // a move changes deadlines, steps or refusals
  pathway::v1::CaseCorrected diff;           // what changes
  std::vector<std::string> fields;           // the fields that change (paths, never values)
  pathway::store::v1::CaseState after;       // the migrated case (timers due by `now` fired)
};

// The plan for the case of `subject_key` (`stored`, its opened `history`) at `now`.
MigratePlan PlanMigrate(const std::string& subject_key, const pathway::store::v1::CaseState& stored,
                        const std::vector<pathway::v1::Envelope>& history,
                        const MigrationRequest& request, TimePoint now,
                        const StepSettings& settings);

}  // namespace pathway::workflow
