// pathwayctl backup: a copy of every partition store of an engine's data directory, each
// one point in time, read while the engine runs (docs/operations.md, "Backup and
// restore"). Audited; resumable; the manifest is written last.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/pathwayctl/backup_files.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/progress.h"
#include "services/topics.h"

namespace pathway::ctl {
namespace {
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "backup";
constexpr int kExitInterrupted = 130;

constexpr std::string_view kUsage =
    "usage: pathwayctl backup --data-dir DIR --out BACKUP --operator ID --reason TEXT\n"
    "                         [--json] [flags]\n"
    "\n"
    "Copies every partition store of the engine's data directory into BACKUP, a new\n"
    "directory: every column family (cases, histories, data keys as the KEK wraps them,\n"
    "dedupe entries, outbox, consumed offsets, timers, the caseload index, the store's\n"
    "fence and sequences), each partition as of one point in time, read while the engine\n"
    "runs. BACKUP/manifest.json, written last, names the partitions with their counts,\n"
    "digests, consumed offsets and fences. The keys are not copied: keep the engine's\n"
    "key-encryption key and subject key in your secret store; restore needs both.\n"
    "Audited on pathway.audit.v1 before it reads anything.\n"
    "Exit 0: written; 130: interrupted (Ctrl-C): run the same command again to finish;\n"
    "1: failure; 2: bad usage.\n"
    "\n"
    "  --out BACKUP                   the backup directory (must not exist, or be a\n"
    "                                 backup of DIR that did not finish)\n"
    "  --json                         one JSON document on stdout\n";

std::string PartitionJson(const store::BackupPartition& p) {
  std::vector<std::string> families;
  for (const auto& f : p.families()) {
    families.push_back(
        Json().Str("name", f.name()).Num("records", static_cast<int64_t>(f.records())).Done());
  }
  return Json()
      .Num("partition", p.partition())
      .Str("taken_at", TimestampText(p.taken_at()))
      .Num("records", static_cast<int64_t>(p.records()))
      .Field("families", Array(families))
      .Str("digest", p.digest())
      .Num("commands_next_offset", p.commands_next_offset())
      .Num("fence_offset", p.fence_offset())
      .Done();
}

uint64_t FamilyCount(const store::BackupPartition& p, std::string_view name) {
  for (const auto& f : p.families()) {
    if (f.name() == name) return f.records();
  }
  return 0;
}

}  // namespace

int RunBackup(std::span<char* const> args) {
  bool json = false, help = false;
  std::string out;
  EngineDataFlags data_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--out", true, Store(out)},
      {"--json", false, Set(json, true)},
      {"--help", false, Set(help, true)},
  };
  data_flags.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    std::fwrite(kEngineDataFlagsHelp.data(), 1, kEngineDataFlagsHelp.size(), stdout);
    std::fwrite(kOperatorFlagsHelp.data(), 1, kOperatorFlagsHelp.size(), stdout);
    std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
    return kExitOk;
  }
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (out.empty()) return UsageError(kCmd, "--out is required");
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  auto data = EngineData::Load(data_flags);
  if (!data) {
    PrintErr(kCmd, data.error().detail);
    return kExitFailure;
  }

  // A new directory, or one this command left unfinished for the same data directory.
  std::error_code ec;
  const std::string incomplete_path = out + "/" + std::string(kBackupIncompleteFile);
  store::BackupManifest manifest;
  bool resuming = false;
  if (std::filesystem::exists(out + "/" + std::string(kManifestFile), ec)) {
    PrintErr(kCmd, out + " holds a finished backup: write a new one into a new directory");
    return kExitFailure;
  }
  if (std::filesystem::exists(incomplete_path, ec)) {
    if (Status s = ReadJsonFile(incomplete_path, manifest); !s) {
      PrintErr(kCmd, s.error().detail);
      return kExitFailure;
    }
    manifest.clear_partitions();  // those copied are in partition-<n>.json
    if (manifest.source() != data->data_dir ||
        manifest.key_encryption_key_check() != KeyCheck(data->kek, kKekCheckLabel)) {
      PrintErr(kCmd, out + " holds an unfinished backup of " + manifest.source() + ", not of " +
                         data->data_dir + ": use a new directory");
      return kExitFailure;
    }
    resuming = true;
  } else if (std::filesystem::exists(out, ec) && !std::filesystem::is_empty(out, ec)) {
    PrintErr(kCmd, out + " is not empty: a backup goes into a new directory");
    return kExitFailure;
  }

  // No record, no action.
  RealTimeSource clock;
  auto run = StartAudited(kCmd, kafka.config, who, {"backup", "all", false}, data->kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) std::fprintf(stderr, "backup: operation %s\n", audit->id().c_str());

  uint64_t partitions_done = 0, records = 0, cases = 0;
  const auto counts = [&] {
    return Counts{{"partitions", partitions_done}, {"records", records}, {"cases", cases}};
  };
  const auto fail = [&](const std::string& message) {
    PrintErr(kCmd, message);
    (void)audit->Fail(message, counts());
    return kExitFailure;
  };

  if (!resuming) {
    auto id = RandomBytes(16);
    if (!id) return fail(id.error().ToString());
    manifest.set_format(kBackupFormat);
    manifest.set_backup_id(HexEncode(*id));
    *manifest.mutable_started_at() = ToTimestamp(clock.Now());
    manifest.set_source(data->data_dir);
    manifest.set_key_encryption_key_check(KeyCheck(data->kek, kKekCheckLabel));
    manifest.set_subject_key_check(KeyCheck(data->subject_secret, kSubjectKeyCheckLabel));
    std::filesystem::create_directories(out + "/state", ec);
    if (ec) return fail("cannot create " + out + "/state: " + ec.message());
    ::chmod(out.c_str(), 0700);  // sealed data and wrapped keys: the operations group only
    if (Status s = WriteJsonFile(incomplete_path, manifest); !s) return fail(s.error().detail);
  }

  // Every partition still to copy is opened first, so that the copies hold nearly one
  // moment of the engine; each is one point in time (a secondary instance reads as of
  // its open).
  struct Source {
    int32_t partition;
    std::unique_ptr<state::CaseStore> store;
    TimePoint taken_at;
  };
  std::vector<store::BackupPartition> done;
  std::vector<Source> sources;
  uint64_t estimate = 0;
  for (int32_t p : data->partitions) {
    store::BackupPartition finished;
    if (resuming && std::filesystem::exists(BackupPartitionFile(out, p), ec)) {
      if (Status s = ReadJsonFile(BackupPartitionFile(out, p), finished); !s) {
        return fail(s.error().detail);
      }
      done.push_back(std::move(finished));
      continue;
    }
    const TimePoint taken_at = clock.Now();
    auto opened = data->OpenPartition(p);
    if (!opened) return fail(data->PartitionDir(p) + ": " + opened.error().ToString());
    auto stats = (*opened)->Stats();
    estimate += stats["estimate_num_keys"];
    sources.push_back({p, std::move(*opened), taken_at});
  }
  for (const auto& d : done) {
    ++partitions_done;
    records += d.records();
    cases += FamilyCount(d, "case_state");
  }
  if (resuming && !json) {
    std::fprintf(stderr, "backup: going on with %s (%zu of %zu partitions copied before)\n",
                 manifest.backup_id().c_str(), done.size(), data->partitions.size());
  }

  Interrupt interrupt;
  Progress progress =
      json ? Progress("records", estimate, stderr, false) : Progress::OnStderr("records", estimate);
  bool interrupted = false;
  for (Source& source : sources) {
    const int32_t p = source.partition;
    const std::string dir = BackupStoreDir(out, p);
    // A copy an interruption left half done starts again.
    std::filesystem::remove_all(dir, ec);
    if (ec) return fail("cannot remove the unfinished copy " + dir + ": " + ec.message());
    uint64_t reported = 0;
    auto copied = source.store->CopyTo(dir, [&](uint64_t n) {
      progress.Add(n - reported);
      reported = n;
      return !interrupt.requested();
    });
    if (!copied) {
      if (copied.error().code == std::make_error_code(std::errc::operation_canceled)) {
        interrupted = true;
        break;
      }
      return fail(data->PartitionDir(p) + ": " + copied.error().ToString());
    }
    store::BackupPartition part;
    part.set_partition(p);
    *part.mutable_taken_at() = ToTimestamp(source.taken_at);
    part.set_records(copied->records);
    for (const auto& [name, n] : copied->families) {
      auto* family = part.add_families();
      family->set_name(name);
      family->set_records(n);
    }
    part.set_digest(copied->digest);
    auto next = source.store->NextOffset(topics::kCommands, p);
    if (!next) return fail(data->PartitionDir(p) + ": " + next.error().ToString());
    part.set_commands_next_offset(next->value_or(-1));
    auto fence = source.store->LocalFence();
    if (!fence) return fail(data->PartitionDir(p) + ": " + fence.error().ToString());
    part.set_fence_offset(*fence ? (*fence)->offset : -1);
    if (*fence) part.set_fence_owner((*fence)->owner);
    source.store.reset();  // the engine may reclaim the files it compacted away
    if (Status s = WriteJsonFile(BackupPartitionFile(out, p), part); !s) {
      return fail(s.error().detail);
    }
    ++partitions_done;
    records += part.records();
    cases += FamilyCount(part, "case_state");
    done.push_back(std::move(part));
  }
  progress.Finish();

  if (interrupted) {
    (void)audit->Interrupted(counts());
    std::fprintf(stderr,
                 "backup: interrupted with %llu of %zu partitions copied; %s is not a backup "
                 "yet (no manifest.json): run the same command again to finish it\n",
                 static_cast<unsigned long long>(partitions_done), data->partitions.size(),
                 out.c_str());
    if (json) {
      std::printf("%s\n", Json()
                              .Str("operation_id", audit->id())
                              .Str("backup_id", manifest.backup_id())
                              .Bool("interrupted", true)
                              .Num("partitions_copied", static_cast<int64_t>(partitions_done))
                              .Done()
                              .c_str());
    }
    return kExitInterrupted;
  }

  // The manifest last: until it is there the directory is no backup.
  std::sort(done.begin(), done.end(),
            [](const auto& a, const auto& b) { return a.partition() < b.partition(); });
  for (auto& d : done) *manifest.add_partitions() = std::move(d);
  *manifest.mutable_finished_at() = ToTimestamp(clock.Now());
  if (Status s = WriteJsonFile(out + "/" + std::string(kManifestFile), manifest); !s) {
    return fail(s.error().detail);
  }
  std::filesystem::remove(incomplete_path, ec);
  for (const auto& p : manifest.partitions()) {
    std::filesystem::remove(BackupPartitionFile(out, p.partition()), ec);
  }
  (void)SyncDirectory(out);

  if (Status s = audit->Finish(counts()); !s) {
    PrintErr(kCmd, "the end of the action was not recorded: " + s.error().ToString());
  }
  if (json) {
    std::vector<std::string> items;
    for (const auto& p : manifest.partitions()) items.push_back(PartitionJson(p));
    std::printf("%s\n", Json()
                            .Str("operation_id", audit->id())
                            .Str("backup_id", manifest.backup_id())
                            .Str("out", out)
                            .Str("started_at", TimestampText(manifest.started_at()))
                            .Str("finished_at", TimestampText(manifest.finished_at()))
                            .Num("records", static_cast<int64_t>(records))
                            .Num("cases", static_cast<int64_t>(cases))
                            .Field("partitions", Array(items))
                            .Done()
                            .c_str());
    return kExitOk;
  }
  for (const auto& p : manifest.partitions()) {
    std::printf("partition %d: %llu records, %llu cases, commands offset %lld, digest %.16s\n",
                p.partition(), static_cast<unsigned long long>(p.records()),
                static_cast<unsigned long long>(FamilyCount(p, "case_state")),
                static_cast<long long>(p.commands_next_offset()), p.digest().c_str());
  }
  std::printf(
      "backup %s of %s written to %s: %llu partitions, %llu records, %llu cases\n"
      "keep the engine's key-encryption key and subject key in the secret store: the backup "
      "does not hold them, and restore needs both\n",
      manifest.backup_id().c_str(), data->data_dir.c_str(), out.c_str(),
      static_cast<unsigned long long>(partitions_done), static_cast<unsigned long long>(records),
      static_cast<unsigned long long>(cases));
  return kExitOk;
}

}  // namespace pathway::ctl
