// pathwayctl inspect: one child's case as the engine holds it, and why it is in its
// state: pathways with their definition versions, the step and command that put each
// where it is, deadlines with their rules, refusals, the shared record's provenance,
// pending timers, the outbox, and the whole history with business and processing
// dates. Reads an engine's stores read-only (the engine may run); audited on the
// child's trail before anything is shown. docs/operations.md, "inspect".
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/operations/inspection.h"
#include "services/pathwayctl/case_sweep.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/progress.h"
#include "workflow/identifiers.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "inspect";

constexpr std::string_view kUsage =
    "usage: pathwayctl inspect (--subject-key KEY | --nhs-number-file F|- | --instance ID)\n"
    "                          --operator ID --reason TEXT [--json] [flags]\n"
    "\n"
    "Shows one child's case as the engine holds it, and why it is in its state: each\n"
    "pathway with its definition version, the step and the command (with its sender)\n"
    "that put it where it is, its deadlines and their rules; refused commands; the\n"
    "shared record's provenance (what, from whom, when: the content itself is for\n"
    "'pathwayctl export'); consents; pending deadline timers; outputs waiting in the\n"
    "outbox; and the whole history, each event with its business and processing dates.\n"
    "Reads the engine's stores while it runs. Recorded on pathway.audit.v1, and on the\n"
    "child's own audit trail, before anything is shown.\n"
    "\n"
    "  --subject-key KEY              the child by subject key (the child id)\n"
    "  --nhs-number-file F            the child by the NHS number in F (- for stdin)\n"
    "  --instance ID                  the child whose case holds this pathway instance\n"
    "  --json                         one JSON document on stdout\n";

struct Found {
  int32_t partition = 0;
  std::string subject;
  std::unique_ptr<state::CaseStore> cases;
  store::CaseState state;
};

// Finds the case: by subject key in every partition, or by instance id in any case.
Result<std::optional<Found>> Find(const EngineData& data, std::string subject,
                                  const std::string& instance) {
  std::vector<int32_t> partitions = data.partitions;
  if (!instance.empty()) {
    auto place = FindInstance(data, instance);
    if (!place) return place.error();
    if (!*place) return std::optional<Found>();
    partitions = {(*place)->partition};
    subject = (*place)->subject;
  }
  for (int32_t p : partitions) {
    auto cases = data.OpenPartition(p);
    if (!cases) return cases.error();
    auto loaded = (*cases)->LoadCase(subject);
    if (!loaded) return loaded.error();
    if (loaded->has_value()) {
      return std::optional<Found>(Found{p, subject, std::move(*cases), std::move(**loaded)});
    }
  }
  return std::optional<Found>();
}

}  // namespace

int RunInspect(std::span<char* const> args) {
  bool json = false, help = false;
  std::string subject_key, nhs_file, instance;
  EngineDataFlags data_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--subject-key", true, Store(subject_key)}, {"--nhs-number-file", true, Store(nhs_file)},
      {"--instance", true, Store(instance)},       {"--json", false, Set(json, true)},
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
  // Not echoed: a positional argument may well be an NHS number.
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (!subject_key.empty() + !nhs_file.empty() + !instance.empty() != 1) {
    return UsageError(kCmd, "name one case: --subject-key, --nhs-number-file or --instance");
  }
  if (!subject_key.empty() && !workflow::IsSubjectKey(subject_key)) {
    return UsageError(kCmd, "--subject-key must be 64 lower-case hex digits (a child id)");
  }
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
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

  RealTimeSource clock;
  const std::string scope = instance.empty() ? "subject " + subject_key : "instance " + instance;
  auto run = StartAudited(kCmd, kafka.config, who, {"inspect", scope, false}, data->kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  const auto fail = [&](const std::string& message) {
    PrintErr(kCmd, message);
    (void)audit->Fail(message, {});
    return kExitFailure;
  };
  const auto read_error = [&](const Error& e) {
    if (IsKekMismatch(e)) {
      return fail("the key-encryption key (" + data->kek_path +
                  ") does not match the one the engine's stores were written with");
    }
    return fail(e.ToString());
  };

  auto found = Find(*data, subject_key, instance);
  if (!found) return read_error(found.error());
  if (!found->has_value()) {
    (void)audit->Finish({{"cases", 0}});
    PrintErr(kCmd, instance.empty()
                       ? "no case for this child in " + data->data_dir
                       : "no case holds instance " + instance + " in " + data->data_dir);
    return kExitFailure;
  }
  Found& f = **found;
  auto inspection = operations::LoadInspection(*f.cases, f.partition, f.subject, f.state);
  if (!inspection) return read_error(inspection.error());

  // Shown from here: on the child's trail first.
  if (Status s = audit->ChildShown(f.subject); !s) {
    return fail("the view of the case was not recorded on pathway.audit.v1: " +
                s.error().ToString());
  }
  const std::string shown = json ? operations::InspectionJson(*inspection, audit->id()) + "\n"
                                 : operations::InspectionText(*inspection);
  std::fwrite(shown.data(), 1, shown.size(), stdout);
  (void)audit->Finish({{"cases", 1}, {"events", inspection->history.size()}});
  return kExitOk;
}

}  // namespace pathway::ctl
