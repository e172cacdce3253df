// StageContext: what the stages of one Engine share. Private to the engine.
//
// Ownership: the Engine owns the options, the counters and the set of owned
// partitions this refers to, and the context itself; each stage keeps a reference
// and must not outlive the Engine. Not thread-safe: every stage runs on the engine
// thread. Errors: `fatal` holds a failure found where no caller could be told (a
// rebalance callback, an aborted transaction); once set, Step and Drain return it and
// the process restarts from RocksDB and the committed offsets.
#pragma once

#include <cstdint>
#include <set>

#include "common/result.h"
#include "services/engine/engine_options.h"
#include "state/store_set.h"

namespace pathway::engine {

struct StageContext {
  const EngineOptions& options;
  state::StoreSet& stores;
  EngineStats& stats;
  // Partitions of pathway.commands.v1 this instance owns (restored and processing);
  // only the Engine changes it, on assignment and revocation.
  const std::set<int32_t>& owned;
  Status fatal;
};

}  // namespace pathway::engine
