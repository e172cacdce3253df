// pathwayctl restore: a backup's stores written into a new engine data directory, every
// erasure made after the backup applied to them, what the engine will do with each
// partition said, and every case checked as rebuild checks it (docs/operations.md,
// "Backup and restore"). Audited; resumable; the engine refuses the directory until
// restore has finished (state::StoreSet::kRestoreMark).
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/engine/caseload_index.h"
#include "services/pathwayctl/backup_files.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/progress.h"
#include "services/pathwayctl/restore_support.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "workflow/rebuild.h"

namespace pathway::ctl {
namespace {
namespace store = pathway::store::v1;
namespace v1 = pathway::v1;

constexpr std::string_view kCmd = "restore";
constexpr int kExitFindings = 3;
constexpr int kExitInterrupted = 130;
constexpr auto kKafkaTimeout = std::chrono::seconds(30);

constexpr std::string_view kUsage =
    "usage: pathwayctl restore --from BACKUP --data-dir NEW_DIR --operator ID --reason TEXT\n"
    "                          [--json] [flags]\n"
    "\n"
    "Writes the stores of the backup in BACKUP into NEW_DIR, a new engine data directory\n"
    "(it may hold only the engine's two key files), checking each against the backup's\n"
    "manifest. Then, from Kafka: reads each partition's changelog to say what the engine\n"
    "will do with the store (rebuild it from the changelog, which then holds more than the\n"
    "backup, or continue from it) and to find the children erased after the backup, and\n"
    "pathway.events.v1's ErasureCompleted events where a changelog will not replace the\n"
    "backup; applies every such erasure as the engine does, so no erased child comes back;\n"
    "and checks every case against its history as pathwayctl rebuild does.\n"
    "Needs the engine's key-encryption key and subject key (both must be the backup's).\n"
    "The engine refuses NEW_DIR until restore has finished. Audited on pathway.audit.v1.\n"
    "Exit 0: restored; 3: restored, with findings to read (a case diverged or did not\n"
    "read, commands the engine must process again are gone, or the engine will not use\n"
    "the backup); 130: interrupted (Ctrl-C): run the same command again to finish;\n"
    "1: failure (nothing usable written); 2: bad usage.\n"
    "\n"
    "  --from BACKUP                  a backup written by pathwayctl backup\n"
    "  --data-dir NEW_DIR             the new data directory\n"
    "  --subject-key-file F           the engine's subject key (default NEW_DIR/subject-key)\n"
    "  --key-encryption-key-file F    the engine's KEK (default NEW_DIR/key-encryption-key)\n"
    "  --json                         one JSON document on stdout\n";

// What restore found and did for one partition.
struct PartitionReport {
  const store::BackupPartition* backup = nullptr;
  ChangelogFacts changelog;
  Continuation continues = Continuation::kBackup;
  CommandsFacts commands;
  Erasures erasures;  // after the backup, from the changelog and pathway.events.v1
  uint64_t from_changelog = 0;
  uint64_t applied = 0;
  uint64_t already_erased = 0;
};

struct Tally {
  uint64_t partitions = 0, records = 0, erasures = 0, cases = 0, erased = 0, diverged = 0,
           unreadable = 0;
  Counts counts() const {
    return {{"partitions", partitions}, {"records", records}, {"erasures_applied", erasures},
            {"cases", cases},           {"erased", erased},   {"diverged", diverged},
            {"unreadable", unreadable}};
  }
};

// The restore mark (state::StoreSet::kRestoreMark): "backup <id>" and one "done <n>"
// line per partition copied whole.
struct Mark {
  std::string backup_id;
  std::set<int32_t> done;
  std::string Text() const {
    std::string out = "backup " + backup_id + "\n";
    for (int32_t p : done) out += "done " + std::to_string(p) + "\n";
    return out;
  }
  static std::optional<Mark> Read(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    Mark mark;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("backup ")) mark.backup_id = line.substr(7);
      if (line.starts_with("done ")) {
        auto p = ParsePositiveInt(line.substr(5));
        mark.done.insert(p ? static_cast<int32_t>(*p) : 0);
      }
    }
    return mark;
  }
};

std::string ContinuesText(const PartitionReport& r) {
  switch (r.continues) {
    case Continuation::kChangelog:
      return "the engine will rebuild it from the changelog, which holds the backup and " +
             std::to_string(r.changelog.end - std::max<int64_t>(r.backup->fence_offset(), 0)) +
             " records more";
    case Continuation::kBackup:
      return "the engine will keep it and process pathway.commands.v1 from offset " +
             std::to_string(std::max(r.commands.next, r.commands.start)) + " (" +
             std::to_string(r.commands.again()) + " commands again)";
    case Continuation::kCommands:
      return "WARNING: the engine will not use it: the changelog lost its start and another "
             "owner fenced the partition after the backup, so the engine rebuilds the "
             "partition from pathway.commands.v1 from its start";
  }
  return "";
}

std::string PartitionJson(const PartitionReport& r) {
  return Json()
      .Num("partition", r.backup->partition())
      .Num("records", static_cast<int64_t>(r.backup->records()))
      .Str("digest", r.backup->digest())
      .Str("continues_from", ContinuationName(r.continues))
      .Field("changelog", Json()
                              .Bool("exists", r.changelog.exists)
                              .Num("start", r.changelog.start)
                              .Num("end", r.changelog.end)
                              .Bool("complete", r.changelog.complete)
                              .Bool("holds_backup_fence", r.changelog.holds_fence)
                              .Bool("other_owner_since", r.changelog.other_owner)
                              .Done())
      .Field("commands", Json()
                             .Num("next_offset", r.commands.next)
                             .Num("start", r.commands.start)
                             .Num("end", r.commands.end)
                             .Num("missing", r.commands.missing())
                             .Num("again", r.commands.again())
                             .Done())
      .Num("erasures_applied", static_cast<int64_t>(r.applied))
      .Done();
}

// Whether the directory holds nothing but the engine's key files.
std::optional<std::string> ForeignEntry(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return std::nullopt;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name == "subject-key" || name == "key-encryption-key") && entry.is_regular_file()) {
      continue;
    }
    return name;
  }
  return std::nullopt;
}

}  // namespace

int RunRestore(std::span<char* const> args) {
  bool json = false, help = false;
  std::string from;
  EngineDataFlags target_flags;
  DecisionFlags decision_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--from", true, Store(from)},
      {"--json", false, Set(json, true)},
      {"--help", false, Set(help, true)},
  };
  target_flags.AddTo(flags);
  decision_flags.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    std::fwrite(kDecisionFlagsHelp.data(), 1, kDecisionFlagsHelp.size(), stdout);
    std::fwrite(kOperatorFlagsHelp.data(), 1, kOperatorFlagsHelp.size(), stdout);
    std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
    return kExitOk;
  }
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (from.empty()) return UsageError(kCmd, "--from is required");
  const std::string target = target_flags.data_dir;
  if (target.empty()) return UsageError(kCmd, "--data-dir is required (the new data directory)");
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  RealTimeSource clock;
  auto decisions = LoadDecisions(decision_flags, clock);
  if (!decisions) return UsageError(kCmd, decisions.error().detail);

  auto manifest = ReadManifest(from);
  if (!manifest) {
    PrintErr(kCmd, manifest.error().detail);
    return kExitFailure;
  }
  std::error_code ec;
  for (const auto& p : manifest->partitions()) {
    if (!std::filesystem::is_directory(BackupStoreDir(from, p.partition()), ec)) {
      PrintErr(kCmd, from + ": the store of partition " + std::to_string(p.partition()) +
                         " the manifest names is missing: the backup is damaged");
      return kExitFailure;
    }
  }
  // The keys the backup's stores were written under, where the engine will find them.
  std::string kek_path, subject_path;
  auto kek = ReadExistingSecret(target_flags.kek_file, target, "key-encryption-key", kek_path);
  if (!kek) {
    PrintErr(kCmd, "restore needs the engine's key-encryption key: " + kek.error().detail);
    return kExitFailure;
  }
  auto subject_secret =
      ReadExistingSecret(target_flags.subject_key_file, target, "subject-key", subject_path);
  if (!subject_secret) {
    PrintErr(kCmd, "restore needs the engine's subject key: " + subject_secret.error().detail);
    return kExitFailure;
  }
  if (KeyCheck(*kek, kKekCheckLabel) != manifest->key_encryption_key_check()) {
    PrintErr(kCmd, "the key-encryption key " + kek_path +
                       " is not the one the backup's stores were sealed under");
    return kExitFailure;
  }
  if (KeyCheck(*subject_secret, kSubjectKeyCheckLabel) != manifest->subject_key_check()) {
    PrintErr(kCmd, "the subject key " + subject_path +
                       " is not the one the backup's children are keyed by");
    return kExitFailure;
  }

  // A new data directory, or one this command left unfinished for the same backup.
  const std::string state_dir = target + "/state";
  const std::string mark_path = state_dir + "/" + std::string(state::StoreSet::kRestoreMark);
  Mark mark;
  mark.backup_id = manifest->backup_id();
  bool resuming = false;
  if (std::filesystem::exists(mark_path, ec)) {
    auto found = Mark::Read(mark_path);
    if (!found || found->backup_id != manifest->backup_id()) {
      PrintErr(kCmd, target +
                         " holds an unfinished restore of another backup: use a new "
                         "directory (or remove it)");
      return kExitFailure;
    }
    mark = std::move(*found);
    resuming = true;
  } else if (auto foreign = ForeignEntry(target)) {
    PrintErr(kCmd, target + " is not empty (it holds " + *foreign +
                       "): restore writes only into a new data directory");
    return kExitFailure;
  }

  // No record, no action.
  const std::string scope = "backup " + manifest->backup_id();
  auto run = StartAudited(kCmd, kafka.config, who, {"restore", scope, false}, *kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) {
    std::fprintf(stderr, "restore: operation %s, backup %s taken %s\n", audit->id().c_str(),
                 manifest->backup_id().c_str(), TimestampText(manifest->started_at()).c_str());
    if (resuming) {
      std::fprintf(stderr, "restore: going on (%zu of %d partitions restored before)\n",
                   mark.done.size(), manifest->partitions_size());
    }
  }

  Tally tally;
  const auto fail = [&](const std::string& message) {
    PrintErr(kCmd, message);
    (void)audit->Fail(message, tally.counts());
    return kExitFailure;
  };
  Interrupt interrupt;
  const auto interrupted = [&](std::string_view during) {
    (void)audit->Interrupted(tally.counts());
    std::fprintf(stderr,
                 "restore: interrupted while %.*s; %s is not usable yet (the engine refuses "
                 "it): run the same command again to finish\n",
                 static_cast<int>(during.size()), during.data(), target.c_str());
    if (json) {
      std::printf("%s\n", Json()
                              .Str("operation_id", audit->id())
                              .Str("backup_id", manifest->backup_id())
                              .Bool("interrupted", true)
                              .Done()
                              .c_str());
    }
    return kExitInterrupted;
  };

  // 1. Kafka: what the engine will do with each partition, and the erasures since.
  const Consumers consumers = [&] { return bus::NewKafkaConsumer(kafka.config, ""); };
  auto consumer = consumers();
  if (!consumer) return fail("kafka: " + consumer.error().ToString());
  auto command_partitions = (*consumer)->Partitions(std::string(topics::kCommands), kKafkaTimeout);
  if (!command_partitions || command_partitions->empty()) {
    return fail("cannot list the partitions of pathway.commands.v1: " +
                (command_partitions ? std::string("none") : command_partitions.error().ToString()));
  }
  ReadLimits limits;
  limits.idle = kKafkaTimeout;
  limits.stop = [&] { return interrupt.requested(); };
  const auto canceled = [](const Error& e) {
    return e.code == std::make_error_code(std::errc::operation_canceled);
  };
  std::vector<PartitionReport> reports;
  bool need_events = false;
  for (const auto& p : manifest->partitions()) {
    PartitionReport r;
    r.backup = &p;
    auto read = ReadChangelog(consumers, p, limits);
    if (!read) {
      if (canceled(read.error())) return interrupted("reading the changelog");
      return fail("reading the changelog: " + read.error().ToString());
    }
    r.changelog = read->facts;
    r.erasures = std::move(read->erasures);
    r.from_changelog = r.erasures.size();
    r.continues = Continues(p, r.changelog);
    need_events = need_events || r.continues != Continuation::kChangelog;
    auto commands =
        ReadCommandsFacts(**consumer, p.partition(), p.commands_next_offset(), kKafkaTimeout);
    if (!commands) return fail("reading pathway.commands.v1: " + commands.error().ToString());
    r.commands = *commands;
    reports.push_back(std::move(r));
  }
  uint64_t events_read = 0;
  if (need_events) {
    // A changelog that will not replace the backup may not hold every erasure since.
    auto events = ReadErasureEvents(consumers, static_cast<int32_t>(command_partitions->size()),
                                    limits, &events_read);
    if (!events) {
      if (canceled(events.error())) return interrupted("reading pathway.events.v1");
      return fail("reading pathway.events.v1: " + events.error().ToString());
    }
    for (auto& r : reports) {
      auto found = events->find(r.backup->partition());
      if (found == events->end()) continue;
      for (auto& [subject, event] : found->second) {
        auto& known = r.erasures[subject];
        if (!known) known = std::move(event);
      }
    }
  }
  (*consumer)->Close();

  // 2. The stores, each checked against the manifest as it is copied.
  if (!resuming) {
    std::filesystem::create_directories(state_dir, ec);
    if (ec) return fail("cannot create " + state_dir + ": " + ec.message());
    ::chmod(target.c_str(), 0700);
    if (Status s = WriteFileDurably(mark_path, mark.Text()); !s) return fail(s.error().detail);
  }
  const state::StoreSet layout(state_dir, "");
  const auto options = [&](int32_t partition) {
    return state::StoreOptions{"", partition, *kek, nullptr, engine::CaseloadIndexer()};
  };
  uint64_t to_copy = 0;
  for (const auto& r : reports) {
    if (!mark.done.count(r.backup->partition())) to_copy += r.backup->records();
  }
  {
    Progress progress =
        json ? Progress("records", to_copy, stderr, false) : Progress::OnStderr("records", to_copy);
    for (auto& r : reports) {
      const int32_t p = r.backup->partition();
      tally.records += r.backup->records();
      if (mark.done.count(p)) continue;
      const std::string dir = layout.PartitionDir(p);
      std::filesystem::remove_all(dir, ec);  // what an interruption left
      auto source = state::CaseStore::OpenReadOnly(BackupStoreDir(from, p),
                                                   state::StoreOptions{"", p, *kek, nullptr});
      if (!source) {
        return fail("the backup's store of partition " + std::to_string(p) +
                    " does not open: " + source.error().ToString());
      }
      uint64_t reported = 0;
      auto copied = (*source)->CopyTo(dir, [&](uint64_t n) {
        progress.Add(n - reported);
        reported = n;
        return !interrupt.requested();
      });
      if (!copied) {
        if (canceled(copied.error())) return interrupted("copying the stores");
        return fail("partition " + std::to_string(p) + ": " + copied.error().ToString());
      }
      if (copied->digest != r.backup->digest() || copied->records != r.backup->records()) {
        std::filesystem::remove_all(dir, ec);
        return fail("the store of partition " + std::to_string(p) +
                    " does not match the backup's manifest (" + std::to_string(copied->records) +
                    " records, digest " + copied->digest.substr(0, 16) + "; the manifest says " +
                    std::to_string(r.backup->records()) + ", " + r.backup->digest().substr(0, 16) +
                    "): the backup is damaged; restore another");
      }
      {
        // The backed-up engine's noted owners are not this copy's: records may follow
        // their fences that the copy does not hold (decision 134).
        auto restored = state::CaseStore::Open(dir, options(p));
        if (!restored) return fail(dir + ": " + restored.error().ToString());
        Status s = r.continues == Continuation::kChangelog ? (*restored)->ClearLocalFence()
                                                           : (*restored)->ForgetNotedOwners();
        if (!s) return fail(dir + ": " + s.error().ToString());
      }
      mark.done.insert(p);
      if (Status s = WriteFileDurably(mark_path, mark.Text()); !s) return fail(s.error().detail);
    }
    progress.Finish();
  }

  // 3. Erasures after the backup: the marks win.
  for (auto& r : reports) {
    if (r.erasures.empty()) continue;
    const int32_t p = r.backup->partition();
    auto restored = state::CaseStore::Open(layout.PartitionDir(p), options(p));
    if (!restored) return fail(layout.PartitionDir(p) + ": " + restored.error().ToString());
    for (const auto& [subject, event] : r.erasures) {
      auto erased = EraseSubject(**restored, p, subject, event);
      if (!erased) {
        if (IsKekMismatch(erased.error())) {
          return fail("the key-encryption key does not open the backup's data keys");
        }
        return fail("erasing subject " + subject + " in partition " + std::to_string(p) + ": " +
                    erased.error().ToString());
      }
      (*erased ? r.applied : r.already_erased) += 1;
    }
    tally.erasures += r.applied;
  }

  // 4. Every case checked as rebuild checks it.
  std::vector<std::pair<int32_t, std::string>> diverged;
  {
    uint64_t total = 0;
    for (const auto& r : reports) {
      for (const auto& f : r.backup->families())
        total += f.name() == "case_state" ? f.records() : 0;
    }
    Progress progress =
        json ? Progress("cases", total, stderr, false) : Progress::OnStderr("cases", total);
    for (auto& r : reports) {
      const int32_t p = r.backup->partition();
      auto restored = state::CaseStore::Open(layout.PartitionDir(p), options(p));
      if (!restored) return fail(layout.PartitionDir(p) + ": " + restored.error().ToString());
      std::vector<std::string> keys;
      Status scanned = (*restored)->Scan(
          state::ColumnFamily::kCaseState,
          [&](std::string_view key, std::string_view) { keys.push_back(HexEncode(key)); });
      if (!scanned) return fail(layout.PartitionDir(p) + ": " + scanned.error().ToString());
      for (const std::string& key : keys) {
        if (interrupt.requested()) return interrupted("checking the cases");
        ++tally.cases;
        progress.Add();
        auto stored = (*restored)->LoadCase(key);
        auto history = stored && stored->has_value()
                           ? (*restored)->HistoryFrom(key, (*stored)->history_kept_from())
                       : stored ? (*restored)->History(key)
                                : Result<std::vector<v1::Envelope>>(stored.error());
        if (!stored || !history || !stored->has_value()) {
          const Error& e = !stored ? stored.error() : history.error();
          if (IsKekMismatch(e)) {
            return fail("the key-encryption key does not open the backup's data keys");
          }
          ++tally.unreadable;
          std::printf("unreadable: subject %s (partition %d): %s\n", key.c_str(), p,
                      e.ToString().c_str());
          continue;
        }
        workflow::CaseCheck check =
            workflow::CheckCase(key, **stored, *history, decisions->now, decisions->settings);
        tally.erased += check.erased;
        if (!check.diverged()) continue;
        ++tally.diverged;
        // Which fields differ is about the child's case: recorded on the child's trail.
        if (Status s = audit->ChildShown(key); !s) {
          return fail("the view of a case was not recorded on pathway.audit.v1: " +
                      s.error().ToString());
        }
        diverged.emplace_back(p, key);
        if (!json) {
          std::printf("diverged: subject %s (partition %d):", key.c_str(), p);
          for (const auto& path : check.history_differences) std::printf(" %s", path.c_str());
          std::printf("%s\n", check.redecided_differs ? " (re-deciding differs)" : "");
        }
      }
    }
    progress.Finish();
  }
  tally.partitions = reports.size();

  // 5. Whole: the engine may open it.
  if (!std::filesystem::remove(mark_path, ec) || ec) {
    return fail("cannot remove " + mark_path + ": " + ec.message());
  }
  (void)SyncDirectory(state_dir);
  if (Status s = audit->Finish(tally.counts()); !s) {
    PrintErr(kCmd, "the end of the action was not recorded: " + s.error().ToString());
  }

  bool findings = tally.diverged > 0 || tally.unreadable > 0;
  for (const auto& r : reports) {
    findings = findings || r.continues == Continuation::kCommands ||
               (r.continues == Continuation::kBackup && r.commands.missing() > 0);
  }
  uint64_t found = 0, already = 0, from_changelog = 0;
  for (const auto& r : reports) {
    found += r.erasures.size();
    already += r.already_erased;
    from_changelog += r.from_changelog;
  }
  if (json) {
    std::vector<std::string> parts, shown;
    for (const auto& r : reports) parts.push_back(PartitionJson(r));
    for (const auto& [p, key] : diverged) {
      shown.push_back(Json().Str("subject_key", key).Num("partition", p).Done());
    }
    std::printf("%s\n", Json()
                            .Str("operation_id", audit->id())
                            .Str("backup_id", manifest->backup_id())
                            .Str("backup_taken_at", TimestampText(manifest->started_at()))
                            .Str("data_dir", target)
                            .Num("records", static_cast<int64_t>(tally.records))
                            .Field("partitions", Array(parts))
                            .Field("erasures",
                                   Json()
                                       .Num("found", static_cast<int64_t>(found))
                                       .Num("on_changelog", static_cast<int64_t>(from_changelog))
                                       .Num("events_read", static_cast<int64_t>(events_read))
                                       .Num("applied", static_cast<int64_t>(tally.erasures))
                                       .Num("already_erased", static_cast<int64_t>(already))
                                       .Done())
                            .Num("cases", static_cast<int64_t>(tally.cases))
                            .Num("erased", static_cast<int64_t>(tally.erased))
                            .Num("unreadable", static_cast<int64_t>(tally.unreadable))
                            .Field("diverged", Array(shown))
                            .Bool("findings", findings)
                            .Done()
                            .c_str());
    return findings ? kExitFindings : kExitOk;
  }
  for (const auto& r : reports) {
    std::printf("partition %d: %llu records, as the manifest says; %llu erasures applied; %s\n",
                r.backup->partition(), static_cast<unsigned long long>(r.backup->records()),
                static_cast<unsigned long long>(r.applied), ContinuesText(r).c_str());
    if (r.continues == Continuation::kBackup && r.commands.missing() > 0) {
      std::printf(
          "  WARNING: offsets %lld to %lld of pathway.commands.v1 partition %d are gone "
          "(deleted after an erasure, or by retention): the engine cannot process those "
          "commands again, and what they did after the backup is lost to this partition\n",
          static_cast<long long>(r.commands.next), static_cast<long long>(r.commands.start - 1),
          r.backup->partition());
    }
    if (!r.changelog.exists) {
      std::printf(
          "  the changelog topic has no partition %d: create the topics before starting "
          "the engine\n",
          r.backup->partition());
    }
  }
  std::printf(
      "restore: backup %s restored into %s: %llu partitions, %llu records; %llu erasures after "
      "the backup applied (%llu found, %llu on the changelog, %llu erased already); %llu cases "
      "checked (%llu erased), %llu unreadable, %llu diverged\n",
      manifest->backup_id().c_str(), target.c_str(),
      static_cast<unsigned long long>(tally.partitions),
      static_cast<unsigned long long>(tally.records),
      static_cast<unsigned long long>(tally.erasures), static_cast<unsigned long long>(found),
      static_cast<unsigned long long>(from_changelog), static_cast<unsigned long long>(already),
      static_cast<unsigned long long>(tally.cases), static_cast<unsigned long long>(tally.erased),
      static_cast<unsigned long long>(tally.unreadable),
      static_cast<unsigned long long>(tally.diverged));
  const bool keys_outside =
      kek_path != target + "/key-encryption-key" || subject_path != target + "/subject-key";
  std::printf("start the engine with --data-dir %s%s\n", target.c_str(),
              keys_outside ? (" --subject-key-file " + subject_path +
                              " --key-encryption-key-file " + kek_path)
                                 .c_str()
                           : "");
  return findings ? kExitFindings : kExitOk;
}

}  // namespace pathway::ctl
