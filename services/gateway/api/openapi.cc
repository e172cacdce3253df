#include "services/gateway/api/openapi.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <set>
#include <string_view>

#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/views.pb.h"
#include "services/gateway/api/command_routes.h"
#include "workflow/input_limits.h"

namespace pathway::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// DeadLetterCursor::Text (deadletters.h): opaque to callers.
constexpr std::string_view kCursorPattern = "^[0-9]{1,19}-[0-9]{1,10}-[0-9]{1,19}$";

Value Str(std::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}
Value Num(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}
Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}
Value Obj(std::initializer_list<std::pair<std::string_view, Value>> members) {
  Value v;
  v.mutable_struct_value();
  auto* fields = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, m] : members) (*fields)[std::string(k)] = m;
  return v;
}
Value Arr(std::initializer_list<Value> items) {
  Value v;
  v.mutable_list_value();
  for (const auto& i : items) *v.mutable_list_value()->add_values() = i;
  return v;
}
void Set(Value& obj, std::string_view key, Value v) {
  (*obj.mutable_struct_value()->mutable_fields())[std::string(key)] = std::move(v);
}
Value Ref(std::string_view name) {
  return Obj({{"$ref", Str("#/components/schemas/" + std::string(name))}});
}

// CommandRejected.violations as the gateway answers them: {field, rule, reason} each.
Value ViolationsArray() {
  return Obj({{"type", Str("array")},
              {"items", Obj({{"type", Str("object")},
                             {"properties", Obj({{"field", Obj({{"type", Str("string")}})},
                                                 {"rule", Obj({{"type", Str("string")}})},
                                                 {"reason", Obj({{"type", Str("string")}})}})}})}});
}

std::string SchemaName(const Descriptor* d) {
  // "pathway.v1.ReferralSubmitted" -> "ReferralSubmitted" (the catalogue has one package)
  return d->name();
}

Value ScalarSchema(const FieldDescriptor* f, std::set<const Descriptor*>& needed) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING: {
      Value v = Obj({{"type", Str("string")}});
      if (auto limit = workflow::StringLimitFor(*f)) {
        // Bytes of UTF-8: a character count no larger keeps every generated value legal.
        Set(v, "maxLength", Num(static_cast<double>(limit->max_bytes / 4)));
      }
      return v;
    }
    case FieldDescriptor::TYPE_BYTES:
      return Obj({{"type", Str("string")}, {"contentEncoding", Str("base64")}});
    case FieldDescriptor::TYPE_BOOL:
      return Obj({{"type", Str("boolean")}});
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return Obj({{"type", Str("integer")}, {"format", Str("int32")}});
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      return Obj({{"type", Str("integer")}, {"minimum", Num(0)}, {"maximum", Num(4294967295.0)}});
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
      return Obj({{"type", Str("string")}, {"pattern", Str("^-?[0-9]{1,18}$")}});
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      return Obj({{"type", Str("string")}, {"pattern", Str("^[0-9]{1,19}$")}});
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FLOAT:
      return Obj({{"type", Str("number")}});
    case FieldDescriptor::TYPE_ENUM: {
      Value names;
      names.mutable_list_value();
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        *names.mutable_list_value()->add_values() = Str(f->enum_type()->value(i)->name());
      }
      return Obj({{"type", Str("string")}, {"enum", names}});
    }
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP: {
      const Descriptor* d = f->message_type();
      if (d->full_name() == "google.protobuf.Timestamp") {
        return Obj({{"type", Str("string")}, {"format", Str("date-time")}});
      }
      needed.insert(d);
      return Ref(SchemaName(d));
    }
  }
  return Obj({});
}

Value FieldSchema(const FieldDescriptor* f, std::set<const Descriptor*>& needed) {
  Value item = ScalarSchema(f, needed);
  if (!f->is_repeated()) return item;
  return Obj({{"type", Str("array")}, {"items", item}});
}

Value MessageSchema(const Descriptor* d, std::set<const Descriptor*>& needed) {
  Value props;
  props.mutable_struct_value();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    Set(props, f->json_name(), FieldSchema(f, needed));
  }
  return Obj(
      {{"type", Str("object")}, {"properties", props}, {"additionalProperties", Bool(false)}});
}

Value ProblemResponseRef(std::string_view description) {
  return Obj({{"description", Str(description)},
              {"content", Obj({{"application/problem+json", Obj({{"schema", Ref("Problem")}})}})}});
}

// The problems every authenticated route may answer.
void CommonProblems(Value& responses) {
  Set(responses, "400", ProblemResponseRef("Malformed request: JSON, header or path"));
  Set(responses, "401", ProblemResponseRef("Not signed in, or the credentials are not valid"));
  Set(responses, "403", ProblemResponseRef("The caller's role or agency may not do this"));
  Set(responses, "404", ProblemResponseRef("No such resource"));
  Set(responses, "405", ProblemResponseRef("Method not allowed"));
  Set(responses, "413", ProblemResponseRef("Body too large"));
  Set(responses, "415", ProblemResponseRef("Not application/json"));
  Set(responses, "429", ProblemResponseRef("Too many requests from this caller"));
  Set(responses, "431", ProblemResponseRef("Headers too large"));
  Set(responses, "503", ProblemResponseRef("The broker or engine is unavailable: try again"));
}

// A person's token, a partner system's API key, or a browser session's cookie (with
// X-CSRF-Token for a command).
Value Security() {
  return Arr({Obj({{"bearer", Arr({})}}), Obj({{"apiKey", Arr({})}}), Obj({{"session", Arr({})}})});
}

// An operations action (operations.h): a POST with `body`, audited by the engine before
// it shows anything; `problems` are its own answers besides the common ones.
void AddOperation(Value& paths, std::string_view path, std::string_view id,
                  std::string_view summary, std::string_view answer, const Descriptor* body,
                  std::string_view audited, Value problems) {
  Value responses = std::move(problems);
  Set(responses, "200",
      Obj({{"description", Str(answer)},
           {"content",
            Obj({{"application/json", Obj({{"schema", Obj({{"type", Str("object")}})}})}})}}));
  CommonProblems(responses);
  std::string text(summary);
  text += ". Recorded on pathway.audit.v1, and on ";
  text += audited;
  text += ", before anything is shown";
  Set(paths, path,
      Obj({{"post", Obj({{"operationId", Str(id)},
                         {"summary", Str(text)},
                         {"security", Security()},
                         {"requestBody",
                          Obj({{"required", Bool(true)},
                               {"content", Obj({{"application/json",
                                                 Obj({{"schema", Ref(SchemaName(body))}})}})}})},
                         {"responses", responses}})}}));
}

}  // namespace

std::string OpenApiDocument() {
  std::set<const Descriptor*> needed;
  Value paths;
  paths.mutable_struct_value();
  Value schemas;
  schemas.mutable_struct_value();

  const Descriptor* envelope = pathway::v1::Envelope::descriptor();
  const FieldDescriptor* subject = envelope->FindFieldByName("subject");
  const FieldDescriptor* occurred = envelope->FindFieldByName("occurred_at");
  const FieldDescriptor* correlation = envelope->FindFieldByName("correlation_id");

  for (const CommandRoute& route : CommandRoutes()) {
    const std::string name(route.name);
    const std::string body_schema = "Command_" + name;
    Value props = Obj({{subject->json_name(), FieldSchema(subject, needed)},
                       {occurred->json_name(), FieldSchema(occurred, needed)},
                       {correlation->json_name(), FieldSchema(correlation, needed)},
                       {route.payload->json_name(), FieldSchema(route.payload, needed)}});
    Set(schemas, body_schema,
        Obj({{"type", Str("object")},
             {"properties", props},
             {"required", Arr({Str(route.payload->json_name())})},
             {"additionalProperties", Bool(false)}}));
    std::string roles;
    for (Role r : route.roles) roles += (roles.empty() ? "" : ", ") + std::string(RoleName(r));
    Value responses = Obj({
        {"200", Obj({{"description",
                      Str("Accepted by the engine (with Prefer: wait=N): the events it caused")},
                     {"content", Obj({{"application/json", Obj({{"schema", Ref("Outcome")}})}})}})},
        {"202", Obj({{"description", Str("Published; the outcome is at the Location")},
                     {"content", Obj({{"application/json", Obj({{"schema", Ref("Outcome")}})}})}})},
        {"422", ProblemResponseRef("Not valid: the field and the rule")},
    });
    CommonProblems(responses);
    Value op = Obj({
        {"operationId", Str("send_" + name)},
        {"summary", Str("Send " + name + " (roles: " + roles + ")")},
        {"security", Security()},
        {"parameters", Arr({Obj({{"name", Str("Idempotency-Key")},
                                 {"in", Str("header")},
                                 {"required", Bool(false)},
                                 {"schema", Obj({{"type", Str("string")},
                                                 {"minLength", Num(1)},
                                                 {"maxLength", Num(128)},
                                                 {"pattern", Str("^[!-~]+$")}})}}),
                            Obj({{"name", Str("Prefer")},
                                 {"in", Str("header")},
                                 {"required", Bool(false)},
                                 {"schema", Obj({{"type", Str("string")},
                                                 {"pattern", Str("^wait=[0-9]{1,2}$")}})}})})},
        {"requestBody",
         Obj({{"required", Bool(true)},
              {"content", Obj({{"application/json", Obj({{"schema", Ref(body_schema)}})}})}})},
        {"responses", responses},
    });
    Set(paths, "/v1/commands/" + name, Obj({{"post", op}}));
  }

  {
    Value responses = Obj({
        {"200", Obj({{"description", Str("The outcome so far")},
                     {"content", Obj({{"application/json", Obj({{"schema", Ref("Outcome")}})}})}})},
    });
    CommonProblems(responses);
    Set(paths, "/v1/outcomes/{eventId}",
        Obj({{"get", Obj({{"operationId", Str("get_outcome")},
                          {"summary", Str("What became of a command (any signed-in caller)")},
                          {"security", Security()},
                          {"parameters",
                           Arr({Obj({{"name", Str("eventId")},
                                     {"in", Str("path")},
                                     {"required", Bool(true)},
                                     {"schema", Obj({{"type", Str("string")},
                                                     {"pattern", Str("^[!-.0-~]{1,128}$")}})}})})},
                          {"responses", responses}})}}));
  }
  {
    // Browser sessions (gateway.h): made with a bearer token, then carried by a cookie.
    const Value session_ok =
        Obj({{"description", Str("Who is signed in, and the CSRF token for changes")},
             {"content", Obj({{"application/json", Obj({{"schema", Ref("Session")}})}})}});
    const Value csrf = Obj({{"name", Str("X-CSRF-Token")},
                            {"in", Str("header")},
                            {"required", Bool(false)},
                            {"schema", Obj({{"type", Str("string")}, {"maxLength", Num(128)}})}});
    Value created = session_ok;
    Set(created, "description",
        Str("Signed in: the session cookie pathway_session (HttpOnly, SameSite=Strict, Secure) "
            "is set"));
    Set(created, "headers",
        Obj({{"Set-Cookie", Obj({{"schema", Obj({{"type", Str("string")}})}})}}));
    Value post_responses = Obj({{"200", created}});
    CommonProblems(post_responses);
    Value get_responses = Obj({{"200", session_ok}});
    CommonProblems(get_responses);
    Value delete_responses = Obj({{"204", Obj({{"description", Str("Signed out")}})}});
    CommonProblems(delete_responses);
    const Value session_security = Arr({Obj({{"session", Arr({})}})});
    Set(paths, "/v1/session",
        Obj({{"post", Obj({{"operationId", Str("create_session")},
                           {"summary", Str("Sign a browser in with a person's bearer token "
                                           "(API keys make no sessions)")},
                           {"security", Arr({Obj({{"bearer", Arr({})}})})},
                           {"responses", post_responses}})},
             {"get", Obj({{"operationId", Str("get_session")},
                          {"summary", Str("Who is signed in on this browser")},
                          {"security", session_security},
                          {"responses", get_responses}})},
             {"delete", Obj({{"operationId", Str("delete_session")},
                             {"summary", Str("Sign out (needs the session's X-CSRF-Token)")},
                             {"security", session_security},
                             {"parameters", Arr({csrf})},
                             {"responses", delete_responses}})}}));
  }
  {
    // Reads (reads.h): answered by the engine that owns the child, audited.
    const Descriptor* search = pathway::v1::ChildSearch::descriptor();
    const Descriptor* found = pathway::v1::ChildFound::descriptor();
    const Descriptor* timeline = pathway::v1::ChildTimeline::descriptor();
    const Descriptor* record = pathway::v1::ChildRecord::descriptor();
    for (const Descriptor* d : {search, found, timeline, record}) needed.insert(d);
    auto json = [](const Descriptor* d) {
      return Obj({{"application/json", Obj({{"schema", Ref(SchemaName(d))}})}});
    };
    Value search_responses = Obj(
        {{"200", Obj({{"description", Str("Found: the child id (a pseudonym) and its timeline")},
                      {"content", json(found)}})},
         {"422", ProblemResponseRef("Not a valid NHS number or UPN: the field and the rule")}});
    CommonProblems(search_responses);
    Set(paths, "/v1/children/search",
        Obj({{"post",
              Obj({{"operationId", Str("search_child")},
                   {"summary", Str("Find a child by NHS number or UPN, given in the body (roles: "
                                   "clinician, caseworker, team_manager, partner_system). 404 "
                                   "when unknown or not visible to your agency; audited")},
                   {"security", Security()},
                   {"requestBody", Obj({{"required", Bool(true)}, {"content", json(search)}})},
                   {"responses", search_responses}})}}));
    Value timeline_responses =
        Obj({{"200",
              Obj({{"description", Str("The child's timeline")}, {"content", json(timeline)}})}});
    CommonProblems(timeline_responses);
    Set(paths, "/v1/children/{childId}/timeline",
        Obj({{"get",
              Obj({{"operationId", Str("get_timeline")},
                   {"summary", Str("A child's pathways, deadlines with their statutory rule, and "
                                   "latest history (agencies involved or with consent; audited)")},
                   {"security", Security()},
                   {"parameters", Arr({Obj({{"name", Str("childId")},
                                            {"in", Str("path")},
                                            {"required", Bool(true)},
                                            {"schema", Obj({{"type", Str("string")},
                                                            {"pattern", Str("^[0-9a-f]{64}$")}})}}),
                                       Obj({{"name", Str("events")},
                                            {"in", Str("query")},
                                            {"required", Bool(false)},
                                            {"schema", Obj({{"type", Str("integer")},
                                                            {"minimum", Num(0)},
                                                            {"maximum", Num(200)}})}})})},
                   {"responses", timeline_responses}})}}));
    Value record_responses =
        Obj({{"200", Obj({{"description", Str("The shared record for your agency and the purpose")},
                          {"content", json(record)}})}});
    CommonProblems(record_responses);
    Set(paths, "/v1/children/{childId}/record",
        Obj({{"get",
              Obj({{"operationId", Str("get_record")},
                   {"summary", Str("The shared record (tell it once) as your agency may see it "
                                   "for a purpose: disclosed facts with provenance, withheld "
                                   "ones with the reason, the family's consent decisions "
                                   "(audited)")},
                   {"security", Security()},
                   {"parameters",
                    Arr({Obj({{"name", Str("childId")},
                              {"in", Str("path")},
                              {"required", Bool(true)},
                              {"schema", Obj({{"type", Str("string")},
                                              {"pattern", Str("^[0-9a-f]{64}$")}})}}),
                         Obj({{"name", Str("purpose")},
                              {"in", Str("query")},
                              {"required", Bool(true)},
                              {"schema", Obj({{"type", Str("string")},
                                              {"pattern", Str("^[a-z0-9_]{1,64}$")}})}})})},
                   {"responses", record_responses}})}}));
  }
  {
    // Caseloads and waiting lists (caseload_reads.cc): merged from every engine instance.
    const Descriptor* page = pathway::v1::CaseloadPage::descriptor();
    needed.insert(page);
    Value responses = Obj(
        {{"200", Obj({{"description", Str("A page of the list, in the order asked for")},
                      {"content",
                       Obj({{"application/json", Obj({{"schema", Ref(SchemaName(page))}})}})}})}});
    CommonProblems(responses);
    auto choice = [](const char* name, std::vector<const char*> values, const char* about) {
      Value options = Arr({});
      for (const char* v : values) *options.mutable_list_value()->add_values() = Str(v);
      return Obj({{"name", Str(name)},
                  {"in", Str("query")},
                  {"required", Bool(false)},
                  {"description", Str(about)},
                  {"schema", Obj({{"type", Str("string")}, {"enum", std::move(options)}})}});
    };
    Set(paths, "/v1/caseload",
        Obj({{"get",
              Obj({{"operationId", Str("get_caseload")},
                   {"summary", Str("Your service's (or team's) running pathways or waiting list: "
                                   "weeks waited, next deadline with its rule, breaches and risk "
                                   "(roles: clinician, caseworker, team_manager, partner_system; "
                                   "each child on the page is audited)")},
                   {"security", Security()},
                   {"parameters",
                    Arr({choice("list", {"caseload", "waiting"},
                                "caseload (default): every running pathway; waiting: those in a "
                                "waiting state"),
                         choice("scope", {"service", "team"},
                                "service (default): your agency; team: your sign-in's team"),
                         choice("sort", {"next_deadline", "waited"},
                                "next_deadline (default): the most overdue, then the earliest due, "
                                "first; "
                                "waited: the longest wait first"),
                         Obj({{"name", Str("pathway")},
                              {"in", Str("query")},
                              {"required", Bool(false)},
                              {"description", Str("one pathway, e.g. neurodevelopmental")},
                              {"schema", Obj({{"type", Str("string")},
                                              {"pattern", Str("^[a-z_]{1,64}$")}})}}),
                         Obj({{"name", Str("cursor")},
                              {"in", Str("query")},
                              {"required", Bool(false)},
                              {"description", Str("the previous page's nextCursor")},
                              {"schema", Obj({{"type", Str("string")},
                                              {"pattern", Str("^([0-9a-f]{2}){1,512}$")}})}}),
                         Obj({{"name", Str("limit")},
                              {"in", Str("query")},
                              {"required", Bool(false)},
                              {"schema", Obj({{"type", Str("integer")},
                                              {"minimum", Num(1)},
                                              {"maximum", Num(100)},
                                              {"default", Num(25)}})}})})},
                   {"responses", responses}})}}));
  }
  {
    // Dead letters (deadletters.h): the operations role only; never the original's bytes.
    Value responses = Obj(
        {{"200", Obj({{"description", Str("A page of dead letters, newest first")},
                      {"content",
                       Obj({{"application/json", Obj({{"schema", Ref("DeadLetterPage")}})}})}})}});
    CommonProblems(responses);
    Set(paths, "/v1/deadletters",
        Obj({{"get",
              Obj({{"operationId", Str("list_dead_letters")},
                   {"summary", Str("The newest messages pathway could not process, with the reason "
                                   "and where the original was (role: operations). Not a read of a "
                                   "child's record: never the original's content")},
                   {"security", Security()},
                   {"parameters",
                    Arr({Obj({{"name", Str("limit")},
                              {"in", Str("query")},
                              {"required", Bool(false)},
                              {"schema", Obj({{"type", Str("integer")},
                                              {"minimum", Num(1)},
                                              {"maximum", Num(200)},
                                              {"default", Num(50)}})}}),
                         Obj({{"name", Str("before")},
                              {"in", Str("query")},
                              {"required", Bool(false)},
                              {"description", Str("the previous page's next")},
                              {"schema", Obj({{"type", Str("string")},
                                              {"pattern", Str(kCursorPattern)}})}})})},
                   {"responses", responses}})}}));
  }
  {
    // Operations (operations.h): a child's run by the engine that owns the child, a dead
    // letter's by any engine instance, audited there.
    const Descriptor* child = pathway::v1::OperationsChild::descriptor();
    const Descriptor* redrive = pathway::v1::OperationsRedrive::descriptor();
    const Descriptor* dead_letter = pathway::v1::OperationsDeadLetter::descriptor();
    needed.insert(child);
    needed.insert(redrive);
    needed.insert(dead_letter);
    struct Operation {
      const char* path;
      const char* id;
      const Descriptor* body;
      const char* summary;
      const char* answer;
    };
    for (const Operation& o : {
             Operation{"/v1/operations/inspect", "inspect_child", child,
                       "One child's case as the engine holds it and why it is in its state, with "
                       "the reason you give (role: operations)",
                       "The document `pathwayctl inspect --json` prints (docs/operations.md)"},
             Operation{"/v1/operations/check", "check_child", child,
                       "One child's case checked against its history with the engine's own "
                       "code, as `pathwayctl rebuild` checks it (role: operations)",
                       "Whether the case diverged, and where (field paths, never values)"},
             Operation{"/v1/operations/redrive", "redrive_child", redrive,
                       "What re-deciding one child's case without a partner's commands would "
                       "change; with apply, the engine makes the change and emits a "
                       "correction (role: operations)",
                       "The plan, and whether the re-drive was sent to the engine"},
             Operation{"/v1/operations/deadletters/show", "show_dead_letter", dead_letter,
                       "One dead letter's original, opened with the engine's key: the Envelope "
                       "as JSON when it decodes, else its bytes in hex (role: operations)",
                       "The document `pathwayctl deadletters show --json` prints"},
             Operation{"/v1/operations/deadletters/resubmit", "resubmit_dead_letter", dead_letter,
                       "After a fix: the dead letter's whole original produced again to "
                       "pathway.inbound.v1, once (role: operations)",
                       "The dead letter as resubmitted, and where the copy is"},
             Operation{"/v1/operations/deadletters/discard", "discard_dead_letter", dead_letter,
                       "The dead letter closed with nothing re-entering (role: operations)",
                       "The dead letter as discarded"},
         }) {
      if (o.body != dead_letter) {
        AddOperation(paths, o.path, o.id, o.summary, o.answer, o.body, "the child's own trail",
                     Obj({{"422", ProblemResponseRef(
                                      "Not exactly one child named, not a valid NHS number or "
                                      "UPN, or not this child's pathway: the field and the "
                                      "rule")}}));
        continue;
      }
      AddOperation(paths, o.path, o.id, o.summary, o.answer, o.body,
                   "the trail of each child the original names",
                   Obj({{"409", ProblemResponseRef("Resubmitted or discarded already")},
                        {"422", ProblemResponseRef("Refused: the original is gone, differs or "
                                                   "does not decode, or it is an output on no "
                                                   "topic")}}));
    }
  }
  for (std::string_view probe : {"/health/live", "/health/ready"}) {
    Set(paths, probe,
        Obj({{"get", Obj({{"operationId", Str(probe == "/health/live" ? "live" : "ready")},
                          {"summary", Str("Probe for the orchestrator (no sign-in)")},
                          {"security", Arr({})},
                          {"responses", Obj({{"200", Obj({{"description", Str("Yes")}})},
                                             {"503", Obj({{"description", Str("No")}})}})}})}}));
  }
  Set(paths, "/openapi.json",
      Obj({{"get",
            Obj({{"operationId", Str("openapi")},
                 {"summary", Str("This document")},
                 {"security", Arr({})},
                 {"responses", Obj({{"200", Obj({{"description", Str("OpenAPI 3.1")}})}})}})}}));

  // Every message a schema names, and the ones those name.
  std::set<const Descriptor*> done;
  while (!needed.empty()) {
    const Descriptor* d = *needed.begin();
    needed.erase(needed.begin());
    if (!done.insert(d).second) continue;
    std::set<const Descriptor*> more;
    Set(schemas, SchemaName(d), MessageSchema(d, more));
    for (const Descriptor* m : more) {
      if (!done.count(m)) needed.insert(m);
    }
  }
  Set(schemas, "Problem",
      Obj({{"type", Str("object")},
           {"required", Arr({Str("type"), Str("title"), Str("status"), Str("rule")})},
           {"properties", Obj({{"type", Obj({{"type", Str("string")}})},
                               {"title", Obj({{"type", Str("string")}})},
                               {"status", Obj({{"type", Str("integer")}})},
                               {"detail", Obj({{"type", Str("string")}})},
                               {"rule", Obj({{"type", Str("string")}})},
                               {"field", Obj({{"type", Str("string")}})},
                               {"eventId", Obj({{"type", Str("string")}})},
                               {"violations", ViolationsArray()}})}}));
  {
    const Value integer = Obj({{"type", Str("integer")}, {"minimum", Num(0)}});
    Set(schemas, "DeadLetter",
        Obj({{"type", Str("object")},
             {"description", Str("One record of pathway.deadletter.v1, without the original")},
             {"required", Arr({Str("partition"), Str("offset"), Str("reason"), Str("original")})},
             {"additionalProperties", Bool(false)},
             {"properties",
              Obj({{"partition", integer},
                   {"offset", integer},
                   {"deadLetteredAt", Obj({{"type", Str("string")}, {"format", Str("date-time")}})},
                   {"reason", Obj({{"type", Str("string")}})},
                   {"original", Obj({{"type", Str("object")},
                                     {"required", Arr({Str("topic"), Str("partition"),
                                                       Str("offset"), Str("sizeBytes")})},
                                     {"additionalProperties", Bool(false)},
                                     {"properties", Obj({{"topic", Obj({{"type", Str("string")}})},
                                                         {"partition", integer},
                                                         {"offset", integer},
                                                         {"sizeBytes", integer}})}})}})}}));
    Set(schemas, "DeadLetterPage",
        Obj({{"type", Str("object")},
             {"required", Arr({Str("items")})},
             {"additionalProperties", Bool(false)},
             {"properties",
              Obj({{"items", Obj({{"type", Str("array")}, {"items", Ref("DeadLetter")}})},
                   {"next", Obj({{"type", Str("string")},
                                 {"description", Str("give as before= for the next, older page; "
                                                     "absent on the last")},
                                 {"pattern", Str(kCursorPattern)}})}})}}));
  }
  Set(schemas, "Session",
      Obj({{"type", Str("object")},
           {"required",
            Arr({Str("id"), Str("role"), Str("agency"), Str("team"), Str("csrfToken")})},
           {"properties", Obj({{"id", Obj({{"type", Str("string")}})},
                               {"role", Obj({{"type", Str("string")}})},
                               {"agency", Obj({{"type", Str("string")}})},
                               {"team", Obj({{"type", Str("string")}})},
                               {"csrfToken", Obj({{"type", Str("string")}})}})}}));
  Set(schemas, "Outcome",
      Obj({{"type", Str("object")},
           {"required", Arr({Str("eventId"), Str("status")})},
           {"properties",
            Obj({{"eventId", Obj({{"type", Str("string")}})},
                 {"status",
                  Obj({{"type", Str("string")},
                       {"enum", Arr({Str("pending"), Str("accepted"), Str("rejected")})}})},
                 {"events",
                  Obj({{"type", Str("array")},
                       {"items",
                        Obj({{"type", Str("object")},
                             {"description",
                              Str("a pathway.v1.Envelope as published on pathway.events.v1")}})}})},
                 {"rejection",
                  Obj({{"type", Str("object")},
                       {"description",
                        Str("field, rule and reason name the first violation; violations "
                            "lists every one (pathway.v1.CommandRejected)")},
                       {"properties", Obj({{"field", Obj({{"type", Str("string")}})},
                                           {"rule", Obj({{"type", Str("string")}})},
                                           {"reason", Obj({{"type", Str("string")}})},
                                           {"violations", ViolationsArray()}})}})}})}}));

  Value doc = Obj({
      {"openapi", Str("3.1.0")},
      {"info", Obj({{"title", Str("pathway gateway")},
                    {"version", Str("1")},
                    {"description",
                     Str("Commands to and outcomes from the pathway engine: docs/gateway.md")}})},
      {"paths", paths},
      {"components",
       Obj({{"schemas", schemas},
            {"securitySchemes", Obj({{"bearer", Obj({{"type", Str("http")},
                                                     {"scheme", Str("bearer")},
                                                     {"bearerFormat", Str("JWT")}})},
                                     {"apiKey", Obj({{"type", Str("apiKey")},
                                                     {"in", Str("header")},
                                                     {"name", Str("X-API-Key")}})},
                                     {"session", Obj({{"type", Str("apiKey")},
                                                      {"in", Str("cookie")},
                                                      {"name", Str("pathway_session")}})}})}})},
  });
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(doc.struct_value(), &out, options);
  return out;
}

}  // namespace pathway::gateway
