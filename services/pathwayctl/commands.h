// pathwayctl subcommands implemented outside main.cc.
#pragma once

#include <span>

namespace pathway::ctl {

// pathwayctl simulate --events FILE.jsonl [--as-of YYYY-MM-DD] [--json] [--subject-key-file F]
//                     [--statutory-sharing FILE]
int RunSimulate(std::span<char* const> args);
// pathwayctl describe PATHWAY [--format mermaid]
int RunDescribe(std::span<char* const> args);
// pathwayctl describe-sharing [--statutory-sharing FILE]
int RunDescribeSharing(std::span<char* const> args);
// pathwayctl export --data-dir DIR --nhs-number N [--subject-key-file F]
//                   [--key-encryption-key-file F] [--out FILE]
int RunExport(std::span<char* const> args);
// pathwayctl deadletters list | show | resubmit | discard ... (deadletters_command.cc)
int RunDeadLetters(std::span<char* const> args);

// pathwayctl rebuild (--all | --partition P | --subject-key K | --nhs-number-file F)
//                   --operator ID --reason TEXT [--json] [--resume-after P:KEY] ...
int RunRebuild(std::span<char* const> args);
// pathwayctl redrive (scope) [--exclude-source S [--from D] [--to D]] --dry-run
//                   --operator ID --reason TEXT [--json] ...
int RunRedrive(std::span<char* const> args);
// pathwayctl redrive --from-inbound (redrive_inbound.cc): messages of pathway.inbound.v1
// judged against the stores; the ones never decided sent again.
int RunRedriveFromInbound(std::span<char* const> args);
// pathwayctl migrate --pathway NAME --from V1 --to V2 --mapping FILE (scope)
//                   (--dry-run | --apply) --operator ID --reason TEXT [--json] ...
int RunMigrate(std::span<char* const> args);
// pathwayctl inspect (--subject-key K | --nhs-number-file F | --instance ID)
//                   --operator ID --reason TEXT [--json] ...
int RunInspect(std::span<char* const> args);
// pathwayctl backup --data-dir DIR --out BACKUP --operator ID --reason TEXT [--json] ...
int RunBackup(std::span<char* const> args);
// pathwayctl restore --from BACKUP --data-dir NEW_DIR --operator ID --reason TEXT [--json] ...
int RunRestore(std::span<char* const> args);

}  // namespace pathway::ctl
