// pathwayctl export: a subject access export (docs/tell-it-once.md section 7). Reads a
// stopped engine's data directory and writes one JSON document with everything the
// engine holds about one child, personal fields in clear. Reads only: no secret is
// created, nothing is committed to the stores.
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/engine/subject_keyer.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "state/case_store.h"
#include "state/errc.h"
#include "state/store_set.h"
#include "workflow/identifiers.h"
#include "workflow/personal_fields.h"
#include "workflow/shared_record.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "export";

constexpr std::string_view kUsage =
    "usage: pathwayctl export --data-dir DIR --nhs-number N [--subject-key-file F]\n"
    "                         [--key-encryption-key-file F] [--out FILE]\n"
    "\n"
    "Subject access: writes one JSON document with everything a (stopped) engine's\n"
    "data directory holds about one child: the case (referrals, date of birth, the\n"
    "shared record with provenance, consents, identifiers, pathways and deadlines,\n"
    "information requests), every event of its history, and the audit of who viewed\n"
    "or reused the record. Personal fields are opened with the deployment's keys. The\n"
    "NHS number is hashed into the subject key on the spot and never printed.\n"
    "Exit 1 if the stores hold no case for the child or the keys do not match.\n"
    "\n"
    "  --data-dir DIR                 the engine's data directory (required)\n"
    "  --nhs-number N                 the child's NHS number (required)\n"
    "  --subject-key-file F           the engine's subject-key secret\n"
    "                                 (default: DIR/subject-key)\n"
    "  --key-encryption-key-file F    the engine's key-encryption key\n"
    "                                 (default: DIR/key-encryption-key)\n"
    "  --out FILE                     write the document to FILE (mode 0600) instead of\n"
    "                                 stdout\n";

std::string UtcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ConsentText(v1::ConsentDecision d) {
  switch (d) {
    case v1::CONSENT_DECISION_GRANTED:
      return "granted";
    case v1::CONSENT_DECISION_REFUSED:
      return "refused";
    case v1::CONSENT_DECISION_WITHDRAWN:
      return "withdrawn";
    default:
      return "unspecified";
  }
}

bool WrongKek(const Error& e) {
  return e.code == state::make_error_code(state::errc::kKeyMismatch);
}

struct Found {
  std::unique_ptr<state::CaseStore> cases;
  store::CaseState state;
};

// The export document of one subject.
Result<std::string> ExportJson(state::CaseStore& cases, const std::string& subject,
                               const store::CaseState& state) {
  auto history = cases.HistoryFrom(subject, state.history_kept_from());
  if (!history) return history.error();
  auto erased_key = cases.Erased(subject);
  if (!erased_key) return erased_key.error();
  const bool erased = state.erased() || *erased_key;

  std::vector<std::string> referrals;
  for (const auto& r : state.referrals()) {
    referrals.push_back(Json()
                            .Str("referral_id", r.referral_id())
                            .Str("reason", v1::ReferralReason_Name(r.reason()))
                            .Str("received_on", DateText(r.received_on()))
                            .Str("referrer_agency", r.referrer_agency())
                            .Str("inbound_event_id", r.inbound_event_id())
                            .Done());
  }
  std::vector<std::string> record;
  // A fact sealed for a topic (workflow/personal_fields.h) opens with the child's key.
  const workflow::OpenFunction open = [&](std::string_view sealed, std::string_view field) {
    return cases.OpenField(subject, sealed, field);
  };
  for (v1::FactRecorded f : state.record_facts()) {
    if (auto s = workflow::OpenPersonalFields(f, open, "fact_recorded."); !s) return s.error();
    const std::string& content = f.content();
    record.push_back(Json()
                         .Str("type", workflow::FactTypeName(f.type()))
                         .Str("content", content)
                         .Str("source_agency", f.source_agency())
                         .Str("source_event_id", f.source_event_id())
                         .Str("recorded_on", DateText(f.recorded_on()))
                         .Str("valid_until", DateText(f.valid_until()))
                         .Bool("disputed", f.disputed())
                         .Done());
  }
  std::vector<std::string> consents;
  for (const auto& c : state.consents()) {
    consents.push_back(Json()
                           .Str("agency", c.agency())
                           .Str("purpose", c.purpose())
                           .Str("decision", ConsentText(c.decision()))
                           .Str("on", DateText(c.on()))
                           .Done());
  }
  std::vector<std::string> identifiers;
  for (const auto& a : state.aliases()) {
    identifiers.push_back(
        Json().Str("kind", KindText(a.kind())).Str("alias_key", a.alias_key()).Done());
  }
  std::vector<std::string> pathways;
  for (const auto& p : state.pathways()) pathways.push_back(PathwayJson(p));
  std::vector<std::string> requests;
  for (const auto& r : state.information_requests()) requests.push_back(RequestJson(r));

  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::vector<std::string> events;
  std::vector<std::string> audit;
  // The history is kept as decided (sealed whole at rest by the store, never field by
  // field), so its values are clear: opening them would take a partner's text that
  // merely looks sealed for a sealed form.
  for (const auto& e : *history) {
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(e, &json, options).ok()) {
      return Error{state::make_error_code(state::errc::kCorruption),
                   "history event " + e.event_id() + " does not convert to JSON"};
    }
    events.push_back(Json()
                         .Str("event_id", e.event_id())
                         .Str("recorded_at", TimestampText(e.recorded_at()))
                         .Str("type", PayloadType(e))
                         .Field("event", json)
                         .Done());
    if (auto a = workflow::AuditFor(e)) audit.push_back(AuditJson(a->audit_recorded()));
  }
  return Json()
             .Str("subject_key", subject)
             .Str("exported_at", UtcNow())
             .Bool("erased", erased)
             .Str("date_of_birth", DateText(state.date_of_birth()))
             .Field("referrals", Array(referrals))
             .Field("record", Array(record))
             .Field("consents", Array(consents))
             .Field("identifiers", Array(identifiers))
             .Field("pathways", Array(pathways))
             .Field("information_requests", Array(requests))
             .Num("history_length", static_cast<int64_t>(history->size()))
             .Field("history", Array(events))
             .Field("audit", Array(audit))
             .Done() +
         "\n";
}

std::optional<std::string> WriteOut(const std::string& path, const std::string& doc) {
  if (path.empty() || path == "-") {
    if (std::fwrite(doc.data(), 1, doc.size(), stdout) != doc.size() || std::fflush(stdout) != 0) {
      return "error writing stdout";
    }
    return std::nullopt;
  }
  // Personal data: readable by the operator only.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return "cannot write '" + path + "'";
  size_t done = 0;
  while (done < doc.size()) {
    const ssize_t n = ::write(fd, doc.data() + done, doc.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == doc.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return "error writing '" + path + "'";
  return std::nullopt;
}

}  // namespace

int RunExport(std::span<char* const> args) {
  std::string data_dir, nhs_number, subject_key_file, kek_file, out;
  bool help = false;
  std::vector<Flag> flags = {
      {"--data-dir", true, Store(data_dir)},
      {"--nhs-number", true, Store(nhs_number)},
      {"--subject-key-file", true, Store(subject_key_file)},
      {"--key-encryption-key-file", true, Store(kek_file)},
      {"--out", true, Store(out)},
      {"--help", false, Set(help, true)},
  };
  std::vector<std::string> positional;
  // ParseArgs' messages quote unknown flags only, never a flag's value.
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return kExitOk;
  }
  // Not echoed: a positional argument may well be the NHS number.
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (data_dir.empty()) return UsageError(kCmd, "--data-dir is required");
  if (nhs_number.empty()) return UsageError(kCmd, "--nhs-number is required");
  if (!workflow::IsValidNhsNumber(nhs_number)) {
    return UsageError(kCmd,
                      "--nhs-number is not a valid NHS number (10 digits, modulus 11 check digit)");
  }

  std::string key_path, kek_path;
  auto secret = ReadExistingSecret(subject_key_file, data_dir, "subject-key", key_path);
  if (!secret) {
    PrintErr(kCmd, "subject key: " + secret.error().ToString());
    return kExitFailure;
  }
  auto kek = ReadExistingSecret(kek_file, data_dir, "key-encryption-key", kek_path);
  if (!kek) {
    PrintErr(kCmd, "key-encryption key: " + kek.error().ToString());
    return kExitFailure;
  }
  const std::string subject = engine::SubjectKeyer::FromSecret(std::move(*secret)).Key(nhs_number);

  state::StoreSet layout(data_dir + "/state", "", *kek);
  auto partitions = layout.PartitionsOnDisk();
  if (!partitions) {
    PrintErr(kCmd, partitions.error().ToString());
    return kExitFailure;
  }
  if (partitions->empty()) {
    PrintErr(kCmd, "no engine state in " + data_dir + " (no " + layout.dir() + "/partition-*)");
    return kExitFailure;
  }
  const auto kek_mismatch = [&] {
    PrintErr(kCmd, "the key-encryption key (" + kek_path +
                       ") does not match the one the engine's stores were written with");
    return kExitFailure;
  };

  std::optional<Found> found;
  for (int32_t partition : *partitions) {
    const std::string dir = layout.PartitionDir(partition);
    // No changelog: nothing is mirrored, and nothing is committed.
    auto cases = state::CaseStore::Open(dir, state::StoreOptions{{}, 0, *kek, nullptr});
    if (!cases) {
      PrintErr(kCmd, "cannot open " + dir + " (is the engine still running? stop it first): " +
                         cases.error().ToString());
      return kExitFailure;
    }
    auto loaded = (*cases)->LoadCase(subject);
    if (!loaded) {
      if (WrongKek(loaded.error())) return kek_mismatch();
      PrintErr(kCmd, dir + ": " + loaded.error().ToString());
      return kExitFailure;
    }
    if (loaded->has_value()) {
      found = Found{std::move(*cases), std::move(**loaded)};
      break;
    }
  }
  if (!found) {
    PrintErr(kCmd, "no case for this NHS number in " + data_dir);
    return kExitFailure;
  }

  auto doc = ExportJson(*found->cases, subject, found->state);
  if (!doc) {
    if (WrongKek(doc.error())) return kek_mismatch();
    PrintErr(kCmd, doc.error().ToString());
    return kExitFailure;
  }
  if (auto error = WriteOut(out, *doc)) {
    PrintErr(kCmd, *error);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace pathway::ctl
