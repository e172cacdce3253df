// What pathwayctl restore reads from Kafka and does to the restored stores
// (docs/operations.md, "Backup and restore"):
//
// - each restored partition's changelog (pathway.engine.cases.changelog), to tell what
//   the engine will do with the restored store when it is assigned the partition
//   (Continues, which follows engine::PartitionRestorer::TakeOver step by step), and
//   which children were erased after the backup (their data key's erasure mark, and
//   the ErasureCompleted kept in their history);
// - ErasureCompleted events on pathway.events.v1, for partitions whose changelog will
//   not replace the backup;
// - whether pathway.commands.v1 still holds the commands the engine will process again
//   from the backup's offset;
// - and erases a child in a restored store the way the engine does.
//
// Reads are bounded: each partition from its start to the end it had when asked, so a
// running cluster cannot keep a restore reading. Each read takes a consumer of its own
// from `Consumers` (no group; Kafka in the tool, the memory bus in tests): a consumer
// assigned a partition again may still return messages and positions of the earlier
// assignment.
// Not thread-safe: one restore, one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/event_bus.h"
#include "state/case_store.h"

namespace pathway::ctl {

// Children erased after a backup: hex subject key -> the ErasureCompleted event, where
// one was found (else only the data key's erasure mark).
using Erasures = std::map<std::string, std::optional<pathway::v1::Envelope>>;

// What a changelog partition holds, as far as a restored store is concerned.
struct ChangelogFacts {
  bool exists = false;  // the topic has this partition
  int64_t start = 0;    // log start and end offsets when read
  int64_t end = 0;
  // The first record is a fence or sits at offset 0: the engine takes the partition for
  // whole (a compacted changelog keeps its first fence for ever).
  bool complete = false;
  // The record at the backup's fence offset is the backup's fence (same owner).
  bool holds_fence = false;
  // A fence of another owner where the engine will read from the backup's fence on:
  // someone owned the partition after the backup was taken.
  bool other_owner = false;
};

// What the engine does with a restored partition store when it is assigned it.
enum class Continuation {
  // It rebuilds the store from the changelog, which holds everything the backup holds
  // and what came after (restore forgets the store's local fence so that it does).
  kChangelog,
  // It keeps the restored store and processes pathway.commands.v1 from the backup's
  // offset: the changelog was lost (emptied, recreated) and nobody fenced it since.
  kBackup,
  // It rebuilds the store from pathway.commands.v1 from its start (the changelog lost
  // its start and another owner fenced it after the backup): the backup is not used.
  kCommands,
};
std::string_view ContinuationName(Continuation c);  // "changelog", "backup", "commands"

// The engine's decision (PartitionRestorer::TakeOver) for a store restored from
// `backup` when the changelog partition is as `facts` says.
Continuation Continues(const pathway::store::v1::BackupPartition& backup,
                       const ChangelogFacts& facts);

// Makes a consumer outside any group.
using Consumers = std::function<Result<std::unique_ptr<bus::Consumer>>()>;

struct ReadLimits {
  // A read that gets no message and does not reach its end for this long fails.
  std::chrono::milliseconds idle = std::chrono::seconds(30);
  // Asked between messages; true stops the read (std::errc::operation_canceled).
  std::function<bool()> stop;
  // Told of every message read (progress).
  std::function<void()> on_message;
};

struct ChangelogRead {
  ChangelogFacts facts;
  Erasures erasures;  // found from the backup's fence on (from the start without one)
  uint64_t records = 0;
};
// Reads changelog partition `partition` from the backup's fence (or, when the engine
// would not find it there, from where the engine would read) to its end.
Result<ChangelogRead> ReadChangelog(const Consumers& consumers,
                                    const pathway::store::v1::BackupPartition& backup,
                                    const ReadLimits& limits);

// Every ErasureCompleted on pathway.events.v1, by the partition of pathway.commands.v1
// its child belongs to (of `command_partitions`).
Result<std::map<int32_t, Erasures>> ReadErasureEvents(const Consumers& consumers,
                                                      int32_t command_partitions,
                                                      const ReadLimits& limits,
                                                      uint64_t* events_read = nullptr);

// What pathway.commands.v1 holds of a partition, against the backup's offset.
struct CommandsFacts {
  int64_t next = -1;  // the backup's next offset (-1: none; the engine starts at the start)
  int64_t start = 0;  // the partition's log start and end
  int64_t end = 0;
  // Offsets from `next` that are gone (deleted after an erasure or by retention): the
  // engine cannot process those commands again.
  int64_t missing() const { return next >= 0 && start > next ? start - next : 0; }
  // Commands the engine processes again when it keeps the backup.
  int64_t again() const { return end > std::max(next, start) ? end - std::max(next, start) : 0; }
};
Result<CommandsFacts> ReadCommandsFacts(bus::Consumer& consumer, int32_t partition, int64_t next,
                                        std::chrono::milliseconds timeout);

// Erases `subject_key` (hex) in `store` as the engine does: its data key destroyed
// (an erasure mark in its place), its history deleted but for the erasure event, an
// erased mark for its case, its deadline timers removed; with `event`, the case folds
// it (workflow::Apply) and keeps it in its history. Writes nothing to a changelog.
// Returns false, changing nothing, if the subject is erased already.
Result<bool> EraseSubject(state::CaseStore& store, int32_t partition,
                          const std::string& subject_key,
                          const std::optional<pathway::v1::Envelope>& event);

}  // namespace pathway::ctl
