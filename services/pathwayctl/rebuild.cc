// pathwayctl rebuild: every stored case in scope checked against its history with the
// engine's own Apply and decide functions (workflow/rebuild.h). Reads an engine's data
// directory (the engine may run); changes nothing. docs/operations.md, "rebuild".
#include "workflow/rebuild.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/progress.h"
#include "workflow/identifiers.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "rebuild";
constexpr int kExitDiverged = 3;
constexpr int kExitInterrupted = 130;

constexpr std::string_view kUsage =
    "usage: pathwayctl rebuild (--all | --partition P | --subject-key KEY |\n"
    "                           --nhs-number-file F|-) --operator ID --reason TEXT\n"
    "                          [--json] [--resume-after P:KEY] [flags]\n"
    "\n"
    "Checks every stored case in scope against its stored history, with the engine's own\n"
    "functions: the history folded from an empty case must give the stored state byte for\n"
    "byte, and the case's kept commands re-decided in business-date order must give the\n"
    "stored case (both with the deadline timers due by the as-of day fired). Reports\n"
    "each case that diverges: the fields that differ (never their values) and what\n"
    "re-deciding would change. Reads the engine's stores while it runs; changes nothing.\n"
    "Audited on pathway.audit.v1 before it reads anything.\n"
    "Exit 0: nothing diverged; 3: some case diverged; 130: interrupted (Ctrl-C), resume\n"
    "with the --resume-after it prints; 1: failure; 2: bad usage.\n"
    "\n"
    "  --all                          every case of every partition in DIR\n"
    "  --partition P                  the cases of one partition\n"
    "  --subject-key KEY              one case by its subject key (the child id)\n"
    "  --nhs-number-file F            one child by the NHS number in F (- for stdin)\n"
    "  --resume-after P:KEY           skip cases up to and including KEY of partition P\n"
    "  --json                         one JSON document on stdout\n";

// Where a case is.
struct Place {
  int32_t partition = 0;
  std::string subject;  // hex subject key
};

struct Report {
  Place place;
  workflow::CaseCheck check;
};

struct Tally {
  uint64_t cases = 0, erased = 0, diverged = 0, history = 0, redecided = 0, unreadable = 0;
  Counts counts() const {
    return {{"cases", cases},     {"erased", erased},       {"diverged", diverged},
            {"history", history}, {"redecided", redecided}, {"unreadable", unreadable}};
  }
};

std::optional<Place> ParseResume(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto p = ParsePositiveInt(text.substr(0, colon));
  std::string key(text.substr(colon + 1));
  if (text.substr(0, colon) != "0" && !p) return std::nullopt;
  if (!workflow::IsSubjectKey(key)) return std::nullopt;
  return Place{p ? static_cast<int32_t>(*p) : 0, std::move(key)};
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string CorrectionLines(const v1::CaseCorrected& c) {
  std::string out;
  for (const auto& d : c.deadlines()) {
    out += "    deadline " + d.name() + " of " + d.instance_id() + ": ";
    out += d.has_due_before()
               ? "due " + DateText(d.due_before()) + " " + StatusText(d.status_before())
               : std::string("none");
    out += " -> ";
    out += d.has_due() ? "due " + DateText(d.due()) + " " + StatusText(d.status())
                       : std::string("none");
    out += "\n";
  }
  for (const auto& s : c.steps()) {
    out += "    step " + s.step() + " on " + DateText(s.on()) + (s.implied() ? " (implied)" : "") +
           " of " + s.instance_id() + ": " + (s.withdrawn() ? "withdrawn" : "recorded") + "\n";
  }
  for (const auto& r : c.rejections()) {
    out += "    refusal of " + r.rejected_event_id() + " (" + r.rule() +
           "): " + (r.withdrawn() ? "withdrawn" : "made") + "\n";
  }
  return out;
}

std::string ReportJson(const Report& r) {
  std::vector<std::string> paths;
  for (const auto& p : r.check.history_differences) paths.push_back(Quote(p));
  std::vector<std::string> fields;
  for (const auto& f : r.check.redecided_fields) fields.push_back(Quote(f));
  std::string corrected = "null";
  if (r.check.redecided_differs) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    corrected.clear();
    if (!google::protobuf::util::MessageToJsonString(r.check.redecided, &corrected, options).ok()) {
      corrected = "null";
    }
  }
  return Json()
      .Str("subject_key", r.place.subject)
      .Num("partition", r.place.partition)
      .Bool("history_differs", r.check.history_differs)
      .Field("history_differences", Array(paths))
      .Bool("redecided_differs", r.check.redecided_differs)
      .Field("redecided_fields", Array(fields))
      .Field("redecided", corrected)
      .Done();
}

void PrintReport(const Report& r) {
  std::printf("diverged: subject %s (partition %d)\n", r.place.subject.c_str(), r.place.partition);
  if (r.check.history_differs) {
    std::printf("  the stored state differs from its history in:");
    for (const auto& p : r.check.history_differences) std::printf(" %s", p.c_str());
    std::printf("\n");
  }
  if (r.check.redecided_differs) {
    std::printf("  re-deciding its commands in business-date order would change:");
    for (const auto& p : r.check.redecided_fields) std::printf(" %s", p.c_str());
    std::printf("\n%s", CorrectionLines(r.check.redecided).c_str());
  }
}

}  // namespace

int RunRebuild(std::span<char* const> args) {
  bool all = false, json = false, help = false;
  std::string partition_text, subject_key, nhs_file, resume_text;
  EngineDataFlags data_flags;
  DecisionFlags decision_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--all", false, Set(all, true)},
      {"--partition", true, Store(partition_text)},
      {"--subject-key", true, Store(subject_key)},
      {"--nhs-number-file", true, Store(nhs_file)},
      {"--resume-after", true, Store(resume_text)},
      {"--json", false, Set(json, true)},
      {"--help", false, Set(help, true)},
  };
  data_flags.AddTo(flags);
  decision_flags.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    std::fwrite(kEngineDataFlagsHelp.data(), 1, kEngineDataFlagsHelp.size(), stdout);
    std::fwrite(kDecisionFlagsHelp.data(), 1, kDecisionFlagsHelp.size(), stdout);
    std::fwrite(kOperatorFlagsHelp.data(), 1, kOperatorFlagsHelp.size(), stdout);
    std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
    return kExitOk;
  }
  // Not echoed: a positional argument may well be an NHS number.
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  const int scopes = all + !partition_text.empty() + !subject_key.empty() + !nhs_file.empty();
  if (scopes != 1) {
    return UsageError(kCmd,
                      "name one scope: --all, --partition, --subject-key or --nhs-number-file");
  }
  std::optional<int32_t> only_partition;
  if (!partition_text.empty()) {
    auto p = ParsePositiveInt(partition_text);
    if (partition_text != "0" && (!p || *p > INT32_MAX)) {
      return UsageError(kCmd, "--partition must be a partition number");
    }
    only_partition = p ? static_cast<int32_t>(*p) : 0;
  }
  if (!subject_key.empty() && !workflow::IsSubjectKey(subject_key)) {
    return UsageError(kCmd, "--subject-key must be 64 lower-case hex digits (a child id)");
  }
  std::optional<Place> resume;
  if (!resume_text.empty()) {
    resume = ParseResume(resume_text);
    if (!resume) return UsageError(kCmd, "--resume-after must be P:KEY, as rebuild printed it");
  }
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  RealTimeSource clock;
  auto decisions = LoadDecisions(decision_flags, clock);
  if (!decisions) return UsageError(kCmd, decisions.error().detail);
  auto data = EngineData::Load(data_flags);
  if (!data) {
    PrintErr(kCmd, data.error().detail);
    return kExitFailure;
  }
  if (!nhs_file.empty()) {
    auto nhs = ReadNhsNumber(nhs_file);
    if (!nhs) return UsageError(kCmd, nhs.error().detail);
    subject_key = data->SubjectKey(*nhs);
  }
  if (only_partition && std::find(data->partitions.begin(), data->partitions.end(),
                                  *only_partition) == data->partitions.end()) {
    PrintErr(kCmd,
             "no store of partition " + std::to_string(*only_partition) + " in " + data->data_dir);
    return kExitFailure;
  }

  // No record, no action.
  const std::string scope = all              ? "all"
                            : only_partition ? "partition " + std::to_string(*only_partition)
                                             : "subject " + subject_key;
  auto sink = NewKafkaAuditSink(kafka.config);
  if (!sink) {
    PrintErr(kCmd, "audit: " + sink.error().ToString());
    return kExitFailure;
  }
  auto audit = OperationAudit::Start(**sink, who, {"rebuild", scope, true}, data->kek, clock);
  if (!audit) {
    PrintErr(kCmd, "the action was not recorded on pathway.audit.v1, so it did not run: " +
                       audit.error().ToString());
    return kExitFailure;
  }
  if (!json) std::fprintf(stderr, "rebuild: operation %s\n", (*audit)->id().c_str());

  Tally tally;
  std::vector<Report> reports;
  const auto fail = [&](const std::string& message) {
    PrintErr(kCmd, message);
    (void)(*audit)->Fail(message, tally.counts());
    return kExitFailure;
  };

  // The cases in scope, partition by partition, in key order (so a resume point is a
  // place in that order).
  std::vector<int32_t> partitions = data->partitions;
  if (only_partition) partitions = {*only_partition};
  std::map<int32_t, std::vector<std::string>> subjects;
  uint64_t total = 0;
  for (int32_t p : partitions) {
    auto cases = data->OpenPartition(p);
    if (!cases) return fail(data->PartitionDir(p) + ": " + cases.error().ToString());
    std::vector<std::string>& keys = subjects[p];
    Status scanned = (*cases)->Scan(state::ColumnFamily::kCaseState, [&](std::string_view key,
                                                                         std::string_view) {
      std::string hex = HexEncode(key);
      if (!subject_key.empty() && hex != subject_key) return;
      if (resume && (p < resume->partition || (p == resume->partition && hex <= resume->subject))) {
        return;
      }
      keys.push_back(std::move(hex));
    });
    if (!scanned) return fail(data->PartitionDir(p) + ": " + scanned.error().ToString());
    total += keys.size();
  }
  if (!subject_key.empty() && total == 0 && !resume) {
    (void)(*audit)->Finish(tally.counts());
    PrintErr(kCmd, "no case with this subject key in " + data->data_dir);
    return kExitFailure;
  }

  Interrupt interrupt;
  Progress progress =
      json ? Progress("cases", total, stderr, false) : Progress::OnStderr("cases", total);
  std::optional<Place> last;
  bool interrupted = false;
  for (const auto& [p, keys] : subjects) {
    if (interrupted) break;
    auto cases = data->OpenPartition(p);
    if (!cases) return fail(data->PartitionDir(p) + ": " + cases.error().ToString());
    for (const std::string& key : keys) {
      if (interrupt.requested()) {
        interrupted = true;
        break;
      }
      ++tally.cases;
      auto stored = (*cases)->LoadCase(key);
      auto history =
          stored ? (*cases)->History(key) : Result<std::vector<v1::Envelope>>(stored.error());
      if (!stored || !history || !stored->has_value()) {
        const Error& e = !stored ? stored.error() : history.error();
        if (IsKekMismatch(e)) {
          return fail("the key-encryption key (" + data->kek_path +
                      ") does not match the one the engine's stores were written with");
        }
        ++tally.unreadable;
        std::printf("unreadable: subject %s (partition %d): %s\n", key.c_str(), p,
                    e.ToString().c_str());
      } else {
        workflow::CaseCheck check =
            workflow::CheckCase(key, **stored, *history, decisions->now, decisions->settings);
        tally.erased += check.erased;
        if (check.diverged()) {
          ++tally.diverged;
          tally.history += check.history_differs;
          tally.redecided += check.redecided_differs;
          // What the case holds is about to be shown: recorded on the child's trail first.
          if (Status s = (*audit)->ChildShown(key); !s) {
            return fail("the view of a case was not recorded on pathway.audit.v1: " +
                        s.error().ToString());
          }
          Report r{{p, key}, std::move(check)};
          if (!json) PrintReport(r);
          reports.push_back(std::move(r));
        }
      }
      last = Place{p, key};
      progress.Add();
    }
  }
  progress.Finish();

  if (interrupted) {
    (void)(*audit)->Interrupted(tally.counts());
    const std::string after =
        last ? std::to_string(last->partition) + ":" + last->subject : std::string();
    std::fprintf(stderr, "rebuild: interrupted after %s; resume with --resume-after %s\n",
                 Plural(tally.cases, "case", "cases").c_str(),
                 after.empty() ? "(nothing checked yet: run again)" : after.c_str());
    if (json) {
      std::vector<std::string> items;
      for (const auto& r : reports) items.push_back(ReportJson(r));
      std::printf("%s\n", Json()
                              .Str("operation_id", (*audit)->id())
                              .Str("scope", scope)
                              .Bool("interrupted", true)
                              .Str("resume_after", after)
                              .Num("cases", static_cast<int64_t>(tally.cases))
                              .Field("diverged", Array(items))
                              .Done()
                              .c_str());
    }
    return kExitInterrupted;
  }
  if (Status s = (*audit)->Finish(tally.counts()); !s) {
    PrintErr(kCmd, "the end of the action was not recorded: " + s.error().ToString());
  }
  if (json) {
    std::vector<std::string> items;
    for (const auto& r : reports) items.push_back(ReportJson(r));
    std::printf("%s\n",
                Json()
                    .Str("operation_id", (*audit)->id())
                    .Str("scope", scope)
                    .Str("as_of", workflow::FormatDate(workflow::LondonDate(decisions->now)))
                    .Num("cases", static_cast<int64_t>(tally.cases))
                    .Num("erased", static_cast<int64_t>(tally.erased))
                    .Num("unreadable", static_cast<int64_t>(tally.unreadable))
                    .Field("diverged", Array(items))
                    .Done()
                    .c_str());
  } else {
    std::printf(
        "rebuild: %s checked (%s erased, not checked), %s unreadable; %s diverged "
        "(%s from the history, %s when re-decided)\n",
        Plural(tally.cases, "case", "cases").c_str(), std::to_string(tally.erased).c_str(),
        std::to_string(tally.unreadable).c_str(), std::to_string(tally.diverged).c_str(),
        std::to_string(tally.history).c_str(), std::to_string(tally.redecided).c_str());
  }
  return tally.diverged > 0 || tally.unreadable > 0 ? kExitDiverged : kExitOk;
}

}  // namespace pathway::ctl
