// LandingPurger: after an erasure, deletes the landing topics' processed records,
// which hold what partners sent in clear. Private to the engine.
//
// A partition of pathway.commands.v1 is marked when a subject on it is erased (the
// command stage) or when a store taken over still carries the store's purge mark (the
// partition restorer). Once every output of the partition (changelog records
// included) is confirmed, Run deletes the partition's processed records of
// pathway.commands.v1 (below the store's consumed offset) and every partition's of
// pathway.inbound.v1 (below the intake group's committed offsets), then clears the
// store's mark. A failure is never fatal: it is logged (purge_failed), counted
// (EngineStats::purge_failures) and retried after a doubling pause (purge_backoff_min
// up to purge_backoff_max) until it succeeds. A partition that moved away is
// forgotten: its new owner restores the mark and purges.
//
// Ownership: references the context and both group consumers, which must outlive it.
// Thread safety: Mark, Run and pending on the engine thread only; Describe from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/result.h"
#include "services/bus/event_bus.h"
#include "services/engine/doubling_pause.h"
#include "services/engine/stage_context.h"

namespace pathway::engine {

class LandingPurger {
 public:
  LandingPurger(StageContext& context, bus::Consumer& intake, bus::Consumer& processor)
      : context_(context), intake_(intake), processor_(processor) {}

  // `partition`'s landing records are to be deleted.
  void Mark(int32_t partition) { pending_.try_emplace(partition); }
  // Tries every marked partition whose outbox is empty and whose pause has passed.
  void Run();
  // Partitions still marked.
  size_t pending() const { return pending_.size(); }
  // What is pending and why ("" if nothing), as of the last Run. Any thread.
  std::string Describe() const;

 private:
  Status Purge(int32_t partition, state::CaseStore& store);

  struct Retry {
    DoublingPause pause;  // purge_backoff_min, doubling
    std::string last_error;
  };
  StageContext& context_;
  bus::Consumer& intake_;
  bus::Consumer& processor_;
  std::map<int32_t, Retry> pending_;
  mutable std::mutex status_mu_;
  std::string status_;  // Describe(), written on the engine thread
};

}  // namespace pathway::engine
