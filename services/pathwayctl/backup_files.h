// The files of a backup (pathwayctl backup and restore; docs/operations.md, "Backup and
// restore"):
//
//   BACKUP/manifest.json          the BackupManifest, written last: without it the
//                                 directory is not a backup, whatever else it holds
//   BACKUP/BACKUP-INCOMPLETE      while a backup is being written (its id, source and
//                                 key checks, as a BackupManifest without partitions)
//   BACKUP/partition-<n>.json     a partition copied whole (a BackupPartition), so that
//                                 an interrupted backup goes on where it stopped
//   BACKUP/state/partition-<n>/   the partition's store (state::CaseStore::CopyTo), the
//                                 layout of an engine's data directory
//
// No key is ever written here: the manifest holds checks that tell which keys the
// stores were sealed and keyed under, never the keys.
//
// Functions only; thread-safe.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"

namespace pathway::ctl {

inline constexpr uint32_t kBackupFormat = 1;
inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kBackupIncompleteFile = "BACKUP-INCOMPLETE";
// The labels of BackupManifest's key checks.
inline constexpr std::string_view kKekCheckLabel = "pathway.backup.key-encryption-key.v1";
inline constexpr std::string_view kSubjectKeyCheckLabel = "pathway.backup.subject-key.v1";

// Hex HMAC-SHA256 of `label` under `secret`: tells whether two secrets are the same
// without holding either.
std::string KeyCheck(std::string_view secret, std::string_view label);

// BACKUP/state/partition-<n>.
std::string BackupStoreDir(const std::string& backup, int32_t partition);
// BACKUP/partition-<n>.json.
std::string BackupPartitionFile(const std::string& backup, int32_t partition);

// Writes `text` to `path` so that a crash leaves the old file or the new one, never
// part of it: a temporary file beside it, synced, renamed over it, the directory synced.
Status WriteFileDurably(const std::string& path, std::string_view text);
// `message` in protobuf's JSON mapping (field names as in the .proto), durably.
Status WriteJsonFile(const std::string& path, const google::protobuf::Message& message);
// Reads what WriteJsonFile wrote; an error names the file and what is wrong with it
// (missing, not JSON, unknown fields).
Status ReadJsonFile(const std::string& path, google::protobuf::Message& message);
// Syncs the directory `dir` (a rename or a removal in it is then durable).
Status SyncDirectory(const std::string& dir);

google::protobuf::Timestamp ToTimestamp(TimePoint at);
// "2025-03-10T09:30:00Z" (RFC 3339, UTC).
std::string TimestampText(const google::protobuf::Timestamp& t);

// The manifest of the backup in `backup`: kInvalidArgument-like errors whose message
// says whether the directory holds no backup, an interrupted one, or a manifest that
// does not read or is of another format.
Result<pathway::store::v1::BackupManifest> ReadManifest(const std::string& backup);

}  // namespace pathway::ctl
