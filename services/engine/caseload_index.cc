#include "services/engine/caseload_index.h"

#include <utility>
#include <vector>

#include "workflow/caseload.h"

namespace pathway::engine {

state::CaseIndexer CaseloadIndexer() {
  state::CaseIndexer indexer;
  indexer.version = workflow::kCaseloadIndexVersion;
  indexer.entries = [](std::string_view subject_key, const pathway::store::v1::CaseState& state) {
    std::vector<state::IndexEntry> out;
    for (auto& [key, value] : workflow::CaseloadIndex(subject_key, state)) {
      out.push_back(state::IndexEntry{std::move(key), std::move(value)});
    }
    return out;
  };
  return indexer;
}

}  // namespace pathway::engine
