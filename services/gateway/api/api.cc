#include "services/gateway/api/api.h"

#include <google/protobuf/util/json_util.h>

#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "common/crypto.h"
#include "services/gateway/api/command_routes.h"
#include "services/gateway/http/problem.h"
#include "workflow/identity.h"
#include "workflow/workflow.h"

namespace pathway::gateway {
namespace {

using pathway::v1::Envelope;
namespace pbjson = google::protobuf::util;

constexpr std::string_view kCommandsPrefix = "/v1/commands/";
constexpr std::string_view kOutcomesPrefix = "/v1/outcomes/";
constexpr std::string_view kIdempotencyDomain = "pathway gateway idempotency v1\n";

bool Printable(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

// RFC 7240 `Prefer: wait=N`, in seconds; nullopt if not asked for.
std::optional<std::chrono::seconds> PreferredWait(std::string_view prefer) {
  size_t at = 0;
  while ((at = prefer.find("wait=", at)) != std::string_view::npos) {
    const bool starts = at == 0 || prefer[at - 1] == ' ' || prefer[at - 1] == ',' ||
                        prefer[at - 1] == ';' || prefer[at - 1] == '\t';
    at += 5;
    if (!starts) continue;
    int64_t n = 0;
    size_t digits = 0;
    while (at < prefer.size() && prefer[at] >= '0' && prefer[at] <= '9' && digits < 6) {
      n = n * 10 + (prefer[at++] - '0');
      ++digits;
    }
    if (digits > 0) return std::chrono::seconds(n);
  }
  return std::nullopt;
}

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  const auto us = t.time_since_epoch().count();
  google::protobuf::Timestamp ts;
  int64_t s = us / 1'000'000;
  int64_t rem = us % 1'000'000;
  if (rem < 0) rem += 1'000'000, --s;
  ts.set_seconds(s);
  ts.set_nanos(static_cast<int32_t>(rem * 1000));
  return ts;
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

std::string EnvelopeJson(const Envelope& e) {
  std::string out;
  pbjson::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  if (!pbjson::MessageToJsonString(e, &out, options).ok()) return "{}";
  return out;
}

// The protobuf JSON parser's messages ("bogusField: Cannot find field.", "(subject) zzz:
// Cannot find field.", "(a.b): invalid value ...") may quote the client's text; only the
// field path they name is kept, and only if it looks like one.
std::string FieldFromParseError(std::string_view message) {
  std::string path;
  std::string_view rest = message;
  if (rest.starts_with("(")) {
    const size_t close = rest.find(')');
    if (close == std::string_view::npos) return "";
    path = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    while (rest.starts_with(" ")) rest.remove_prefix(1);
  }
  std::string_view name;
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    name = rest.substr(0, colon);
    if (name.find(' ') != std::string_view::npos) name = {};
  }
  std::string field = path.empty()   ? std::string(name)
                      : name.empty() ? path
                                     : path + "." + std::string(name);
  std::string safe = SafeFieldName(field);
  return safe == field ? safe : "";
}

// Every violation of `r` (CommandRejected.violations), the first being the one its
// fields 2-4 name; a rejection written before the field existed lists that one.
std::vector<Violation> ViolationsOf(const pathway::v1::CommandRejected& r) {
  std::vector<Violation> out;
  if (r.violations_size() == 0) out.push_back(Violation{r.field(), r.rule(), r.reason()});
  for (const auto& v : r.violations()) out.push_back(Violation{v.field(), v.rule(), v.reason()});
  return out;
}

// `r` is the first violation; `all` every one (r alone if empty).
Problem RejectionProblem(const workflow::Rejection& r, const std::vector<workflow::Rejection>& all,
                         std::string event_id) {
  Problem p;
  p.status = 422;
  p.title = "The command is not valid";
  p.rule = r.rule;
  p.field = r.field;
  p.detail = r.reason;
  p.event_id = std::move(event_id);
  if (all.empty()) p.violations.push_back(Violation{r.field, r.rule, r.reason});
  for (const auto& v : all) p.violations.push_back(Violation{v.field, v.rule, v.reason});
  return p;
}

HttpResponse OutcomeResponse(const std::string& event_id, const CommandOutcome& outcome,
                             bool final_status) {
  using State = CommandOutcome::State;
  if (outcome.state == State::kRejected && final_status && outcome.rejection) {
    const auto& r = outcome.rejection->command_rejected();
    Problem p = RejectionProblem({r.field(), r.rule(), r.reason()}, {}, event_id);
    p.violations = ViolationsOf(r);
    return ProblemResponse(p);
  }
  std::string body = "{\"eventId\":" + JsonString(event_id) + ",\"status\":";
  switch (outcome.state) {
    case State::kPending:
      body += "\"pending\"";
      break;
    case State::kAccepted:
      body += "\"accepted\",\"events\":[";
      for (size_t i = 0; i < outcome.events.size(); ++i) {
        if (i) body += ',';
        body += EnvelopeJson(outcome.events[i]);
      }
      body += ']';
      break;
    case State::kRejected: {
      const auto& r = outcome.rejection->command_rejected();
      body += "\"rejected\",\"rejection\":{\"field\":" + JsonString(r.field()) +
              ",\"rule\":" + JsonString(r.rule()) + ",\"reason\":" + JsonString(r.reason()) +
              ",\"violations\":";
      body += ViolationsJson(ViolationsOf(r));
      body += '}';
      break;
    }
  }
  body += '}';
  int status = 200;
  if (final_status && outcome.state == State::kPending) status = 202;
  HttpResponse resp = Json(status, std::move(body));
  if (status == 202) resp.headers.emplace_back("Location", std::string(kOutcomesPrefix) + event_id);
  return resp;
}

}  // namespace

struct Api::Impl {
  ApiOptions options;
  CommandSink& sink;
  OutcomeSource& outcomes;
  const TimeSource& time;

  // Idempotency: the first answer per (agency, caller, key), bounded by count and age.
  struct Entry {
    std::string body_digest;
    TimePoint created;
    std::optional<HttpResponse> answer;
    std::vector<std::function<void(HttpResponse)>> waiting;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
  std::deque<std::pair<std::string, TimePoint>> order;

  Impl(ApiOptions o, CommandSink& s, OutcomeSource& oc, const TimeSource& t)
      : options(std::move(o)), sink(s), outcomes(oc), time(t) {}

  void EvictLocked(TimePoint now) {
    while (!order.empty()) {
      const auto& [key, created] = order.front();
      if (entries.size() <= options.idempotency_entries &&
          now - created <= options.idempotency_ttl) {
        break;
      }
      auto it = entries.find(key);
      if (it != entries.end() && it->second.created == created) {
        // Still waiting for its first answer (bounded by the publish timeout): kept, so
        // that its waiters are answered.
        if (!it->second.answer) break;
        entries.erase(it);
      }
      order.pop_front();
    }
  }

  // Records the first answer for `key` and answers everyone who waited for it. A server
  // or broker failure is not kept: a retry may succeed.
  void Finish(const std::string& key, HttpResponse answer) {
    std::vector<std::function<void(HttpResponse)>> waiting;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(key);
      if (it == entries.end()) return;
      waiting = std::move(it->second.waiting);
      if (answer.status >= 500) {
        entries.erase(it);
      } else {
        it->second.answer = answer;
      }
    }
    HttpResponse replay = answer;
    replay.headers.emplace_back("Idempotent-Replayed", "true");
    for (auto& w : waiting) w(replay);
  }

  void Post(const HttpRequest& req, const Principal& who, std::string_view name,
            std::function<void(HttpResponse)> respond);
  void Get(const HttpRequest& req, const Principal& who, std::string_view id,
           std::function<void(HttpResponse)> respond);
  void AfterPublish(const std::string& event_id, std::optional<std::chrono::seconds> wait,
                    std::function<void(HttpResponse)> respond);
};

Api::Api(ApiOptions options, CommandSink& sink, OutcomeSource& outcomes, const TimeSource& time)
    : impl_(std::make_unique<Impl>(std::move(options), sink, outcomes, time)) {}
Api::~Api() = default;

bool Api::Serves(std::string_view path) {
  return path.starts_with(kCommandsPrefix) || path.starts_with(kOutcomesPrefix);
}

std::string Api::IdempotentEventId(const Principal& principal, std::string_view key) {
  std::string input(kIdempotencyDomain);
  for (std::string_view part :
       {std::string_view(principal.agency), std::string_view(principal.id), key}) {
    input += std::to_string(part.size());
    input += ':';
    input += part;
  }
  return HexEncode(Sha256(input)).substr(0, 32);
}

void Api::Handle(const HttpRequest& req, const Principal& who,
                 std::function<void(HttpResponse)> respond) {
  const std::string_view path = req.path;
  const bool commands = path.starts_with(kCommandsPrefix);
  const std::string_view rest =
      path.substr(commands ? kCommandsPrefix.size() : kOutcomesPrefix.size());
  if (commands && req.method == "POST") return impl_->Post(req, who, rest, std::move(respond));
  if (!commands && req.method == "GET") return impl_->Get(req, who, rest, std::move(respond));
  HttpResponse r = ProblemResponse(
      MakeProblem(405, "Method not allowed", "http.method_not_allowed",
                  commands ? "a command is sent with POST" : "an outcome is read with GET"));
  r.headers.emplace_back("Allow", commands ? "POST" : "GET");
  respond(std::move(r));
}

void Api::Impl::Post(const HttpRequest& req, const Principal& who, std::string_view name,
                     std::function<void(HttpResponse)> respond) {
  const CommandRoute* route = FindCommandRoute(name);
  if (route == nullptr) {
    return respond(
        ProblemResponse(MakeProblem(404, "Not found", "route.unknown_command",
                                    "there is no command of that name (see /openapi.json)")));
  }
  if (!MaySend(*route, who.role)) {
    return respond(ProblemResponse(MakeProblem(403, "Forbidden", "authorisation.role",
                                               "your role may not send this command")));
  }
  const std::string_view type = req.Header("content-type");
  if (!type.starts_with("application/json")) {
    return respond(ProblemResponse(MakeProblem(415, "Unsupported media type", "body.media_type",
                                               "send the command as application/json")));
  }
  const std::string_view key = req.Header("idempotency-key");
  if (!key.empty() && !Printable(key, 128)) {
    Problem p = MakeProblem(400, "Bad request", "idempotency_key.invalid",
                            "an Idempotency-Key is 1 to 128 printable ASCII characters");
    p.field = "Idempotency-Key";
    return respond(ProblemResponse(p));
  }
  std::optional<std::chrono::seconds> wait = PreferredWait(req.Header("prefer"));
  if (wait && *wait > options.max_wait) wait = options.max_wait;

  Envelope command;
  pbjson::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (auto st = pbjson::JsonStringToMessage(req.body, &command, parse); !st.ok()) {
    Problem p =
        MakeProblem(400, "Bad request", "body.invalid_json",
                    "the body is not the JSON mapping of a pathway.v1.Envelope (unknown field, "
                    "wrong type or malformed JSON)");
    p.field = FieldFromParseError(st.message().as_string());
    return respond(ProblemResponse(p));
  }

  // Fields only the gateway may set: all of them reported at once.
  std::vector<Violation> violations;
  const auto gateway_field = [&](bool set, const char* field) {
    if (set)
      violations.push_back(
          {field, "field.set_by_gateway", "the gateway sets this field from the signed-in caller"});
  };
  gateway_field(!command.event_id().empty(), "event_id");
  gateway_field(!command.subject_key().empty(), "subject_key");
  gateway_field(command.has_recorded_at(), "recorded_at");
  gateway_field(command.has_source(), "source");
  gateway_field(command.has_actor(), "actor");
  gateway_field(!command.causation_id().empty(), "causation_id");
  if (command.payload_case() != static_cast<int>(route->payload->number())) {
    violations.push_back({std::string(route->name), "payload.does_not_match_route",
                          "the body must hold exactly the command the route names"});
  }
  if (!violations.empty()) {
    Problem p =
        MakeProblem(422, "The command is not valid", violations.front().rule, "see violations");
    p.field = violations.front().field;
    p.violations = std::move(violations);
    return respond(ProblemResponse(p));
  }

  const TimePoint now = time.Now();
  std::string event_id;
  if (!key.empty()) {
    event_id = Api::IdempotentEventId(who, key);
  } else {
    auto random = RandomBytes(16);
    if (!random.ok()) {
      return respond(ProblemResponse(
          MakeProblem(500, "Internal error", "server.random", "no randomness for an event id")));
    }
    event_id = HexEncode(*random);
  }
  command.set_event_id(event_id);
  command.mutable_source()->set_agency(who.agency);
  command.mutable_source()->set_system(who.api_key ? who.id : options.system_name);
  command.mutable_actor()->set_id(who.id);
  command.mutable_actor()->set_role(std::string(RoleName(who.role)));
  // The sign-in's team: the steps it records put the pathway on that team's caseload.
  command.mutable_actor()->set_team(who.team);
  if (!command.has_occurred_at()) *command.mutable_occurred_at() = ToTimestamp(now);
  if (command.correlation_id().empty()) command.set_correlation_id(event_id);

  // The engine's own stateless checks, so that most mistakes are answered now.
  const auto hash = [](std::string_view id) { return HexEncode(Sha256(id)); };
  // Every violation at once (workflow/command_check.h: required fields, input limits,
  // the referral's formats and dates).
  auto intake = workflow::Intake(command, hash);
  if (intake.rejection) {
    return respond(
        ProblemResponse(RejectionProblem(*intake.rejection, intake.violations, event_id)));
  }

  std::string idem;
  if (!key.empty()) {
    idem = event_id;  // already scoped by agency and caller
    const std::string digest = Sha256(req.body + "\n" + std::string(name));
    std::lock_guard lock(mu);
    EvictLocked(now);
    auto it = entries.find(idem);
    if (it != entries.end()) {
      if (it->second.body_digest != digest) {
        Problem p = MakeProblem(422, "The command is not valid",
                                "idempotency_key.reused_with_different_body",
                                "this Idempotency-Key was used for another command");
        p.field = "Idempotency-Key";
        p.event_id = event_id;
        return respond(ProblemResponse(p));
      }
      if (it->second.answer) {
        HttpResponse replay = *it->second.answer;
        replay.headers.emplace_back("Idempotent-Replayed", "true");
        return respond(std::move(replay));
      }
      it->second.waiting.push_back(std::move(respond));
      return;
    }
    entries.emplace(idem, Entry{digest, now, std::nullopt, {}});
    order.emplace_back(idem, now);
  }

  auto finish = [this, idem, respond = std::move(respond)](HttpResponse r) mutable {
    if (!idem.empty()) Finish(idem, r);
    respond(std::move(r));
  };
  sink.Publish(command, [this, event_id, wait, finish = std::move(finish)](Status st) mutable {
    if (!st.ok()) {
      Problem p = MakeProblem(503, "Service unavailable", "broker.unavailable",
                              "the command could not be handed to the message broker; nothing was "
                              "recorded: try again");
      p.event_id = event_id;
      HttpResponse r = ProblemResponse(p);
      r.headers.emplace_back("Retry-After", "1");
      return finish(std::move(r));
    }
    AfterPublish(event_id, wait, std::move(finish));
  });
}

void Api::Impl::AfterPublish(const std::string& event_id, std::optional<std::chrono::seconds> wait,
                             std::function<void(HttpResponse)> respond) {
  if (!wait || wait->count() == 0) {
    return respond(OutcomeResponse(event_id, CommandOutcome{}, true));
  }
  outcomes.Await(event_id, time.Now() + *wait,
                 [event_id, respond = std::move(respond)](CommandOutcome outcome) {
                   respond(OutcomeResponse(event_id, outcome, true));
                 });
}

void Api::Impl::Get(const HttpRequest& req, const Principal& who, std::string_view id,
                    std::function<void(HttpResponse)> respond) {
  (void)who;  // any signed-in caller: event ids are unguessable and outcomes hold no
              // personal data in clear (docs/gateway.md)
  if (!Printable(id, 128) || id.find('/') != std::string_view::npos) {
    return respond(
        ProblemResponse(MakeProblem(404, "Not found", "route.unknown", "no such resource")));
  }
  const std::string event_id(id);
  std::optional<std::chrono::seconds> wait = PreferredWait(req.Header("prefer"));
  if (wait && *wait > options.max_wait) wait = options.max_wait;
  CommandOutcome now = outcomes.Find(event_id);
  if (now.state != CommandOutcome::State::kPending || !wait || wait->count() == 0) {
    return respond(OutcomeResponse(event_id, now, false));
  }
  outcomes.Await(event_id, time.Now() + *wait,
                 [event_id, respond = std::move(respond)](CommandOutcome outcome) {
                   respond(OutcomeResponse(event_id, outcome, false));
                 });
}

}  // namespace pathway::gateway
