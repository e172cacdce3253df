// What the per-child operations report and send, shared by `pathwayctl` and by the
// engine when it runs them for the gateway's operations role (docs/operations.md): the
// JSON of a case check (rebuild) and of a re-drive plan, and the commands the engine is
// sent. Reports name fields and ids, never values.
//
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/rebuild.h"
#include "workflow/redrive.h"

namespace pathway::operations {

// One checked case: {"subject_key", "partition", "history_differs",
// "history_differences", "redecided_differs", "redecided_fields", "redecided"}.
std::string CaseCheckJson(const std::string& subject, int32_t partition,
                          const workflow::CaseCheck& check);

// One case's re-drive plan: {"subject_key", "partition", "excluded_commands", "fields",
// "changes"} (the CaseCorrected the engine would emit, protobuf names).
std::string RedrivePlanJson(const std::string& subject, int32_t partition,
                            const workflow::RedrivePlan& plan);

// Who sends a command to the engine, as part of which audited operation.
struct Sender {
  std::string operator_id;
  std::string operation_id;
  std::string system;  // Source.system: "pathwayctl" or "pathway-gateway"
};

// `e` (its payload set) stamped as the command of kind `kind` ("redrive", "migrate") an
// operation sends for `subject`: its event id is fixed by the kind, the operation and
// the subject, so a command sent twice in one operation is a repeat to the engine;
// source, actor (the operator, role operations), correlation (the operation) and
// occurred_at (`now`). Keyed by `subject` on pathway.commands.v1.
pathway::v1::Envelope StampCommand(std::string_view kind, const std::string& subject,
                                   const Sender& by, TimePoint now, pathway::v1::Envelope e);

// The CaseRedriveRequested for `subject` that withdraws the kept commands `withdraw`
// names which `source_system` sent (none: the case is re-decided as it is).
pathway::v1::Envelope RedriveCommand(const std::string& subject,
                                     const std::vector<std::string>& withdraw,
                                     const std::string& source_system, const Sender& by,
                                     TimePoint now);

}  // namespace pathway::operations
