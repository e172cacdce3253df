// pathwayctl rebuild: every stored case in scope checked against its history with the
// engine's own Apply and decide functions (workflow/rebuild.h). Reads an engine's data
// directory (the engine may run); changes nothing. docs/operations.md, "rebuild".
#include "workflow/rebuild.h"

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

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "rebuild";
constexpr int kExitDiverged = 3;
constexpr int kExitInterrupted = 130;
// How the end of a run is told (FinishSweptRun).
constexpr SweptRunWords kEnd{.command = kCmd,
                             .sent = "repairs",
                             .again = "run again",
                             .visited = "checked",
                             .singular = true};

constexpr std::string_view kUsage =
    "usage: pathwayctl rebuild (--all | --partition P | --subject-key KEY |\n"
    "                           --nhs-number-file F|-) --operator ID --reason TEXT\n"
    "                          [--json] [--resume-after P:KEY] [--repair] [flags]\n"
    "\n"
    "Checks every stored case in scope against its stored history, with the engine's own\n"
    "functions: the history folded from an empty case must give the stored state byte for\n"
    "byte, and the case's kept commands re-decided in business-date order must give the\n"
    "stored case (both with the deadline timers due by the as-of day fired). Reports\n"
    "each case that diverges: the fields that differ (never their values) and what\n"
    "re-deciding would change. Reads the engine's stores while it runs; changes nothing.\n"
    "Audited on pathway.audit.v1 before it reads anything.\n"
    "With --repair, each diverged case is also sent to the engine to be re-decided from\n"
    "its kept commands (a re-drive, as 'pathwayctl redrive --apply' sends): the engine\n"
    "replaces what re-deciding decides (referrals, pathways, refusals) and emits the\n"
    "difference as a CaseCorrected. Never written behind the engine's back.\n"
    "Exit 0: nothing diverged; 3: some case diverged; 130: interrupted (Ctrl-C), resume\n"
    "with the --resume-after it prints; 1: failure; 2: bad usage.\n"
    "\n"
    "  --json                         one JSON document on stdout\n"
    "  --repair                       have the engine re-decide each diverged case\n";

struct Report {
  Place place;
  workflow::CaseCheck check;
};

struct Tally {
  uint64_t cases = 0, erased = 0, diverged = 0, history = 0, redecided = 0, unreadable = 0,
           repairs = 0;
  Counts counts() const {
    return {{"cases", cases},         {"erased", erased},       {"diverged", diverged},
            {"history", history},     {"redecided", redecided}, {"unreadable", unreadable},
            {"repairs_sent", repairs}};
  }
};

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
  bool json = false, repair = false;
  SweptRunFlags run_flags;
  const std::vector<Flag> flags = {
      {"--json", false, Set(json, true)},
      {"--repair", false, Set(repair, true)},
  };
  if (auto exit_code = ParseSweptRunArgs(kCmd, kUsage, args, flags, run_flags)) {
    return *exit_code;
  }
  RealTimeSource clock;
  int exit_code = kExitOk;
  auto input = LoadSweptRun(kCmd, run_flags, clock, exit_code);
  if (!input) return exit_code;
  const Decisions& decisions = input->decisions;
  const Scope& scope = input->scope;

  // No record, no action.
  auto run = StartAudited(kCmd, run_flags.kafka.config, run_flags.who,
                          {"rebuild", scope.text, !repair}, input->data.kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) std::fprintf(stderr, "rebuild: operation %s\n", audit->id().c_str());

  std::unique_ptr<RedriveSender> sender;
  if (repair) {
    auto made = StartSender(kCmd, run_flags, *audit, clock);
    if (!made) return kExitFailure;
    sender = std::move(*made);
  }
  Tally tally;
  std::vector<Report> reports;
  auto end = Sweep(
      input->data, scope, json,
      [&](const SweptCase& c) -> Status {
        workflow::CaseCheck check = workflow::CheckCase(c.place.subject, c.state, c.history,
                                                        decisions.now, decisions.settings);
        tally.erased += check.erased;
        if (!check.diverged()) return {};
        ++tally.diverged;
        tally.history += check.history_differs;
        tally.redecided += check.redecided_differs;
        // What the case holds is about to be shown: on the child's trail first.
        if (Status s = RecordShown(*audit, c.place.subject); !s) return s;
        if (sender) {
          if (Status s = sender->Send(c.place.subject, {}); !s) return s;
          ++tally.repairs;
        }
        Report r{c.place, std::move(check)};
        if (!json) PrintReport(r);
        reports.push_back(std::move(r));
        return {};
      },
      PrintUnreadable);
  if (end) {
    tally.cases = end->cases;
    tally.unreadable = end->unreadable;
  }
  const auto counts = [&tally](const SweepEnd*) { return tally.counts(); };
  if (auto failed = FinishSweptRun(kEnd, *input, *audit, sender.get(), end, counts)) {
    return *failed;
  }
  std::vector<std::string> items;
  for (const auto& r : reports)
    items.push_back(operations::CaseCheckJson(r.place.subject, r.place.partition, r.check));

  if (end->interrupted) {
    if (json) {
      std::printf("%s\n", Json()
                              .Str("operation_id", audit->id())
                              .Str("scope", scope.text)
                              .Bool("interrupted", true)
                              .Str("resume_after", end->ResumeAfter())
                              .Num("cases", static_cast<int64_t>(tally.cases))
                              .Field("diverged", Array(items))
                              .Done()
                              .c_str());
    }
    return kExitInterrupted;
  }
  if (json) {
    std::printf("%s\n", Json()
                            .Str("operation_id", audit->id())
                            .Str("scope", scope.text)
                            .Str("as_of", workflow::FormatDate(workflow::LondonDate(decisions.now)))
                            .Num("cases", static_cast<int64_t>(tally.cases))
                            .Num("erased", static_cast<int64_t>(tally.erased))
                            .Num("unreadable", static_cast<int64_t>(tally.unreadable))
                            .Num("repairs_sent", static_cast<int64_t>(tally.repairs))
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
    if (repair) {
      std::printf(
          "rebuild: %s sent to the engine to be re-decided; run rebuild again once "
          "it has processed them\n",
          Plural(tally.repairs, "repair", "repairs").c_str());
    }
  }
  return tally.diverged > 0 || tally.unreadable > 0 ? kExitDiverged : kExitOk;
}

}  // namespace pathway::ctl
