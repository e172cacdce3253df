// The operations the gateway's operations role asks the engine to run for one child
// (docs/operations.md, "Over HTTP"), served on the query endpoint after its
// service-token and readiness checks (query_service.h). Each is a POST with an
// OperationRequest body (the operator and the reason; for a re-drive, its scope):
//
//   /internal/v1/operations/children/<child id>/inspect   the case inspection
//       (services/operations/inspection.h, the JSON of `pathwayctl inspect --json`)
//   /internal/v1/operations/children/<child id>/check     the case checked against its
//       history as `pathwayctl rebuild --subject-key` checks it
//   /internal/v1/operations/children/<child id>/redrive   what re-deciding the case
//       without the scope's commands would change (`pathwayctl redrive`); with
//       `apply`, and when anything would, the re-drive command sent to the engine on
//       pathway.commands.v1, so the engine makes the change through its normal path.
//
// and, for any dead letter (docs/operations.md, "Dead letters"; not a child's, so any
// instance runs them), with an OperationRequest body without a scope:
//
//   /internal/v1/operations/deadletters/<PARTITION>/<OFFSET>/show       its original,
//       opened with the engine's key (the JSON of `pathwayctl deadletters show --json`)
//   /internal/v1/operations/deadletters/<PARTITION>/<OFFSET>/resubmit   its original
//       produced again to pathway.inbound.v1, once
//   /internal/v1/operations/deadletters/<PARTITION>/<OFFSET>/discard    closed, nothing
//       re-enters
//
// run by services/operations/deadletter_actions.h, as `pathwayctl deadletters` runs them.
// Answers: 200 the document; 404 deadletter.not_found; 409 deadletter.closed
// (resubmitted or discarded already); 422 deadletter.refused (the original is gone,
// differs or does not decode; an output on no topic); 503 audit.unavailable (nothing
// read or shown, nothing produced), deadletter.unavailable (the brokers did not answer
// in time), operations.unavailable (the engine was started without the clients) or
// operation.busy (another action runs on this instance).
//
// Answers for a child: 200 the report; 404 child.not_found; 421 engine.not_owner; 400
// operation.operator_id, operation.reason or operation.redrive.<field>; 422
// operation.redrive.instance_id (not this child's); 503 audit.unavailable (nothing
// read or shown), operation.not_sent (a re-drive the broker did not confirm) or
// operation.busy (another action runs on this instance).
//
// The engine runs them because it holds what they need: the child's store, its
// decision settings and the key-encryption key that seals the operator's reason. The
// gateway has none of these; it authenticates the operator, checks the role and passes
// who and why.
//
// No record, no action, as for `pathwayctl`: STARTED is confirmed on pathway.audit.v1
// before anything is read, the child shown is recorded on the child's own trail before
// the answer is sent, and FINISHED or FAILED ends the operation. Actions run one at a
// time (the sinks are not thread-safe; operations are rare). Reads hold the
// partition's read gate only while copying the case out, never while waiting for the
// broker, so a rebalance is not held up by an audit record. An action asked for while
// another runs is answered at once, 503 operation.busy (nothing recorded or read),
// rather than waiting: a wait would hold a thread of the query endpoint, whose reads
// must go on.
//
// Thread-safe. Logs nothing a request carried.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "pathway/v1/views.pb.h"
#include "services/bus/event_bus.h"
#include "services/engine/query_service.h"
#include "services/gateway/http/http_server.h"
#include "services/operations/deadletter_actions.h"
#include "services/operations/operation_audit.h"
#include "workflow/case_step.h"

namespace pathway::engine {

// What the dead-letter actions use: clients of the engine's brokers, made for each
// action (the Kafka ones in the engine, the memory bus's in tests), and the subject
// key of a child an original names (SubjectKeyer::Key). Any missing: the dead-letter
// routes answer 503 operations.unavailable.
struct OperationsDeadLetterClients {
  std::function<Result<std::unique_ptr<bus::Consumer>>()> consumer;  // in no group
  std::function<Result<std::unique_ptr<bus::Producer>>(bus::DeliveryCallback)> producer;
  operations::SubjectKeyFn subject_key;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // bounds each action
};

class OperationsService {
 public:
  static constexpr std::string_view kPrefix = "/internal/v1/operations/";
  // The Source.system of the records and commands: run at the gateway's request.
  static constexpr std::string_view kSystem = "pathway-gateway";

  struct Sinks {
    operations::AuditSink& audit;     // pathway.audit.v1
    operations::AuditSink& commands;  // pathway.commands.v1 (re-drives)
  };

  using DeadLetterClients = OperationsDeadLetterClients;

  // The sinks, `gate` and `time` must outlive the service. `kek` (32 bytes) seals the
  // reasons, as pathwayctl's do, and opens the dead letters. `settings` are the
  // engine's own decision settings (a case checked or re-decided under others differs by
  // the settings alone); the sharing rules they point to must outlive the service.
  OperationsService(std::string kek, Sinks sinks, const ReadGate& gate, const TimeSource& time,
                    workflow::StepSettings settings, DeadLetterClients dead_letters = {});

  gateway::HttpResponse Handle(const gateway::HttpRequest& request) const;

 private:
  struct Loaded;
  gateway::HttpResponse Run(const std::string& action, const std::string& child_id,
                            const pathway::v1::OperationRequest& request) const;
  gateway::HttpResponse RunDeadLetter(const std::string& action, const std::string& place,
                                      const pathway::v1::OperationRequest& request) const;

  const std::string kek_;
  const Sinks sinks_;
  const ReadGate& gate_;
  const TimeSource& time_;
  const workflow::StepSettings settings_;
  const DeadLetterClients dead_letters_;
  mutable std::mutex mu_;  // one action at a time
};

}  // namespace pathway::engine
