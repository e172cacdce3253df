#include "services/engine/operations_service.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "services/bus/key_partition.h"
#include "services/gateway/http/problem.h"
#include "services/operations/case_reports.h"
#include "services/operations/inspection.h"
#include "services/operations/report_json.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/identifiers.h"
#include "workflow/rebuild.h"
#include "workflow/redrive.h"

namespace pathway::engine {
namespace {

namespace v1 = pathway::v1;
using gateway::HttpRequest;
using gateway::HttpResponse;
using gateway::MakeProblem;
using gateway::ProblemResponse;
using operations::report::Json;

constexpr std::string_view kChildren = "children/";
constexpr std::string_view kDeadLetters = "deadletters/";
constexpr size_t kMaxOperatorBytes = 200;
constexpr size_t kMaxNameBytes = 200;

HttpResponse Problem(int status, std::string title, std::string rule, std::string detail,
                     std::string field = "") {
  auto p = MakeProblem(status, std::move(title), std::move(rule), std::move(detail));
  p.field = std::move(field);
  return ProblemResponse(p);
}

HttpResponse BadRedrive(const std::string& field, std::string detail) {
  return Problem(400, "Invalid re-drive", "operation.redrive." + field, std::move(detail),
                 "redrive." + field);
}

HttpResponse Answer(std::string body) {
  HttpResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  r.body = std::move(body);
  return r;
}

// The operator and reason the gateway passes, checked as pathwayctl checks its flags.
std::optional<HttpResponse> CheckOperator(const v1::OperationRequest& request) {
  if (operations::IsBlank(request.operator_id()) ||
      request.operator_id().size() > kMaxOperatorBytes) {
    return Problem(400, "Invalid operator", "operation.operator_id",
                   "every operations action is recorded with who ran it (1 to 200 bytes)",
                   "operator_id");
  }
  if (!operations::IsStatedReason(request.reason())) {
    return Problem(400, "Invalid reason", "operation.reason",
                   "every operations action is recorded with why it was run (1 to " +
                       std::to_string(operations::kMaxReasonBytes) + " bytes)",
                   "reason");
  }
  return std::nullopt;
}

// The re-drive's scope as `pathwayctl redrive` takes it from its flags.
std::optional<HttpResponse> ParseScope(const v1::RedriveScope& scope,
                                       workflow::RedriveFilter& filter) {
  if (scope.exclude_source().size() > kMaxNameBytes) {
    return BadRedrive("exclude_source", "a partner system's name is at most 200 bytes");
  }
  if (scope.instance_id().size() > kMaxNameBytes) {
    return BadRedrive("instance_id", "a pathway instance id is at most 200 bytes");
  }
  using Fault = workflow::RedriveFilter::Fault;
  if (auto fault = filter.SetWindow(scope.exclude_source(), scope.from(), scope.to())) {
    switch (*fault) {
      case Fault::kDatesWithoutSource:
        return BadRedrive("exclude_source", "from and to narrow exclude_source: name the system");
      case Fault::kFrom:
        return BadRedrive("from", "from is a date, YYYY-MM-DD");
      case Fault::kTo:
        return BadRedrive("to", "to is a date, YYYY-MM-DD");
      case Fault::kToBeforeFrom:
        return BadRedrive("to", "to is before from");
    }
  }
  filter.instance_id = scope.instance_id();
  return std::nullopt;
}

HttpResponse AuditUnavailable(const Error& e) {
  auto r = Problem(
      503, "Audit unavailable", "audit.unavailable",
      "the action was not recorded on pathway.audit.v1, so it did not run (" + e.ToString() + ")");
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

// Another operation runs on this instance. Waiting for it would hold one of the query
// endpoint's two threads, and two waiting would stop its reads.
HttpResponse Busy() {
  auto r = Problem(503, "Busy", "operation.busy",
                   "another operation is running on this engine instance: try again shortly "
                   "(nothing was recorded or read)");
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

// The answer to a dead-letter action that did not give its document. The details are
// the action's own words (no personal data: deadletter_actions.h).
HttpResponse DeadLetterProblem(const Error& e) {
  if (e.code == operations::NoSuchDeadLetter()) {
    return Problem(404, "Not found", "deadletter.not_found", e.detail);
  }
  if (e.code == operations::DeadLetterClosed()) {
    return Problem(409, "Closed already", "deadletter.closed", e.detail);
  }
  if (e.code == operations::Refused() || e.code == operations::WrongDeadLetterKey()) {
    return Problem(422, "Refused", "deadletter.refused", e.detail);
  }
  if (e.code == operations::NotAudited()) return AuditUnavailable(e);
  auto r = Problem(503, "Unavailable", "deadletter.unavailable", e.detail);
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

std::optional<operations::DeadLetterAction> DeadLetterActionNamed(std::string_view name) {
  if (name == "show") return operations::DeadLetterAction::kShow;
  if (name == "resubmit") return operations::DeadLetterAction::kResubmit;
  if (name == "discard") return operations::DeadLetterAction::kDiscard;
  return std::nullopt;
}

}  // namespace

// The case copied out of the store under the read gate.
struct OperationsService::Loaded {
  bool served = false;
  std::optional<Error> error;
  std::optional<operations::CaseInspection> inspection;  // nullopt: no such case
};

OperationsService::OperationsService(std::string kek, Sinks sinks, const ReadGate& gate,
                                     const TimeSource& time, workflow::StepSettings settings,
                                     DeadLetterClients dead_letters)
    : kek_(std::move(kek)),
      sinks_(sinks),
      gate_(gate),
      time_(time),
      settings_(settings),
      dead_letters_(std::move(dead_letters)) {}

HttpResponse OperationsService::Handle(const HttpRequest& request) const {
  std::string_view path = request.path;
  path.remove_prefix(std::min(path.size(), kPrefix.size()));
  const bool child = path.starts_with(kChildren);
  const std::string_view kind = child ? kChildren : kDeadLetters;
  const size_t slash = path.rfind('/');
  if ((!child && !path.starts_with(kDeadLetters)) || slash == std::string_view::npos ||
      slash <= kind.size()) {
    return Problem(404, "Not found", "http.not_found", "no such operation");
  }
  const std::string action(path.substr(slash + 1));
  const bool known = child ? action == "inspect" || action == "check" || action == "redrive"
                           : DeadLetterActionNamed(action).has_value();
  if (!known) return Problem(404, "Not found", "http.not_found", "no such operation");
  if (request.method != "POST")
    return Problem(405, "Method not allowed", "http.method", "use POST");
  v1::OperationRequest body;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &body, parse).ok()) {
    return Problem(400, "Invalid body", "body.invalid_json",
                   "expected an OperationRequest in protobuf JSON");
  }
  if (auto bad = CheckOperator(body)) return std::move(*bad);
  if (action != "redrive" && body.has_redrive()) {
    return Problem(400, "Invalid body", "operation.redrive", "only a re-drive has a scope",
                   "redrive");
  }
  const std::string target(path.substr(kind.size(), slash - kind.size()));
  return child ? Run(action, target, body) : RunDeadLetter(action, target, body);
}

HttpResponse OperationsService::RunDeadLetter(const std::string& action,
                                              const std::string& place_text,
                                              const v1::OperationRequest& request) const {
  const std::optional<operations::DeadLetterPlace> place =
      operations::ParseDeadLetterPlace(place_text);
  if (!place) {
    return Problem(404, "Not found", "deadletter.not_found",
                   "a dead letter is named PARTITION/OFFSET, as the dead-letter list gives it");
  }
  if (!dead_letters_.consumer || !dead_letters_.producer || !dead_letters_.subject_key) {
    return Problem(503, "Unavailable", "operations.unavailable",
                   "this engine runs no dead-letter actions");
  }
  const operations::DeadLetterAction kind = *DeadLetterActionNamed(action);
  operations::Operator who;
  who.operator_id = request.operator_id();
  who.reason = request.reason();
  who.system = std::string(kSystem);

  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return Busy();
  const operations::Deadline deadline = std::chrono::steady_clock::now() + dead_letters_.timeout;
  auto consumer = dead_letters_.consumer();
  if (!consumer) return DeadLetterProblem(consumer.error());
  auto found = operations::FindForAction(**consumer, *place, kind, kek_, deadline);
  if (!found) return DeadLetterProblem(found.error());

  // A FAILED record the broker did not confirm is not logged: the action's own answer
  // says what failed, and the trail's gap shows as a STARTED without its end.
  const operations::DeadLetterActor actor{sinks_.audit, who, kek_, time_, deadline, {}};
  std::optional<std::string> body;
  Status done;
  if (kind == operations::DeadLetterAction::kShow) {
    done = operations::ShowDeadLetter(actor, *found, **consumer, dead_letters_.subject_key,
                                      [&](const operations::DeadLetterShown& shown) {
                                        body = operations::ShownJson(shown, false);
                                      });
  } else {
    operations::DeliveryWaiter waiter;  // outlives the producer, whose callback it gives
    auto producer = dead_letters_.producer(waiter.Callback());
    if (!producer) return DeadLetterProblem(producer.error());
    done = operations::CloseDeadLetter(
        actor, *found, kind, **consumer, **producer, waiter,
        [&](const operations::DeadLetterRecord& closed, const std::string& operation_id) {
          body = operations::ClosedJson(closed, operation_id);
        });
  }
  // Shown or done: answered, as the per-child actions are, though FINISHED may be missing.
  if (body) return Answer(std::move(*body));
  return DeadLetterProblem(done.error());
}

HttpResponse OperationsService::Run(const std::string& action, const std::string& child_id,
                                    const v1::OperationRequest& request) const {
  if (!workflow::IsSubjectKey(child_id)) return NotFound();
  workflow::RedriveFilter filter;
  if (action == "redrive") {
    if (auto bad = ParseScope(request.redrive(), filter)) return std::move(*bad);
  }
  const int32_t partition = bus::KeyPartition(child_id, gate_.partition_count());
  // Asked of the wrong instance, nothing is recorded: the gateway asks the owner next.
  const auto serving = gate_.Serving();
  if (std::find(serving.begin(), serving.end(), partition) == serving.end())
    return NotOwner(partition);

  operations::Operator who;
  who.operator_id = request.operator_id();
  who.reason = request.reason();
  who.system = std::string(kSystem);
  // The scope in pathwayctl's words; `rebuild` is the check's name there.
  std::string scope = "subject " + child_id;
  if (!filter.instance_id.empty()) scope += ", instance " + filter.instance_id;
  if (!filter.source_system.empty()) {
    scope += ", ";
    scope += filter.Describe();
  }
  const bool apply = action == "redrive" && request.redrive().apply();
  const std::string operation = action == "check" ? "rebuild" : action;

  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return Busy();
  auto started = operations::OperationAudit::Start(
      sinks_.audit, who, {operation, scope, action != "inspect" && !apply}, kek_, time_);
  if (!started) return AuditUnavailable(started.error());
  operations::OperationAudit& audit = **started;

  Loaded loaded;
  loaded.served = gate_.Read(partition, [&](state::CaseStore& store) {
    auto state = store.LoadCase(child_id);
    if (!state) {
      loaded.error = state.error();
      return;
    }
    if (!state->has_value()) return;
    if (action == "inspect") {
      auto inspection = operations::LoadInspection(store, partition, child_id, std::move(**state));
      if (!inspection) {
        loaded.error = inspection.error();
        return;
      }
      loaded.inspection = std::move(*inspection);
      return;
    }
    // Check and re-drive read the history as the command stage does: what the case holds.
    auto history = store.HistoryFrom(child_id, (*state)->history_kept_from());
    if (!history) {
      loaded.error = history.error();
      return;
    }
    workflow::KeepHeld(*history, **state);
    loaded.inspection.emplace();
    loaded.inspection->partition = partition;
    loaded.inspection->subject = child_id;
    loaded.inspection->state = std::move(**state);
    loaded.inspection->history = std::move(*history);
  });
  if (!loaded.served) {
    (void)audit.Fail("the partition moved to another instance", {});
    return NotOwner(partition);
  }
  if (loaded.error) {
    (void)audit.Fail("the case could not be read", {});
    return Problem(500, "Internal error", "engine.store", "the case could not be read");
  }
  if (!loaded.inspection) {
    (void)audit.Finish({{"cases", 0}});
    return NotFound();
  }
  const operations::CaseInspection& c = *loaded.inspection;
  const TimePoint now = time_.Now();

  std::string body;
  operations::Counts counts = {{"cases", 1}};
  bool send = false;
  workflow::RedrivePlan plan;
  if (action == "inspect") {
    body = operations::InspectionJson(c, audit.id());
    counts.emplace_back("events", c.history.size());
  } else if (action == "check") {
    const workflow::CaseCheck check =
        workflow::CheckCase(child_id, c.state, c.history, now, settings_);
    counts.emplace_back("erased", check.erased);
    counts.emplace_back("diverged", check.diverged());
    body = Json()
               .Str("operation_id", audit.id())
               .Str("as_of", workflow::FormatDate(workflow::LondonDate(now)))
               .Bool("erased", check.erased)
               .Bool("diverged", check.diverged())
               .Field("case", operations::CaseCheckJson(child_id, partition, check))
               .Done();
  } else {
    if (!filter.instance_id.empty() &&
        std::none_of(c.state.pathways().begin(), c.state.pathways().end(),
                     [&](const auto& p) { return p.instance_id() == filter.instance_id; })) {
      (void)audit.Finish({{"cases", 0}});
      return Problem(422, "Not this child's pathway", "operation.redrive.instance_id",
                     "the child's case holds no pathway instance with this id",
                     "redrive.instance_id");
    }
    plan = workflow::PlanRedrive(child_id, c.state, c.history, filter, now, settings_);
    send = apply && !plan.erased && (plan.changes || !plan.excluded.empty());
    counts.emplace_back("erased", plan.erased);
    counts.emplace_back("would_change", plan.changes);
    counts.emplace_back("commands_left_out", plan.excluded.size());
    counts.emplace_back("redrives_sent", send);
    body = Json()
               .Str("operation_id", audit.id())
               .Str("as_of", workflow::FormatDate(workflow::LondonDate(now)))
               .Bool("dry_run", !apply)
               .Bool("erased", plan.erased)
               .Bool("would_change", plan.changes)
               .Bool("sent", send)
               .Field("case", operations::RedrivePlanJson(child_id, partition, plan))
               .Done();
  }

  // Shown from here: on the child's trail first.
  if (Status s = audit.ChildShown(child_id); !s) {
    (void)audit.Fail("the view of the case was not recorded", {});
    return AuditUnavailable(s.error());
  }
  if (send) {
    const operations::Sender by{who.operator_id, audit.id(), who.system};
    if (Status s = sinks_.commands.Publish(
            child_id,
            operations::RedriveCommand(child_id, plan.excluded, filter.source_system, by, now));
        !s) {
      (void)audit.Fail("the re-drive was not confirmed by the broker", counts);
      auto r = Problem(503, "Not sent", "operation.not_sent",
                       "the broker did not confirm the re-drive: run it again (a re-drive the "
                       "engine has made already changes nothing more)");
      r.headers.emplace_back("Retry-After", "5");
      return r;
    }
  }
  (void)audit.Finish(counts);
  return Answer(std::move(body));
}

}  // namespace pathway::engine
