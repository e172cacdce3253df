#include "state/store_set.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

namespace pathway::state {

StoreSet::StoreSet(std::string dir, std::string changelog_topic, std::string kek,
                   const MemoryBudget& memory, CaseIndexer indexer)
    : dir_(std::move(dir)),
      changelog_topic_(std::move(changelog_topic)),
      kek_(std::move(kek)),
      memory_(SharedMemory::Make(memory)),
      indexer_(std::move(indexer)) {}

std::string StoreSet::PartitionDir(int32_t partition) const {
  return dir_ + "/partition-" + std::to_string(partition);
}

Result<CaseStore*> StoreSet::Open(int32_t partition) {
  if (auto it = open_.find(partition); it != open_.end()) return it->second.get();
  std::error_code ec;
  if (const std::string mark = dir_ + "/" + std::string(kRestoreMark);
      std::filesystem::exists(mark, ec)) {
    return Error{make_error_code(errc::kIncompatible),
                 mark +
                     ": a pathwayctl restore into this directory has not finished; run it "
                     "again to finish it"};
  }
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error{make_error_code(errc::kIo), "create " + dir_ + ": " + ec.message()};
  auto store = CaseStore::Open(PartitionDir(partition),
                               StoreOptions{changelog_topic_, partition, kek_, memory_, indexer_});
  if (!store) return store.error();
  CaseStore* raw = store->get();
  open_[partition] = std::move(*store);
  return raw;
}

CaseStore* StoreSet::Find(int32_t partition) const {
  auto it = open_.find(partition);
  return it == open_.end() ? nullptr : it->second.get();
}

void StoreSet::Close(int32_t partition) { open_.erase(partition); }

Status StoreSet::Wipe(int32_t partition) {
  Close(partition);
  std::error_code ec;
  std::filesystem::remove_all(PartitionDir(partition), ec);
  if (ec) {
    return Error{make_error_code(errc::kIo),
                 "remove " + PartitionDir(partition) + ": " + ec.message()};
  }
  return {};
}

bool StoreSet::ExistsOnDisk(int32_t partition) const {
  std::error_code ec;
  return std::filesystem::exists(PartitionDir(partition), ec);
}

std::vector<int32_t> StoreSet::OpenPartitions() const {
  std::vector<int32_t> out;
  for (const auto& [p, store] : open_) out.push_back(p);
  return out;
}

Result<std::vector<int32_t>> StoreSet::PartitionsOnDisk() const {
  std::vector<int32_t> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    constexpr std::string_view kPrefix = "partition-";
    if (!entry.is_directory() || !name.starts_with(kPrefix)) continue;
    int32_t partition = 0;
    const char* first = name.data() + kPrefix.size();
    const char* last = name.data() + name.size();
    auto [end, err] = std::from_chars(first, last, partition);
    if (err == std::errc() && end == last) out.push_back(partition);
  }
  if (ec) return Error{make_error_code(errc::kIo), "list " + dir_ + ": " + ec.message()};
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pathway::state
