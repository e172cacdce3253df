// pathwayctl describe: a pathway's state diagram, drawn from its definition.
#include <cstdio>
#include <string>
#include <vector>

#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "workflow/pathway.h"

namespace pathway::ctl {
namespace {
constexpr std::string_view kUsage =
    "usage: pathwayctl describe PATHWAY [--format mermaid]\n"
    "\n"
    "Prints the state diagram of the newest version of PATHWAY, drawn from the\n"
    "definition the engine runs. PATHWAY is one of:\n";
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
  if (format != "mermaid") return UsageError(kCmd, "--format must be mermaid");
  if (positional.size() != 1) return UsageError(kCmd, "expected one PATHWAY");
  const workflow::Definition* d = workflow::FindDefinitionByName(positional[0]);
  if (!d) return UsageError(kCmd, "unknown pathway '" + positional[0] + "'");
  std::string diagram = workflow::DescribeMermaid(*d);
  std::fwrite(diagram.data(), 1, diagram.size(), stdout);
  return kExitOk;
}

}  // namespace pathway::ctl
