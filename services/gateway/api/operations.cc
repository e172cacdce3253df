#include "services/gateway/api/operations.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <utility>
#include <variant>

#include "pathway/v1/views.pb.h"
#include "services/gateway/api/reads_internal.h"
#include "services/gateway/http/problem.h"
#include "services/operations/deadletter_place.h"
#include "services/operations/operation_audit.h"
#include "workflow/identifiers.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using Respond = std::function<void(HttpResponse)>;
using namespace reads_internal;  // NOLINT(google-build-using-namespace)

constexpr std::string_view kPrefix = "/v1/operations/";
constexpr std::string_view kDeadLetters = "deadletters/";

HttpResponse Invalid(int status, std::string title, std::string rule, std::string detail,
                     std::string field) {
  Problem p = MakeProblem(status, std::move(title), std::move(rule), std::move(detail));
  p.field = std::move(field);
  return ProblemResponse(p);
}

HttpResponse BadReason() {
  return Invalid(400, "Invalid reason", "operation.reason",
                 "say why (1 to " + std::to_string(operations::kMaxReasonBytes) +
                     " bytes): every operations action is recorded with its reason",
                 "reason");
}

// Who is the signed-in operator, never anything the body says.
std::string Forwarded(const Principal& principal, const std::string& reason,
                      const v1::RedriveScope* scope) {
  v1::OperationRequest forward;
  forward.set_operator_id(principal.id);
  forward.set_reason(reason);
  if (scope) *forward.mutable_redrive() = *scope;
  std::string forwarded;
  (void)google::protobuf::util::MessageToJsonString(forward, &forwarded);
  return forwarded;
}

// The engine's answer relayed: its documents and the problems it names the rules of;
// anything else is the gateway's 503.
std::function<void(Result<HttpResponse>)> Relay(Respond respond) {
  return [respond = std::move(respond)](Result<HttpResponse> answer) {
    if (!answer) return respond(EngineError(answer.error()));
    const int s = answer->status;
    if (s == 200 || s == 400 || s == 404 || s == 409 || s == 422 || s == 503) {
      return respond(Passed(*answer));
    }
    respond(Unavailable("engine.unavailable", "the engine could not run the operation"));
  };
}

}  // namespace

OperationsApi::OperationsApi(ReadApiOptions options, EngineDirectory& directory,
                             EngineCaller& engines)
    : options_(options), directory_(directory), engines_(engines) {}

bool OperationsApi::Serves(std::string_view path) { return path.starts_with(kPrefix); }

void OperationsApi::Handle(const HttpRequest& request, const Principal& principal,
                           Respond respond) {
  if (principal.role != Role::kOperations) {
    return respond(ProblemResponse(MakeProblem(403, "Forbidden", "authorisation.role",
                                               "only the operations role runs operations")));
  }
  const std::string_view path = request.path;
  const std::string action(path.substr(std::min(path.size(), kPrefix.size())));
  const bool dead_letter = action == "deadletters/show" || action == "deadletters/resubmit" ||
                           action == "deadletters/discard";
  if (!dead_letter && action != "inspect" && action != "check" && action != "redrive") {
    return respond(
        ProblemResponse(MakeProblem(404, "Not found", "http.not_found", "no such operation")));
  }
  if (request.method != "POST") {
    HttpResponse r = ProblemResponse(
        MakeProblem(405, "Method not allowed", "http.method_not_allowed", "use POST"));
    r.headers.emplace_back("Allow", "POST");
    return respond(std::move(r));
  }
  if (dead_letter) return HandleDeadLetter(request, principal, action, std::move(respond));
  // One child and a reason; a re-drive also its scope.
  v1::OperationsRedrive body;
  bool parsed = false;
  if (action == "redrive") {
    parsed = google::protobuf::util::JsonStringToMessage(request.body, &body).ok();
  } else {
    v1::OperationsChild child;
    parsed = google::protobuf::util::JsonStringToMessage(request.body, &child).ok();
    body.set_child_id(child.child_id());
    body.set_nhs_number(child.nhs_number());
    body.set_upn(child.upn());
    body.set_reason(child.reason());
  }
  if (!parsed) {
    return respond(ProblemResponse(MakeProblem(
        400, "Invalid body", "body.invalid_json",
        action == "redrive" ? "expected an OperationsRedrive: {\"childId\" | \"nhsNumber\" | "
                              "\"upn\": ..., \"reason\": ..., \"redrive\": {...}}"
                            : "expected an OperationsChild: {\"childId\" | \"nhsNumber\" | "
                              "\"upn\": ..., \"reason\": ...}")));
  }
  if (!operations::IsStatedReason(body.reason())) return respond(BadReason());
  const int named = !body.child_id().empty() + !body.nhs_number().empty() + !body.upn().empty();
  if (named != 1) {
    return respond(Invalid(422, "Name one child", "operation.one_child",
                           "give exactly one of childId, nhsNumber and upn", "child_id"));
  }
  const std::string forwarded =
      Forwarded(principal, body.reason(), body.has_redrive() ? &body.redrive() : nullptr);
  auto run = [this, action, forwarded, respond](const std::string& child_id) {
    AskOwner(directory_, engines_, options_.max_attempts, child_id,
             EngineRequest{"POST", "/internal/v1/operations/children/" + child_id + "/" + action,
                           forwarded},
             Relay(respond));
  };
  if (!body.child_id().empty()) {
    if (!workflow::IsSubjectKey(body.child_id())) return respond(ChildNotFound());
    return run(body.child_id());
  }
  v1::ChildSearch search;
  search.set_nhs_number(body.nhs_number());
  search.set_upn(body.upn());
  FindChild(directory_, engines_, options_.max_attempts, search, [run, respond](FoundChild found) {
    if (auto* answer = std::get_if<HttpResponse>(&found)) return respond(std::move(*answer));
    run(std::get<std::string>(found));
  });
}

// A dead letter is no child's: any engine instance runs the action on it.
void OperationsApi::HandleDeadLetter(const HttpRequest& request, const Principal& principal,
                                     const std::string& action, Respond respond) {
  v1::OperationsDeadLetter body;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &body).ok()) {
    return respond(ProblemResponse(
        MakeProblem(400, "Invalid body", "body.invalid_json",
                    "expected an OperationsDeadLetter: {\"deadLetter\": \"PARTITION/OFFSET\", "
                    "\"reason\": ...}")));
  }
  if (!operations::IsStatedReason(body.reason())) return respond(BadReason());
  const std::optional<operations::DeadLetterPlace> place =
      operations::ParseDeadLetterPlace(body.dead_letter());
  if (!place) {
    return respond(Invalid(400, "Invalid dead letter", "operation.dead_letter",
                           "name the dead letter as the dead-letter list does: PARTITION/OFFSET",
                           "dead_letter"));
  }
  const std::optional<std::string> url = directory_.AnyUrl();
  if (!url) return respond(Unavailable("engine.unavailable", "no engine instance is known"));
  std::string target = "/internal/v1/operations/deadletters/";
  target += place->Text();
  target += "/";
  target += action.substr(kDeadLetters.size());
  engines_.Call(
      *url, EngineRequest{"POST", std::move(target), Forwarded(principal, body.reason(), nullptr)},
      Relay(std::move(respond)));
}

}  // namespace pathway::gateway
