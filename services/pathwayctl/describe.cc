// pathwayctl describe: a pathway's state diagram, or the facts its steps need, drawn
// from its definition.
// pathwayctl describe-sharing: the statutory sharing rules a configuration file holds.
#include <cstdio>
#include <string>
#include <vector>

#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"

namespace pathway::ctl {
namespace {
constexpr std::string_view kUsage =
    "usage: pathwayctl describe PATHWAY [--format mermaid|needs]\n"
    "\n"
    "Prints the state diagram of the newest version of PATHWAY (mermaid), or the\n"
    "facts each of its steps needs from a family or another agency (needs: a\n"
    "Markdown table of step, fact, who is asked when the shared record cannot give\n"
    "it, and how long an answer serves), drawn from the definition the engine runs.\n"
    "PATHWAY is one of:\n";

constexpr std::string_view kSharingUsage =
    "usage: pathwayctl describe-sharing [--statutory-sharing FILE]\n"
    "\n"
    "Checks FILE (e.g. config/statutory_sharing.json, as the engine and simulate take\n"
    "it) and prints each rule: the agency that may use the listed fact types of a\n"
    "child's record for one purpose without the family's consent, and the legal basis\n"
    "every such use names in the audit trail. Without FILE there are no rules: nothing\n"
    "is shared without consent. A bad FILE exits 2 naming the rule and field.\n";

void Line(std::string_view label, std::string_view value) {
  std::printf("  %-12.*s %.*s\n", static_cast<int>(label.size()), label.data(),
              static_cast<int>(value.size()), value.data());
}
}  // namespace

int RunDescribe(std::span<char* const> args) {
  constexpr std::string_view kCmd = "describe";
  std::string format = "mermaid";
  bool help = false;
  std::vector<Flag> flags = {{"--format", true, Store(format)}, {"--help", false, Set(help, true)}};
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    for (const auto* d : workflow::AllDefinitions()) {
      std::printf("  %-24.*s v%u %.*s\n", static_cast<int>(d->name.size()), d->name.data(),
                  d->version, static_cast<int>(d->title.size()), d->title.data());
    }
    return kExitOk;
  }
  if (format != "mermaid" && format != "needs") {
    return UsageError(kCmd, "--format must be mermaid or needs");
  }
  if (positional.size() != 1) return UsageError(kCmd, "expected one PATHWAY");
  const workflow::Definition* d = workflow::FindDefinitionByName(positional[0]);
  if (!d) return UsageError(kCmd, "unknown pathway '" + positional[0] + "'");
  std::string diagram =
      format == "needs" ? workflow::DescribeNeeds(*d) : workflow::DescribeMermaid(*d);
  std::fwrite(diagram.data(), 1, diagram.size(), stdout);
  return kExitOk;
}

int RunDescribeSharing(std::span<char* const> args) {
  constexpr std::string_view kCmd = "describe-sharing";
  std::string path;
  bool help = false;
  std::vector<Flag> flags = {{"--statutory-sharing", true, Store(path)},
                             {"--help", false, Set(help, true)}};
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kSharingUsage.data(), 1, kSharingUsage.size(), stdout);
    return kExitOk;
  }
  if (!positional.empty()) return UsageError(kCmd, "unexpected argument '" + positional[0] + "'");
  if (path.empty()) {
    std::puts("no statutory sharing file: nothing is shared without the family's consent");
    return kExitOk;
  }
  pathway::config::v1::StatutorySharing sharing;
  if (auto error = LoadStatutorySharing(path, sharing)) {
    PrintErr(kCmd, *error);
    return kExitUsage;
  }
  std::printf("statutory sharing: %d rule%s from %s\n", sharing.rules_size(),
              sharing.rules_size() == 1 ? "" : "s", path.c_str());
  if (sharing.rules_size() == 0) {
    std::puts("nothing is shared without the family's consent");
    return kExitOk;
  }
  std::puts(
      "Each rule lets its agency use the fact types listed for its purpose without the\n"
      "family's consent (a refusal or withdrawal does not stop it); every reuse and view\n"
      "that relies on one names its legal basis in the audit trail.");
  for (const auto& rule : sharing.rules()) {
    std::string types;
    for (int t : rule.fact_types()) {
      types += (types.empty() ? "" : ", ") + workflow::FactTypeName(static_cast<v1::FactType>(t));
    }
    std::printf("\nrule %s\n", rule.id().c_str());
    Line("agency", rule.agency());
    Line("purpose", rule.purpose());
    Line("fact types", types);
    Line("legal basis", rule.legal_basis());
    if (!rule.note().empty()) Line("note", rule.note());
  }
  return kExitOk;
}

}  // namespace pathway::ctl
