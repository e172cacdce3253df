#include "services/pathwayctl/engine_data.h"

#include <chrono>
#include <filesystem>
#include <system_error>

#include "services/engine/subject_keyer.h"
#include "state/errc.h"
#include "state/store_set.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/identifiers.h"
#include "workflow/pathway.h"
#include "workflow/workflow.h"

namespace pathway::ctl {

Result<std::string> ReadExistingSecret(const std::string& flag_file, const std::string& data_dir,
                                       const std::string& name, std::string& path) {
  path = flag_file.empty() ? data_dir + "/" + name : flag_file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Error{std::make_error_code(std::errc::no_such_file_or_directory),
                 path + ": no such file (the engine's " + name + ")"};
  }
  bool created = false;
  return engine::LoadSecret(path, data_dir, name, &created);
}

void EngineDataFlags::AddTo(std::vector<Flag>& flags) {
  flags.push_back({"--data-dir", true, Store(data_dir)});
  flags.push_back({"--subject-key-file", true, Store(subject_key_file)});
  flags.push_back({"--key-encryption-key-file", true, Store(kek_file)});
}

Result<EngineData> EngineData::Load(const EngineDataFlags& flags) {
  if (flags.data_dir.empty()) {
    return Error{std::make_error_code(std::errc::invalid_argument), "--data-dir is required"};
  }
  EngineData data;
  data.data_dir = flags.data_dir;
  std::string key_path;
  auto secret = ReadExistingSecret(flags.subject_key_file, flags.data_dir, "subject-key", key_path);
  if (!secret) return Error{secret.error().code, "subject key: " + secret.error().detail};
  auto kek =
      ReadExistingSecret(flags.kek_file, flags.data_dir, "key-encryption-key", data.kek_path);
  if (!kek) return Error{kek.error().code, "key-encryption key: " + kek.error().detail};
  data.subject_secret = std::move(*secret);
  data.kek = std::move(*kek);
  state::StoreSet layout(flags.data_dir + "/state", "", data.kek);
  auto partitions = layout.PartitionsOnDisk();
  if (!partitions) return partitions.error();
  if (partitions->empty()) {
    return Error{std::make_error_code(std::errc::no_such_file_or_directory),
                 "no engine state in " + flags.data_dir + " (no " + layout.dir() + "/partition-*)"};
  }
  data.partitions = std::move(*partitions);
  return data;
}

std::string EngineData::PartitionDir(int32_t partition) const {
  return state::StoreSet(data_dir + "/state", "", kek).PartitionDir(partition);
}

Result<std::unique_ptr<state::CaseStore>> EngineData::OpenPartition(int32_t partition) const {
  // No changelog and no index: a reader mirrors and derives nothing.
  return state::CaseStore::OpenReadOnly(PartitionDir(partition),
                                        state::StoreOptions{{}, 0, kek, nullptr});
}

std::string EngineData::SubjectKey(std::string_view nhs_number) const {
  return engine::SubjectKeyer::FromSecret(subject_secret).Key(nhs_number);
}

bool IsKekMismatch(const Error& e) {
  return e.code == state::make_error_code(state::errc::kKeyMismatch);
}

void DecisionFlags::AddTo(std::vector<Flag>& flags) {
  flags.push_back({"--warning-lead-days", true, Store(lead_days)});
  flags.push_back({"--identity-hold-days", true, Store(hold_days)});
  flags.push_back({"--max-history-per-case", true, Store(max_history)});
  flags.push_back({"--statutory-sharing", true, Store(sharing_path)});
  flags.push_back({"--as-of", true, Store(as_of)});
  flags.push_back({"--start-version", true, [this](std::string_view v) {
                     start_versions.emplace_back(v);
                     return std::optional<std::string>();
                   }});
}

Result<Decisions> LoadDecisions(const DecisionFlags& flags, const TimeSource& time) {
  const auto bad = [](std::string message) {
    return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)};
  };
  // A whole number in [0, max]; `fallback` when the flag was not given.
  const auto number = [](const std::string& text, int64_t max,
                         int64_t fallback) -> std::optional<int64_t> {
    if (text.empty()) return fallback;
    if (text == "0") return 0;
    auto n = ParsePositiveInt(text);
    if (!n || *n > max) return std::nullopt;
    return n;
  };
  Decisions d;
  auto lead = number(flags.lead_days, 365, workflow::kDefaultWarningLeadDays);
  if (!lead) return bad("--warning-lead-days must be a whole number of days from 0 to 365");
  auto hold = number(flags.hold_days, 365, workflow::kDefaultIdentityHoldDays);
  if (!hold) return bad("--identity-hold-days must be a whole number of days from 0 to 365");
  auto history = number(flags.max_history, int64_t{1} << 40,
                        static_cast<int64_t>(workflow::kDefaultMaxHistoryPerCase));
  if (!history || *history == 0) return bad("--max-history-per-case must be a positive number");
  d.settings.warning_lead_days = static_cast<int>(*lead);
  d.settings.decide.identity_hold_days = static_cast<int>(*hold);
  d.settings.max_history_per_case = static_cast<uint64_t>(*history);
  if (!flags.sharing_path.empty()) {
    d.sharing = std::make_unique<pathway::config::v1::StatutorySharing>();
    if (auto error = LoadStatutorySharing(flags.sharing_path, *d.sharing)) return bad(*error);
    d.settings.decide.sharing = d.sharing.get();
  }
  if (!flags.start_versions.empty()) {
    d.start_versions = std::make_unique<std::map<pathway::v1::PathwayKind, uint32_t>>();
    for (const auto& spec : flags.start_versions) {
      if (auto error = workflow::AddStartVersion(spec, *d.start_versions)) {
        return bad("--start-version: " + *error);
      }
    }
    d.settings.decide.start_versions = d.start_versions.get();
  }
  d.now = time.Now();
  if (!flags.as_of.empty()) {
    auto day = workflow::ParseDate(flags.as_of);
    if (!day) return bad("--as-of must be a date, YYYY-MM-DD");
    // Noon UTC is the same day in London in winter and in summer.
    d.now = TimePoint(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::sys_days{*day}.time_since_epoch() + std::chrono::hours(12)));
  }
  return d;
}

Result<std::string> ReadNhsNumber(const std::string& path) {
  std::string text;
  if (auto error = ReadInput(path, text)) {
    return Error{std::make_error_code(std::errc::io_error), *error};
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    std::string_view line = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) continue;
    std::string number;
    for (char c : line) {
      if (c != ' ') number.push_back(c);  // "943 476 5919" as printed on letters
    }
    if (!workflow::IsValidNhsNumber(number)) {
      return Error{std::make_error_code(std::errc::invalid_argument),
                   "the NHS number read is not valid (10 digits, modulus 11 check digit)"};
    }
    return number;
  }
  return Error{std::make_error_code(std::errc::invalid_argument), "no NHS number was given"};
}

}  // namespace pathway::ctl
