// pathwayctl redrive: what re-deciding cases from their kept commands would change,
// with a partner's messages of a window left out (--exclude-source) or under the
// rules of this version: per child, the deadlines, steps and refusals a correction
// would carry. The dry run reads an engine's stores (it may run) and changes nothing;
// --apply sends each listed child's re-drive to the engine as a CaseRedriveRequested,
// so the change happens on the engine's normal path (workflow/case_step.h).
// docs/operations.md, "redrive".
#include "workflow/redrive.h"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "services/operations/case_reports.h"
#include "services/pathwayctl/case_sweep.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/redrive_sender.h"
#include "workflow/clock.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kCmd = "redrive";
constexpr int kExitInterrupted = 130;
// How the end of a run is told (FinishSweptRun).
constexpr SweptRunWords kEnd{.command = kCmd,
                             .sent = "re-drive commands",
                             .again = "run again: what was applied is not sent again",
                             .visited = "read",
                             .singular = false};

constexpr std::string_view kUsage =
    "usage: pathwayctl redrive (--all | --partition P | --subject-key KEY |\n"
    "                           --nhs-number-file F|-) [--exclude-source SYSTEM\n"
    "                           [--from YYYY-MM-DD] [--to YYYY-MM-DD]] (--dry-run | --apply)\n"
    "                           --operator ID --reason TEXT [--json] [flags]\n"
    "\n"
    "Re-decides each case in scope from the commands it kept, in business-date order,\n"
    "with the engine's own code and the rules of this version, and prints per child\n"
    "what would change: deadlines (due date, status), steps recorded or withdrawn,\n"
    "refusals made or withdrawn, and the fields. With --exclude-source, the commands\n"
    "sent by that partner system and recorded (arrived) between --from and --to\n"
    "(inclusive, London dates; open ends when not given) are left out, as if never\n"
    "sent. Who the child is and the shared record are not re-decided.\n"
    "--dry-run reads the engine's stores while it runs and changes nothing. --apply\n"
    "then sends, for each child listed, one re-drive command to the engine (on\n"
    "pathway.commands.v1): the engine re-decides the case the same way, withdraws the\n"
    "commands left out for good and emits the differences as a CaseCorrected on\n"
    "pathway.events.v1, so partners see the correction. Never written behind the\n"
    "engine's back. A run interrupted and run again sends only what is still to do and\n"
    "the engine emits nothing twice. Audited on pathway.audit.v1 before it reads\n"
    "anything, and each child listed on the child's own trail.\n"
    "Exit 0 (with or without changes to list), 1 failure, 2 bad usage, 130 interrupted.\n"
    "'pathwayctl redrive --from-inbound --help': from pathway.inbound.v1 instead.\n"
    "\n"
    "  --exclude-source SYSTEM        leave out the commands this system sent\n"
    "  --from DATE, --to DATE         only those recorded in this window\n"
    "  --dry-run                      print what would change; change nothing\n"
    "  --apply                        and have the engine make the change\n"
    "  --json                         one JSON document on stdout\n";

struct Listed {
  Place place;
  workflow::RedrivePlan plan;
};

void PrintPlan(const Listed& l) {
  std::printf("would change: subject %s (partition %d)", l.place.subject.c_str(),
              l.place.partition);
  if (!l.plan.excluded.empty()) {
    std::printf(", %zu command%s left out", l.plan.excluded.size(),
                l.plan.excluded.size() == 1 ? "" : "s");
  }
  std::printf("\n");
  PrintCorrection(l.plan.diff);
  if (!l.plan.fields.empty()) {
    std::printf("  fields:");
    for (const auto& f : l.plan.fields) std::printf(" %s", f.c_str());
    std::printf("\n");
  }
}

}  // namespace

int RunRedrive(std::span<char* const> args) {
  // From the landing topic instead of the stores' kept commands: a command of its own.
  for (const char* arg : args) {
    if (std::string_view(arg) == "--from-inbound") return RunRedriveFromInbound(args);
  }
  bool json = false, dry_run = false, apply = false;
  std::string exclude_source, from_text, to_text;
  SweptRunFlags run_flags;
  const std::vector<Flag> flags = {
      {"--exclude-source", true, Store(exclude_source)},
      {"--from", true, Store(from_text)},
      {"--to", true, Store(to_text)},
      {"--dry-run", false, Set(dry_run, true)},
      {"--apply", false, Set(apply, true)},
      {"--json", false, Set(json, true)},
  };
  if (auto exit_code = ParseSweptRunArgs(kCmd, kUsage, args, flags, run_flags)) {
    return *exit_code;
  }
  if (dry_run == apply) {
    return UsageError(kCmd, "say --dry-run (show what would change) or --apply (change it)");
  }
  workflow::RedriveFilter filter;
  using Fault = workflow::RedriveFilter::Fault;
  if (auto fault = filter.SetWindow(exclude_source, from_text, to_text)) {
    switch (*fault) {
      case Fault::kDatesWithoutSource:
        return UsageError(kCmd, "--from and --to narrow --exclude-source: name the system");
      case Fault::kFrom:
        return UsageError(kCmd, "--from must be a date, YYYY-MM-DD");
      case Fault::kTo:
        return UsageError(kCmd, "--to must be a date, YYYY-MM-DD");
      case Fault::kToBeforeFrom:
        return UsageError(kCmd, "--to is before --from");
    }
  }
  RealTimeSource clock;
  int exit_code = kExitOk;
  auto input = LoadSweptRun(kCmd, run_flags, clock, exit_code);
  if (!input) return exit_code;
  const Decisions& decisions = input->decisions;
  const Scope& scope = input->scope;
  filter.instance_id = scope.instance;  // --instance: that pathway's commands only
  std::string audited_scope = scope.text;
  if (!filter.source_system.empty()) {
    audited_scope += ", ";
    audited_scope += filter.Describe();
  }

  auto run = StartAudited(kCmd, run_flags.kafka.config, run_flags.who,
                          {"redrive", audited_scope, dry_run}, input->data.kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) {
    std::fprintf(stderr, "redrive: %s, operation %s\n", dry_run ? "dry run" : "apply",
                 audit->id().c_str());
  }
  std::unique_ptr<RedriveSender> sender;
  if (apply) {
    auto made = StartSender(kCmd, run_flags, *audit, clock);
    if (!made) return kExitFailure;
    sender = std::move(*made);
  }

  uint64_t changing = 0, excluded = 0, erased = 0, sent = 0;
  std::vector<std::string> items;
  const auto counts = [&](const SweepEnd* end) -> Counts {
    return {{"cases", end ? end->cases : 0},
            {"unreadable", end ? end->unreadable : 0},
            {"erased", erased},
            {"would_change", changing},
            {"commands_left_out", excluded},
            {"redrives_sent", sent}};
  };
  auto end = Sweep(
      input->data, scope, json,
      [&](const SweptCase& c) -> Status {
        Listed l{c.place, workflow::PlanRedrive(c.place.subject, c.state, c.history, filter,
                                                decisions.now, decisions.settings)};
        erased += l.plan.erased;
        excluded += l.plan.excluded.size();
        if (!l.plan.changes && l.plan.excluded.empty()) return {};
        changing += l.plan.changes;
        if (Status s = RecordShown(*audit, c.place.subject); !s) return s;
        if (json) {
          items.push_back(operations::RedrivePlanJson(l.place.subject, l.place.partition, l.plan));
        } else {
          PrintPlan(l);
        }
        if (sender) {
          if (Status s = sender->Send(c.place.subject, l.plan.excluded, filter.source_system); !s) {
            return s;
          }
          ++sent;
        }
        return {};
      },
      PrintUnreadable);
  if (auto failed = FinishSweptRun(kEnd, *input, *audit, sender.get(), end, counts)) {
    return *failed;
  }
  if (json) {
    std::printf("%s\n", SweptRunJson(audit->id(), audited_scope, dry_run, "redrives_sent", sent,
                                     decisions.now, *end)
                            .Num("would_change", static_cast<int64_t>(changing))
                            .Num("commands_left_out", static_cast<int64_t>(excluded))
                            .Field("cases_changed", Array(items))
                            .Done()
                            .c_str());
  } else if (!end->interrupted && dry_run) {
    std::printf(
        "redrive (dry run): %llu cases read, %llu would change, %llu commands left out; "
        "nothing was changed\n",
        static_cast<unsigned long long>(end->cases), static_cast<unsigned long long>(changing),
        static_cast<unsigned long long>(excluded));
  } else if (!end->interrupted) {
    std::printf(
        "redrive (apply): %llu cases read, %llu to change, %llu commands left out; "
        "%llu re-drive commands sent to the engine, which emits the corrections on "
        "pathway.events.v1\n",
        static_cast<unsigned long long>(end->cases), static_cast<unsigned long long>(changing),
        static_cast<unsigned long long>(excluded), static_cast<unsigned long long>(sent));
  }
  return end->interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace pathway::ctl
