// The audit trail of an operations action (docs/operations.md, "Every action is
// audited"): who ran it, the reason they typed, what it covered and what it found or
// changed, as OperationRecorded events on pathway.audit.v1. Shared by `pathwayctl` and
// by the engine, which runs the operations the gateway's operations role asks for.
//
// No record, no action: Start publishes STARTED and waits for the broker to confirm
// it before the action may read or change anything; a failure there is the caller's
// cue to stop. Each child an action shows to the operator is recorded on the child's
// key (AuditRecorded, AUDIT_ACTION_OPERATIONS_INSPECT), confirmed before it is shown.
//
// Not thread-safe: one action, one thread, with its own sink.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/kafka_bus.h"

namespace pathway::operations {

// The longest reason an operator may type.
inline constexpr size_t kMaxReasonBytes = 2000;

// Whether `text` is empty or only white space.
inline bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}
// Whether `reason` says why an action is run, as every operations action must: not
// blank, at most kMaxReasonBytes. The one rule for pathwayctl, the gateway and the engine.
inline bool IsStatedReason(std::string_view reason) {
  return !IsBlank(reason) && reason.size() <= kMaxReasonBytes;
}

// Who runs an action, why, and through what.
struct Operator {
  std::string operator_id;
  std::string reason;
  std::string system = "pathwayctl";  // Source.system of the records: the tool or the gateway
};

// Where audit records go: published and confirmed, or an error. Kafka in the tools,
// a recording fake in tests. The engine also sends the re-drives it runs for the
// gateway to pathway.commands.v1 through one (NewKafkaSink).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Publishes `envelope` keyed by `key` to pathway.audit.v1 and waits (bounded) for
  // the broker to confirm it.
  virtual Status Publish(const std::string& key, const pathway::v1::Envelope& envelope) = 0;
};

// An AuditSink over a Kafka producer made from `config`, publishing to `topic`.
Result<std::unique_ptr<AuditSink>> NewKafkaSink(
    const bus::KafkaConfig& config, std::string topic,
    std::chrono::milliseconds timeout = std::chrono::seconds(35));
// The same for pathway.audit.v1.
Result<std::unique_ptr<AuditSink>> NewKafkaAuditSink(
    const bus::KafkaConfig& config, std::chrono::milliseconds timeout = std::chrono::seconds(35));

using Counts = std::vector<std::pair<std::string, uint64_t>>;

class OperationAudit {
 public:
  struct Action {
    std::string operation;  // "inspect", "rebuild", ...
    std::string scope;      // "subject <key>", "partition 3", "all"
    bool dry_run = false;
  };
  // Records STARTED. `kek` (32 bytes) seals the reason under the operations key
  // (OperationsKey). `sink` and `time` must outlive the audit.
  static Result<std::unique_ptr<OperationAudit>> Start(AuditSink& sink, const Operator& who,
                                                       Action action, std::string_view kek,
                                                       const TimeSource& time);

  const std::string& id() const { return id_; }

  // Records that the case of `subject_key` is about to be shown to the operator.
  Status ChildShown(std::string_view subject_key);
  // The end of the action: FINISHED, FAILED (with `detail`) or INTERRUPTED.
  Status Finish(const Counts& counts);
  Status Fail(std::string_view detail, const Counts& counts);
  Status Interrupted(const Counts& counts);

 private:
  OperationAudit(AuditSink& sink, const Operator& who, Action action, std::string id,
                 std::string sealed_reason, const TimeSource& time);
  Status Record(pathway::v1::OperationPhase phase, const Counts& counts, std::string_view detail);
  pathway::v1::Envelope Base(std::string event_id) const;

  AuditSink& sink_;
  std::string operator_id_;
  std::string system_;
  Action action_;
  std::string id_;
  std::string sealed_reason_;
  const TimeSource& time_;
  uint32_t records_ = 0;
};

// The key the operator's reason is sealed under: derived from the deployment's
// key-encryption key, as the dead-letter key is.
std::string OperationsKey(std::string_view kek);
// Opens a sealed_reason (information governance, with the KEK).
Result<std::string> OpenReason(std::string_view kek, const pathway::v1::OperationRecorded& op);

}  // namespace pathway::operations
