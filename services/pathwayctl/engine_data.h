// An engine's data directory as pathwayctl's operations tools read it: its secrets
// (never created here) and its partition stores, opened read-only so the engine may be
// running (state::CaseStore::OpenReadOnly).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/config/v1/config.pb.h"
#include "services/pathwayctl/cli.h"
#include "state/case_store.h"
#include "workflow/case_step.h"

namespace pathway::ctl {

inline constexpr std::string_view kEngineDataFlagsHelp =
    "  --data-dir DIR                 the engine's data directory (required)\n"
    "  --subject-key-file F           the engine's subject-key secret\n"
    "                                 (default: DIR/subject-key)\n"
    "  --key-encryption-key-file F    the engine's key-encryption key\n"
    "                                 (default: DIR/key-encryption-key)\n";

// The secret in `flag_file`, or in DIR/`name`; it must exist (never created here).
// `path` is set to the file read.
Result<std::string> ReadExistingSecret(const std::string& flag_file, const std::string& data_dir,
                                       const std::string& name, std::string& path);

struct EngineDataFlags {
  std::string data_dir;
  std::string subject_key_file;
  std::string kek_file;
  void AddTo(std::vector<Flag>& flags);
};

// An engine's data directory, its secrets read.
struct EngineData {
  std::string data_dir;
  std::string subject_secret;  // the subject-key secret
  std::string kek;             // 32 bytes
  std::string kek_path;
  std::vector<int32_t> partitions;  // of the stores on disk, ascending

  // Reads the secrets and lists the partition stores. An error message names the file
  // or directory; "no engine state" when there is no partition store.
  static Result<EngineData> Load(const EngineDataFlags& flags);

  std::string PartitionDir(int32_t partition) const;
  // The partition's store, read-only (the engine may be running).
  Result<std::unique_ptr<state::CaseStore>> OpenPartition(int32_t partition) const;
  // The subject key of an NHS number (the engine's keyed hash).
  std::string SubjectKey(std::string_view nhs_number) const;
};

inline constexpr std::string_view kDecisionFlagsHelp =
    "  --warning-lead-days N          as the engine runs (default 10)\n"
    "  --identity-hold-days N         as the engine runs (default 14)\n"
    "  --max-history-per-case N       as the engine runs (default 10000)\n"
    "  --statutory-sharing FILE       as the engine runs (default: none)\n"
    "  --start-version PATHWAY=V      as the engine runs (repeatable; default: the latest)\n"
    "  --as-of YYYY-MM-DD             the day to decide at (default: today in London)\n";

// The engine's decision settings: they must be the engine's own, or a re-decided case
// differs by the settings alone.
struct DecisionFlags {
  std::string lead_days;
  std::string hold_days;
  std::string max_history;
  std::string sharing_path;
  std::string as_of;
  std::vector<std::string> start_versions;  // "PATHWAY=VERSION", as the engine's flag
  void AddTo(std::vector<Flag>& flags);
};

struct Decisions {
  workflow::StepSettings settings;  // settings.decide.sharing points into `sharing`
  std::unique_ptr<pathway::config::v1::StatutorySharing> sharing;
  // settings.decide.start_versions points here when any is given.
  std::unique_ptr<std::map<pathway::v1::PathwayKind, uint32_t>> start_versions;
  TimePoint now;  // noon in London on the as-of day, or the real now
};
// The settings the flags name; an error message names the flag.
Result<Decisions> LoadDecisions(const DecisionFlags& flags, const TimeSource& time);

// Whether `e` says the stores were written under another key-encryption key.
bool IsKekMismatch(const Error& e);

// Reads one NHS number from `path` ("-": stdin): the first non-blank line, trimmed.
// Never from the command line, where it would land in shell history. An error names
// the problem, never the value read.
Result<std::string> ReadNhsNumber(const std::string& path);

}  // namespace pathway::ctl
