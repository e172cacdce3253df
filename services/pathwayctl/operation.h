// The audit trail of an operations action on the command line: the --operator and
// --reason flags, and StartAudited (the Kafka sink and STARTED in one step). The trail
// itself is services/operations/operation_audit.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/kafka_bus.h"
#include "services/operations/operation_audit.h"
#include "services/pathwayctl/cli.h"

namespace pathway::ctl {

inline constexpr std::string_view kOperatorFlagsHelp =
    "  --operator ID                  who runs this (recorded on pathway.audit.v1;\n"
    "                                 default: $PATHWAY_OPERATOR)\n"
    "  --reason TEXT                  why (required; sealed on the audit topic)\n";

// Who runs an action and why, from the command line.
struct OperatorFlags : operations::Operator {
  void AddTo(std::vector<Flag>& flags);
  // Fills operator_id from $PATHWAY_OPERATOR when the flag was not given; an error
  // message names the missing flag.
  std::optional<std::string> Check();
};

using operations::AuditSink;
using operations::Counts;
using operations::NewKafkaAuditSink;
using operations::OpenReason;
using operations::OperationAudit;
using operations::OperationsKey;

// An audited action while it runs: the sink and the audit that recorded STARTED on it
// (declared in this order, so the audit goes before the sink it uses).
struct AuditedAction {
  std::unique_ptr<AuditSink> sink;
  std::unique_ptr<OperationAudit> audit;
};
// Makes the Kafka sink from `config` and records STARTED (no record, no action). On
// failure it says why on stderr as `command`'s error and returns nullopt: the caller
// exits 1 without reading anything.
std::optional<AuditedAction> StartAudited(std::string_view command, const bus::KafkaConfig& config,
                                          const OperatorFlags& who, OperationAudit::Action action,
                                          std::string_view kek, const TimeSource& time);

}  // namespace pathway::ctl
