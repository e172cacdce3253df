// RetentionSweeper: keeps the engine's own bookkeeping within its retention windows
// (docs/operations.md, "Retention of the engine's bookkeeping"). Private to the engine.
//
// Once a day of the engine's clock (its processing date: the windows are about
// re-delivery and storage, not statutory clocks), two passes run over each owned
// partition:
// - dedupe: entries made more than EngineOptions::dedupe_retention_days ago are deleted
//   (with their changelog records); entries with no day are dated today;
// - closed cases: a case closed for closed_history_retention_days (and untouched for
//   as long) has its history replaced by one HistoryTrimmed entry
//   (workflow/history_retention.h), committed like any change of the case.
// Each pass is cut into slices (retention_batch dedupe entries, a tenth as many cases),
// one slice per partition per Step, so millions of entries never stall the commands; a
// pass cut short by a revocation or a restart starts again (both are idempotent).
//
// Ownership: references the context and clock, which must outlive it. Not
// thread-safe: engine thread only. Errors: the store's (a failed write leaves the store
// as it was; Run returns the error and the Step fails, as for any write).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "common/time_source.h"
#include "services/engine/stage_context.h"
#include "state/case_store.h"

namespace pathway::engine {

class RetentionSweeper {
 public:
  RetentionSweeper(StageContext& context, const TimeSource& time)
      : context_(context), time_(time) {}

  // One slice of each pass due for each owned partition.
  Status Run();
  // Forgets a partition that moved away (its new owner sweeps it).
  void Revoked(int32_t partition) { passes_.erase(partition); }

 private:
  struct Pass {
    uint32_t finished_day = 0;  // the day of the last finished pass
    bool running = false;
    std::string next;   // where the next slice starts
    uint64_t read = 0;  // counted over the running pass, for its log line
    uint64_t changed = 0;
    uint64_t dated = 0;
    // Starts a pass if none runs and today's has not finished; false: nothing to do.
    bool Due(uint32_t today);
    // Ends the slice: the pass is finished when `next` is empty.
    bool Finish(uint32_t today);
  };
  struct Passes {
    Pass dedupe;
    Pass cases;
  };
  Status DedupeSlice(int32_t partition, state::CaseStore& store, Pass& pass, uint32_t today);
  Status CasesSlice(int32_t partition, state::CaseStore& store, Pass& pass, uint32_t today);

  StageContext& context_;
  const TimeSource& time_;
  std::map<int32_t, Passes> passes_;
};

}  // namespace pathway::engine
