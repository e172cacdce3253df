// The operations the gateway's operations role asks the engine to run
// (docs/operations.md, "Over HTTP"), served on the query endpoint after its service-token
// and readiness checks (query_service.h):
//
//   POST /internal/v1/operations/children/<child id>/inspect   body OperationRequest
//       200 the case inspection (services/operations/inspection.h, the JSON of
//       `pathwayctl inspect --json`); 404 child.not_found; 421 engine.not_owner;
//       400 operation.operator_id / operation.reason; 503 audit.unavailable.
//
// The engine runs them because it holds what they need: the child's store and the
// key-encryption key that seals the operator's reason. The gateway has neither; it
// authenticates the operator, checks the role and passes who and why.
//
// No record, no action, as for `pathwayctl`: STARTED is confirmed on pathway.audit.v1
// before anything is read, the child shown is recorded on the child's own trail before
// the answer is sent, and FINISHED or FAILED ends the operation. Actions run one at a
// time (the audit sink is not thread-safe; operations are rare). Reads hold the
// partition's read gate only while copying the case out, never while waiting for the
// broker, so a rebalance is not held up by an audit record.
//
// Thread-safe. Logs nothing a request carried.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "common/time_source.h"
#include "services/engine/query_service.h"
#include "services/gateway/http/http_server.h"
#include "services/operations/operation_audit.h"

namespace pathway::engine {

class OperationsService {
 public:
  static constexpr std::string_view kPrefix = "/internal/v1/operations/";
  // The Source.system of the audit records: the operations ran at the gateway's request.
  static constexpr std::string_view kSystem = "pathway-gateway";

  // `audit`, `gate` and `time` must outlive the service. `kek` (32 bytes) seals the
  // reasons, as pathwayctl's do.
  OperationsService(std::string kek, operations::AuditSink& audit, const ReadGate& gate,
                    const TimeSource& time);

  gateway::HttpResponse Handle(const gateway::HttpRequest& request) const;

 private:
  gateway::HttpResponse Inspect(const std::string& child_id, const operations::Operator& who) const;

  const std::string kek_;
  operations::AuditSink& audit_;
  const ReadGate& gate_;
  const TimeSource& time_;
  mutable std::mutex mu_;  // one action at a time
};

}  // namespace pathway::engine
