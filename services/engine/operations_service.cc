#include "services/engine/operations_service.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "pathway/v1/views.pb.h"
#include "services/bus/key_partition.h"
#include "services/gateway/http/problem.h"
#include "services/operations/inspection.h"
#include "workflow/identifiers.h"

namespace pathway::engine {
namespace {

using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::MakeProblem;
using gateway::ProblemResponse;

constexpr std::string_view kChildren = "children/";
constexpr std::string_view kInspect = "/inspect";
constexpr size_t kMaxOperatorBytes = 200;

HttpResponse Problem(int status, std::string title, std::string rule, std::string detail,
                     std::string field = "") {
  auto p = MakeProblem(status, std::move(title), std::move(rule), std::move(detail));
  p.field = std::move(field);
  return ProblemResponse(p);
}

bool Blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// The operator and reason the gateway passes, checked as pathwayctl checks its flags.
std::optional<HttpResponse> ParseOperator(const std::string& body, operations::Operator& who) {
  pathway::v1::OperationRequest request;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(body, &request, parse).ok()) {
    return Problem(400, "Invalid body", "body.invalid_json",
                   "expected an OperationRequest in protobuf JSON");
  }
  if (Blank(request.operator_id()) || request.operator_id().size() > kMaxOperatorBytes) {
    return Problem(400, "Invalid operator", "operation.operator_id",
                   "every operations action is recorded with who ran it (1 to 200 bytes)",
                   "operator_id");
  }
  if (Blank(request.reason()) || request.reason().size() > operations::kMaxReasonBytes) {
    return Problem(400, "Invalid reason", "operation.reason",
                   "every operations action is recorded with why it was run (1 to " +
                       std::to_string(operations::kMaxReasonBytes) + " bytes)",
                   "reason");
  }
  who.operator_id = request.operator_id();
  who.reason = request.reason();
  who.system = std::string(OperationsService::kSystem);
  return std::nullopt;
}

HttpResponse AuditUnavailable(const Error& e) {
  auto r = Problem(
      503, "Audit unavailable", "audit.unavailable",
      "the action was not recorded on pathway.audit.v1, so it did not run (" + e.ToString() + ")");
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

}  // namespace

OperationsService::OperationsService(std::string kek, operations::AuditSink& audit,
                                     const ReadGate& gate, const TimeSource& time)
    : kek_(std::move(kek)), audit_(audit), gate_(gate), time_(time) {}

HttpResponse OperationsService::Handle(const HttpRequest& request) const {
  std::string_view path = request.path;
  path.remove_prefix(std::min(path.size(), kPrefix.size()));
  if (path.starts_with(kChildren) && path.ends_with(kInspect) &&
      path.size() > kChildren.size() + kInspect.size()) {
    if (request.method != "POST") {
      return Problem(405, "Method not allowed", "http.method", "use POST");
    }
    std::string_view id = path.substr(kChildren.size());
    id.remove_suffix(kInspect.size());
    operations::Operator who;
    if (auto bad = ParseOperator(request.body, who)) return std::move(*bad);
    return Inspect(std::string(id), who);
  }
  return Problem(404, "Not found", "http.not_found", "no such operation");
}

HttpResponse OperationsService::Inspect(const std::string& child_id,
                                        const operations::Operator& who) const {
  const auto not_found = [] {
    return Problem(404, "Not found", "child.not_found", "no child is known by this id");
  };
  if (!workflow::IsSubjectKey(child_id)) return not_found();
  const int32_t partition = bus::KeyPartition(child_id, gate_.partition_count());
  const auto not_owner = [partition] {
    return Problem(421, "Not this instance", "engine.not_owner",
                   "this instance does not serve partition " + std::to_string(partition));
  };
  // Asked of the wrong instance, nothing is recorded: the gateway asks the owner next.
  const auto serving = gate_.Serving();
  if (std::find(serving.begin(), serving.end(), partition) == serving.end()) return not_owner();

  std::lock_guard lock(mu_);
  auto audit = operations::OperationAudit::Start(
      audit_, who, {"inspect", "subject " + child_id, false}, kek_, time_);
  if (!audit) return AuditUnavailable(audit.error());

  std::optional<Result<operations::CaseInspection>> loaded;
  bool found = false;
  const bool served = gate_.Read(partition, [&](state::CaseStore& store) {
    auto state = store.LoadCase(child_id);
    if (!state) {
      loaded.emplace(state.error());
      return;
    }
    if (!state->has_value()) return;
    found = true;
    loaded.emplace(operations::LoadInspection(store, partition, child_id, std::move(**state)));
  });
  if (!served) {
    (void)(*audit)->Fail("the partition moved to another instance", {});
    return not_owner();
  }
  if (!found && !loaded) {
    (void)(*audit)->Finish({{"cases", 0}});
    return not_found();
  }
  if (!*loaded) {
    (void)(*audit)->Fail("the case could not be read", {});
    return Problem(500, "Internal error", "engine.store", "the case could not be read");
  }
  const operations::CaseInspection& inspection = **loaded;
  // Shown from here: on the child's trail first.
  if (Status s = (*audit)->ChildShown(child_id); !s) {
    (void)(*audit)->Fail("the view of the case was not recorded", {});
    return AuditUnavailable(s.error());
  }
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  r.body = operations::InspectionJson(inspection, (*audit)->id());
  (void)(*audit)->Finish({{"cases", 1}, {"events", inspection.history.size()}});
  return r;
}

}  // namespace pathway::engine
