// pathwayctl migrate: moves running instances of one pathway from one definition
// version to another, with an explicit state mapping (a JSON file: {"state at the old
// version": "state at the new one", ...}). The dry run lists, per child, each instance
// of the pathway at --from: moved (with what re-deciding it under --to changes: the
// deadlines recomputed, steps, refusals) or not moved and why (its state is not in the
// mapping, or re-decided under the new version it ends in another state than the
// mapping says). Computed with workflow::PlanMigrate, the code the engine decides a
// CaseMigrateRequested with; --apply sends one per child with something to move.
// docs/operations.md, "migrate"; decision 128.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "services/pathwayctl/case_sweep.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/redrive_sender.h"
#include "workflow/clock.h"
#include "workflow/redrive.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;

constexpr std::string_view kCmd = "migrate";
constexpr int kExitInterrupted = 130;
// How the end of a run is told (FinishSweptRun).
constexpr SweptRunWords kEnd{.command = kCmd,
                             .sent = "migration commands",
                             .again = "run again: what was moved is not sent again",
                             .visited = "read",
                             .singular = false};

constexpr std::string_view kUsage =
    "usage: pathwayctl migrate --pathway NAME --from V1 --to V2 --mapping FILE\n"
    "                          (--all | --partition P | --subject-key KEY |\n"
    "                           --nhs-number-file F|-) (--dry-run | --apply)\n"
    "                          --operator ID --reason TEXT [--json] [flags]\n"
    "\n"
    "Moves running instances of pathway NAME from definition version V1 to V2. FILE is\n"
    "a JSON object mapping each state of V1 to a state of V2 ({\"waiting\": \"waiting\",\n"
    "...}); a state of neither version is refused (exit 2). Each case in scope is\n"
    "re-decided from the commands it kept with its V1 instances started under V2, with\n"
    "the engine's own code. Per child it prints each V1 instance: moved, with what\n"
    "changes (deadlines recomputed under V2, steps, refusals), or not moved and why (its\n"
    "state is not in the mapping, or under V2 it ends in another state than the mapping\n"
    "says). --dry-run reads the engine's stores while it runs and changes nothing.\n"
    "--apply then sends, for each child with an instance to move, one migration command\n"
    "to the engine (on pathway.commands.v1): the engine decides it the same way, records\n"
    "the move and emits the differences as one CaseCorrected on pathway.events.v1. A run\n"
    "interrupted and run again sends only what is still to move; the engine emits\n"
    "nothing twice. Audited on pathway.audit.v1 before it reads anything, and each child\n"
    "listed on the child's own trail.\n"
    "Exit 0, 1 failure, 2 bad usage, 130 interrupted.\n"
    "\n"
    "  --pathway NAME                 e.g. neurodevelopmental\n"
    "  --from V1, --to V2             versions (pathwayctl describe --help)\n"
    "  --mapping FILE                 the state mapping, a JSON object\n"
    "  --dry-run                      print what would move; change nothing\n"
    "  --apply                        and have the engine move them\n"
    "  --json                         one JSON document on stdout\n";

struct Listed {
  Place place;
  workflow::MigratePlan plan;
};

std::string PlanJson(const Listed& l) {
  std::vector<std::string> instances, fields;
  for (const auto& i : l.plan.instances) {
    instances.push_back(Json()
                            .Str("instance_id", i.instance_id)
                            .Str("state", i.state)
                            .Str("to_state", i.to_state)
                            .Bool("moved", i.moved)
                            .Str("why_not", i.why)
                            .Done());
  }
  for (const auto& f : l.plan.fields) fields.push_back(Quote(f));
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string diff;
  if (!google::protobuf::util::MessageToJsonString(l.plan.diff, &diff, options).ok()) {
    diff = "null";
  }
  return Json()
      .Str("subject_key", l.place.subject)
      .Num("partition", l.place.partition)
      .Field("instances", Array(instances))
      .Bool("would_change", l.plan.changes)
      .Field("fields", Array(fields))
      .Field("changes", diff)
      .Done();
}

void PrintPlan(const Listed& l) {
  std::printf("subject %s (partition %d): %zu to move%s\n", l.place.subject.c_str(),
              l.place.partition, l.plan.moved, l.plan.changes ? ", would change" : "");
  for (const auto& i : l.plan.instances) {
    if (i.moved) {
      std::printf("  moved: instance %s (%s -> %s)\n", i.instance_id.c_str(), i.state.c_str(),
                  i.to_state.c_str());
    } else {
      std::printf("  not moved: instance %s: %s\n", i.instance_id.c_str(), i.why.c_str());
    }
  }
  PrintCorrection(l.plan.diff);
}

// The mapping file: a JSON object of state names. An error names what is wrong.
std::optional<std::string> ReadMapping(const std::string& path,
                                       std::map<std::string, std::string>& mapping) {
  std::ifstream in(path);
  if (!in) return "cannot read the mapping file " + path;
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &object).ok()) {
    return "the mapping file is not a JSON object of state names";
  }
  for (const auto& [from, to] : object.fields()) {
    if (to.kind_case() != google::protobuf::Value::kStringValue) {
      return "the mapping of '" + from + "' is not a state name";
    }
    mapping[from] = to.string_value();
  }
  return std::nullopt;
}

bool ParseVersion(const std::string& text, uint32_t& out) {
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  out = static_cast<uint32_t>(std::stoul(text));
  return out > 0;
}

}  // namespace

int RunMigrate(std::span<char* const> args) {
  bool json = false, dry_run = false, apply = false;
  std::string pathway_name, from_text, to_text, mapping_path;
  SweptRunFlags run_flags;
  const std::vector<Flag> flags = {
      {"--pathway", true, Store(pathway_name)}, {"--from", true, Store(from_text)},
      {"--to", true, Store(to_text)},           {"--mapping", true, Store(mapping_path)},
      {"--dry-run", false, Set(dry_run, true)}, {"--apply", false, Set(apply, true)},
      {"--json", false, Set(json, true)},
  };
  if (auto exit_code = ParseSweptRunArgs(kCmd, kUsage, args, flags, run_flags)) {
    return *exit_code;
  }
  if (dry_run == apply) {
    return UsageError(kCmd, "say --dry-run (show what would move) or --apply (move them)");
  }
  const workflow::Definition* named = workflow::FindDefinitionByName(pathway_name);
  if (!named) return UsageError(kCmd, "--pathway: no pathway named '" + pathway_name + "'");
  workflow::MigrationRequest request;
  request.kind = named->kind;
  if (!ParseVersion(from_text, request.from_version) ||
      !ParseVersion(to_text, request.to_version)) {
    return UsageError(kCmd, "--from and --to must be definition versions (1, 2, ...)");
  }
  if (mapping_path.empty()) return UsageError(kCmd, "--mapping FILE is required");
  if (auto error = ReadMapping(mapping_path, request.mapping)) return UsageError(kCmd, *error);
  if (auto r = workflow::CheckMigrationRequest(request)) return UsageError(kCmd, r->reason);
  RealTimeSource clock;
  int exit_code = kExitOk;
  auto input = LoadSweptRun(kCmd, run_flags, clock, exit_code);
  if (!input) return exit_code;
  const Decisions& decisions = input->decisions;
  const Scope& scope = input->scope;
  if (!scope.instance.empty()) request.instance_ids.insert(scope.instance);
  std::string audited_scope = scope.text;
  audited_scope += ", ";
  audited_scope += pathway_name;
  audited_scope += " version ";
  audited_scope += std::to_string(request.from_version);
  audited_scope += " to ";
  audited_scope += std::to_string(request.to_version);

  auto run = StartAudited(kCmd, run_flags.kafka.config, run_flags.who,
                          {"migrate", audited_scope, dry_run}, input->data.kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) {
    std::fprintf(stderr, "migrate: %s, operation %s\n", dry_run ? "dry run" : "apply",
                 audit->id().c_str());
  }
  std::unique_ptr<RedriveSender> sender;
  if (apply) {
    auto made = StartSender(kCmd, run_flags, *audit, clock);
    if (!made) return kExitFailure;
    sender = std::move(*made);
  }
  // What the engine is sent: the request as checked, for the instances that move.
  v1::CaseMigrateRequested command;
  command.set_pathway(request.kind);
  command.set_from_version(request.from_version);
  command.set_to_version(request.to_version);
  for (const auto& [from, to] : request.mapping) {
    auto* m = command.add_mapping();
    m->set_from_state(from);
    m->set_to_state(to);
  }

  uint64_t moving = 0, not_moving = 0, changing = 0, erased = 0, sent = 0;
  std::vector<std::string> items;
  const auto counts = [&](const SweepEnd* end) -> Counts {
    return {{"cases", end ? end->cases : 0},
            {"unreadable", end ? end->unreadable : 0},
            {"erased", erased},
            {"instances_moved", moving},
            {"instances_not_moved", not_moving},
            {"would_change", changing},
            {"migrations_sent", sent}};
  };
  auto end = Sweep(
      input->data, scope, json,
      [&](const SweptCase& c) -> Status {
        Listed l{c.place, workflow::PlanMigrate(c.place.subject, c.state, c.history, request,
                                                decisions.now, decisions.settings)};
        erased += l.plan.erased;
        if (l.plan.instances.empty()) return {};
        moving += l.plan.moved;
        not_moving += l.plan.instances.size() - l.plan.moved;
        changing += l.plan.changes;
        if (Status s = RecordShown(*audit, c.place.subject); !s) return s;
        if (json) {
          items.push_back(PlanJson(l));
        } else {
          PrintPlan(l);
        }
        if (sender && l.plan.moved > 0) {
          v1::CaseMigrateRequested one = command;
          for (const auto& i : l.plan.instances) {
            if (i.moved) one.add_instance_ids(i.instance_id);
          }
          if (Status s = sender->SendMigration(c.place.subject, std::move(one)); !s) return s;
          ++sent;
        }
        return {};
      },
      PrintUnreadable);
  if (auto failed = FinishSweptRun(kEnd, *input, *audit, sender.get(), end, counts)) {
    return *failed;
  }
  if (json) {
    std::printf("%s\n", SweptRunJson(audit->id(), audited_scope, dry_run, "migrations_sent", sent,
                                     decisions.now, *end)
                            .Num("instances_moved", static_cast<int64_t>(moving))
                            .Num("instances_not_moved", static_cast<int64_t>(not_moving))
                            .Num("would_change", static_cast<int64_t>(changing))
                            .Field("cases_listed", Array(items))
                            .Done()
                            .c_str());
  } else if (!end->interrupted) {
    std::printf(
        "migrate (%s): %llu cases read, %llu instances to move (%llu cases would change), "
        "%llu not moved; %s\n",
        dry_run ? "dry run" : "apply", static_cast<unsigned long long>(end->cases),
        static_cast<unsigned long long>(moving), static_cast<unsigned long long>(changing),
        static_cast<unsigned long long>(not_moving),
        dry_run ? "nothing was changed"
                : (std::to_string(sent) + " migration commands sent to the engine").c_str());
  }
  return end->interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace pathway::ctl
