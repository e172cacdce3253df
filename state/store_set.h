// StoreSet: one CaseStore per partition of pathway.commands.v1, as Kafka Streams keeps
// one store per task. A partition's store lives in <dir>/partition-<n> and mirrors
// itself to partition <n> of the changelog topic, so the partition can move between
// engine instances: a new owner rebuilds the store from the changelog, and a stale
// copy can be thrown away whole (Wipe) without touching the other partitions.
//
// Not thread-safe: one thread opens, closes and wipes. The CaseStore pointers stay
// valid until that partition is closed or wiped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "state/case_store.h"

namespace pathway::state {

class StoreSet {
 public:
  // `changelog_topic` empty: stores without a changelog (a single-instance setup).
  // `kek`: StoreOptions::kek of every store (32 bytes, or empty for clear values).
  // Every store shares one block cache and one write-buffer budget (`memory`), and
  // keeps the index `indexer` derives (StoreOptions::indexer; none by default).
  StoreSet(std::string dir, std::string changelog_topic, std::string kek = {},
           const MemoryBudget& memory = {}, CaseIndexer indexer = {});

  // A restore (pathwayctl restore) writes a data directory's stores with this file in
  // `dir` and removes it once every store is whole. While it is there Open refuses every
  // partition (kIncompatible, naming the file), so an engine started too early stops
  // instead of running on half a restore.
  static constexpr std::string_view kRestoreMark = "RESTORE-INCOMPLETE";

  // The open store of `partition`, opening (and creating) it if needed.
  Result<CaseStore*> Open(int32_t partition);
  // The open store of `partition`, or nullptr.
  CaseStore* Find(int32_t partition) const;
  // Closes the store; its files stay for a later Open.
  void Close(int32_t partition);
  // Closes the store and deletes its files.
  Status Wipe(int32_t partition);
  // Whether `partition` has a store on disk (open or not).
  bool ExistsOnDisk(int32_t partition) const;
  // Partitions with an open store, ascending.
  std::vector<int32_t> OpenPartitions() const;
  // Partitions with a store on disk (open or not), ascending.
  Result<std::vector<int32_t>> PartitionsOnDisk() const;

  const std::string& dir() const { return dir_; }
  const std::string& changelog_topic() const { return changelog_topic_; }
  std::string PartitionDir(int32_t partition) const;

 private:
  std::string dir_;
  std::string changelog_topic_;
  std::string kek_;
  std::shared_ptr<SharedMemory> memory_;
  CaseIndexer indexer_;
  std::map<int32_t, std::unique_ptr<CaseStore>> open_;
};

}  // namespace pathway::state
