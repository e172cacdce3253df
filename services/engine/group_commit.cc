#include "services/engine/group_commit.h"

#include <utility>

namespace pathway::engine {

Result<std::optional<std::string>> GroupCommit::SeenEvent(const std::string& dedupe_id) {
  if (auto it = seen_.find(dedupe_id); it != seen_.end()) return std::optional(it->second);
  return store_.SeenEvent(dedupe_id);
}

Result<std::optional<pathway::store::v1::CaseState>> GroupCommit::LoadCase(
    const std::string& subject_key) {
  if (auto it = states_.find(subject_key); it != states_.end()) return std::optional(it->second);
  return store_.LoadCase(subject_key);
}

Result<std::vector<pathway::v1::Envelope>> GroupCommit::History(const std::string& subject_key,
                                                                uint64_t from) {
  auto stored = store_.HistoryFrom(subject_key, from);
  if (!stored) return stored.error();
  auto it = histories_.find(subject_key);
  if (it == histories_.end()) return stored;
  // The staged events continue the stored history where the first staged batch began
  // (a sequence; the stored entries start at `from`).
  const uint64_t start = it->second.start;
  if (from + stored->size() > start) stored->resize(start > from ? start - from : 0);
  for (const auto& e : it->second.events) stored->push_back(e);
  return stored;
}

Status GroupCommit::Add(state::Batch batch) {
  if (batch.erase_subject) {
    if (auto s = Flush(); !s) return s;
    return store_.Commit(batch);
  }
  if (!batch.dedupe_event_id.empty()) seen_[batch.dedupe_event_id] = batch.dedupe_digest;
  if (batch.new_state) states_[batch.subject_key] = *batch.new_state;
  if (!batch.history.empty()) {
    auto [it, inserted] = histories_.try_emplace(batch.subject_key);
    StagedHistory& staged = it->second;
    if (inserted) staged.start = batch.history_start;
    // A batch writes its events from history_start on, over anything staged there.
    if (batch.history_start < staged.start) {
      staged.events.clear();
      staged.start = batch.history_start;
    }
    staged.events.resize(batch.history_start - staged.start);
    for (const auto& e : batch.history) staged.events.push_back(e);
  }
  // Each output (not mirrored, decision 107), history entry, timer, case state, dedupe
  // entry and offset once.
  staged_entries_ += batch.outbox.size() + batch.history.size() + batch.timers_add.size() +
                     batch.timers_remove.size() + 3;
  batches_.push_back(std::move(batch));
  return {};
}

Status GroupCommit::Flush() {
  if (batches_.empty()) return {};
  Status s = store_.Commit(std::span<const state::Batch>(batches_));
  batches_.clear();
  seen_.clear();
  states_.clear();
  histories_.clear();
  staged_entries_ = 0;
  return s;
}

}  // namespace pathway::engine
