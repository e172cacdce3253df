// GroupCommit: the commands (or fired timers) of one partition decided in one Step,
// committed to its CaseStore in ONE atomic write (state::CaseStore::Commit of many
// batches) instead of one write per command.
//
// Reads go through it: a child's second command in the group is decided on the state,
// history and dedupe entries its first one left, exactly as if each had been committed
// alone. Nothing staged is visible to anyone else (nor sent) until Flush; a crash
// before Flush loses the group, and the commands are processed again from the offset
// the store last committed.
//
// Not thread-safe; the store must outlive the group.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "state/case_store.h"

namespace pathway::engine {

class GroupCommit {
 public:
  explicit GroupCommit(state::CaseStore& store) : store_(store) {}

  state::CaseStore& store() { return store_; }

  // CaseStore's reads, with what is staged on top.
  Result<std::optional<std::string>> SeenEvent(const std::string& dedupe_id);
  Result<std::optional<pathway::store::v1::CaseState>> LoadCase(const std::string& subject_key);
  // The history from sequence `from` on (CaseState.history_kept_from: where a trimmed
  // history starts).
  Result<std::vector<pathway::v1::Envelope>> History(const std::string& subject_key,
                                                     uint64_t from = 0);

  // Stages `batch`. An erasure is not grouped: what is staged is committed first, then
  // the erasure alone (it rewrites the subject's files). Errors are the store's.
  Status Add(state::Batch batch);
  // Commits everything staged in one write; afterwards the group is empty.
  Status Flush();

  size_t size() const { return batches_.size(); }
  // About how many outbox entries (outputs and changelog records) Flush will queue.
  size_t StagedOutboxEntries() const { return staged_entries_; }

 private:
  struct StagedHistory {
    uint64_t start = 0;  // sequence of events[0]
    std::vector<pathway::v1::Envelope> events;
  };

  state::CaseStore& store_;
  std::vector<state::Batch> batches_;
  std::map<std::string, std::string, std::less<>> seen_;  // dedupe id -> digest
  std::map<std::string, pathway::store::v1::CaseState, std::less<>> states_;
  std::map<std::string, StagedHistory, std::less<>> histories_;
  size_t staged_entries_ = 0;
};

}  // namespace pathway::engine
