#include "services/pathwayctl/operation.h"

#include <cstdlib>

namespace pathway::ctl {

using operations::kMaxReasonBytes;

void OperatorFlags::AddTo(std::vector<Flag>& flags) {
  flags.push_back({"--operator", true, Store(operator_id)});
  flags.push_back({"--reason", true, Store(reason)});
}

std::optional<std::string> OperatorFlags::Check() {
  if (operator_id.empty()) {
    if (const char* env = std::getenv("PATHWAY_OPERATOR")) operator_id = env;
  }
  if (operations::IsBlank(operator_id)) {
    return "--operator is required (or $PATHWAY_OPERATOR): every operations action is "
           "recorded with who ran it";
  }
  if (operations::IsBlank(reason)) {
    return "--reason is required: every operations action is recorded with why it was run";
  }
  if (reason.size() > kMaxReasonBytes) {
    return "--reason is longer than " + std::to_string(kMaxReasonBytes) + " bytes";
  }
  return std::nullopt;
}

std::optional<AuditedAction> StartAudited(std::string_view command, const bus::KafkaConfig& config,
                                          const OperatorFlags& who, OperationAudit::Action action,
                                          std::string_view kek, const TimeSource& time) {
  AuditedAction run;
  auto sink = NewKafkaAuditSink(config);
  if (!sink) {
    PrintErr(command, "audit: " + sink.error().ToString());
    return std::nullopt;
  }
  run.sink = std::move(*sink);
  auto audit = OperationAudit::Start(*run.sink, who, std::move(action), kek, time);
  if (!audit) {
    PrintErr(command, "the action was not recorded on pathway.audit.v1, so it did not run: " +
                          audit.error().ToString());
    return std::nullopt;
  }
  run.audit = std::move(*audit);
  return run;
}

}  // namespace pathway::ctl
