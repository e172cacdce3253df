// The caseload index every engine store keeps (state::StoreOptions::indexer): the
// entries of workflow::CaseloadIndex, read by the query endpoint's caseload route
// (query_service.h). Thread-safe.
#pragma once

#include "state/case_store.h"

namespace pathway::engine {

state::CaseIndexer CaseloadIndexer();

}  // namespace pathway::engine
