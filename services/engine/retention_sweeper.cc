#include "services/engine/retention_sweeper.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <vector>

#include "common/log.h"
#include "services/engine/engine_day.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"
#include "workflow/history_retention.h"
#include "workflow/workflow.h"

namespace pathway::engine {

bool RetentionSweeper::Pass::Due(uint32_t today) {
  if (running) return true;
  if (finished_day == today) return false;
  running = true;
  next.clear();
  read = changed = dated = 0;
  return true;
}

bool RetentionSweeper::Pass::Finish(uint32_t today) {
  if (!next.empty()) return false;
  running = false;
  finished_day = today;
  return true;
}

Status RetentionSweeper::Run() {
  const EngineOptions& options = context_.options;
  if (options.retention_batch == 0) return {};
  const uint32_t today = EngineDay(time_.Now());
  for (int32_t partition : context_.owned) {
    state::CaseStore* store = context_.stores.Find(partition);
    if (!store) continue;
    Passes& passes = passes_[partition];
    if (options.dedupe_retention_days > 0 && passes.dedupe.Due(today)) {
      if (auto s = DedupeSlice(partition, *store, passes.dedupe, today); !s) return s;
    }
    if (options.closed_history_retention_days > 0 && passes.cases.Due(today)) {
      if (auto s = CasesSlice(partition, *store, passes.cases, today); !s) return s;
    }
  }
  return {};
}

Status RetentionSweeper::DedupeSlice(int32_t partition, state::CaseStore& store, Pass& pass,
                                     uint32_t today) {
  const auto window = static_cast<uint32_t>(context_.options.dedupe_retention_days);
  state::DedupePrune slice;
  // Before the window could have passed nothing is due (and the subtraction would wrap).
  slice.expire_before = today > window ? today - window : 0;
  slice.today = today;
  slice.after = pass.next;
  slice.max_read = context_.options.retention_batch;
  auto pruned = store.PruneDedupe(slice);
  if (!pruned) return pruned.error();
  pass.read += pruned->read;
  pass.changed += pruned->deleted;
  pass.dated += pruned->dated;
  context_.stats.dedupe_expired += pruned->deleted;
  pass.next = std::move(pruned->next);
  if (pass.Finish(today)) {
    log::Info("dedupe_retention_pass", {{"partition", std::to_string(partition)},
                                        {"read", std::to_string(pass.read)},
                                        {"deleted", std::to_string(pass.changed)},
                                        {"dated", std::to_string(pass.dated)}});
  }
  return {};
}

Status RetentionSweeper::CasesSlice(int32_t partition, state::CaseStore& store, Pass& pass,
                                    uint32_t today) {
  const EngineOptions& options = context_.options;
  // A case costs a read and an unseal (a dedupe entry neither): fewer per slice.
  const size_t max = std::max<size_t>(1, options.retention_batch / 10);
  auto keys = store.CaseKeysAfter(pass.next, max);
  if (!keys) return keys.error();
  const workflow::CivilDate day{std::chrono::sys_days{std::chrono::days{today}}};
  const TimePoint now = time_.Now();
  std::vector<state::Batch> trims;
  for (const auto& subject : *keys) {
    ++pass.read;
    auto loaded = store.LoadCase(subject);
    // An erased case's state opens (it is written unsealed); any other error is the
    // store's and stops the Step like any read.
    if (!loaded) return loaded.error();
    if (!*loaded) continue;
    const auto& state = **loaded;
    // Cheap test first: most cases are open, and an open case's history is not read.
    const auto closed = workflow::ClosedOn(state);
    if (!closed ||
        std::chrono::sys_days{*closed} + std::chrono::days{options.closed_history_retention_days} >
            std::chrono::sys_days{day}) {
      continue;
    }
    auto history = store.HistoryFrom(subject, state.history_kept_from());
    if (!history) return history.error();
    workflow::KeepHeld(*history, state);
    auto entry = workflow::TrimHistory(subject, state, *history, day,
                                       options.closed_history_retention_days, now);
    if (!entry) continue;
    state::Batch batch;
    batch.subject_key = subject;
    batch.partition = partition;
    batch.history_start = state.history_length();
    batch.history_drop_before = state.history_length();
    pathway::store::v1::CaseState trimmed = state;
    workflow::Apply(trimmed, *entry);
    batch.new_state = std::move(trimmed);
    batch.history.push_back(std::move(*entry));
    trims.push_back(std::move(batch));
  }
  if (!trims.empty()) {
    if (auto s = store.Commit(std::span<const state::Batch>(trims)); !s) return s;
    pass.changed += trims.size();
    context_.stats.histories_trimmed += trims.size();
  }
  pass.next = keys->size() < max ? std::string() : keys->back();
  if (pass.Finish(today)) {
    log::Info("history_retention_pass", {{"partition", std::to_string(partition)},
                                         {"cases", std::to_string(pass.read)},
                                         {"trimmed", std::to_string(pass.changed)}});
  }
  return {};
}

}  // namespace pathway::engine
