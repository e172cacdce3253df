#include "services/gateway/api/gateway.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <list>
#include <mutex>
#include <unordered_map>

#include "common/crypto.h"
#include "common/log.h"
#include "services/gateway/api/openapi.h"
#include "services/gateway/http/problem.h"

namespace pathway::gateway {
namespace {

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

int AuthStatus(const std::error_code& code) { return code == auth_errc::kConfig ? 500 : 401; }

std::string AuthRule(const std::error_code& code) {
  switch (static_cast<auth_errc>(code.value())) {
    case auth_errc::kMissingCredentials:
      return "authentication.missing";
    case auth_errc::kExpired:
      return "authentication.expired";
    case auth_errc::kWrongAudience:
      return "authentication.wrong_audience";
    case auth_errc::kBadClaims:
      return "authentication.bad_claims";
    case auth_errc::kUnknownApiKey:
      return "authentication.unknown_api_key";
    default:
      return "authentication.invalid_token";
  }
}

HttpResponse NotFound() {
  return ProblemResponse(MakeProblem(404, "Not found", "route.unknown", "no such resource"));
}

HttpResponse MethodNotAllowed(std::string allow) {
  HttpResponse r = ProblemResponse(MakeProblem(405, "Method not allowed", "http.method_not_allowed",
                                               "this resource answers " + allow));
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

bool Safe(const HttpRequest& req) { return req.method == "GET" || req.method == "HEAD"; }

bool HasHeaderCredentials(const HttpRequest& req) {
  return !req.Header("authorization").empty() || !req.Header("x-api-key").empty();
}

std::string SessionJson(const Session& s) {
  return "{\"id\":" + JsonString(s.principal.id) +
         ",\"role\":" + JsonString(RoleName(s.principal.role)) +
         ",\"agency\":" + JsonString(s.principal.agency) +
         ",\"team\":" + JsonString(s.principal.team) +
         ",\"csrfToken\":" + JsonString(s.csrf_token) + "}";
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

}  // namespace

// A token bucket per caller, the least recently used dropped beyond max_callers.
struct Gateway::Limiter {
  struct Bucket {
    double tokens;
    TimePoint at;
    std::list<std::string>::iterator lru;
  };
  std::mutex mu;
  std::unordered_map<std::string, Bucket> buckets;
  std::list<std::string> lru;

  // 0 if allowed, else the seconds to wait.
  int Take(const std::string& caller, TimePoint now, const GatewayOptions& o) {
    std::lock_guard lock(mu);
    auto it = buckets.find(caller);
    if (it == buckets.end()) {
      lru.push_front(caller);
      it = buckets.emplace(caller, Bucket{o.burst, now, lru.begin()}).first;
      while (buckets.size() > o.max_callers) {
        buckets.erase(lru.back());
        lru.pop_back();
      }
    } else {
      lru.splice(lru.begin(), lru, it->second.lru);
    }
    Bucket& b = it->second;
    const double per_second = o.rate_per_minute / 60.0;
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    if (elapsed > 0) b.tokens = std::min(o.burst, b.tokens + elapsed * per_second);
    b.at = now;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return 0;
    }
    return std::max(1, static_cast<int>((1.0 - b.tokens) / per_second + 0.999));
  }
};

Gateway::Gateway(const Authenticator& auth, Api& api, const TimeSource& time,
                 GatewayOptions options, ReadApi* reads, const DeadLetterApi* deadletters,
                 OperationsApi* operations)
    : auth_(auth),
      api_(api),
      reads_(reads),
      deadletters_(deadletters),
      operations_(operations),
      time_(time),
      options_(options),
      limiter_(std::make_unique<Limiter>()),
      openapi_(OpenApiDocument()),
      sessions_(options_.max_sessions) {
  if (!options_.web_root.empty()) static_files_ = std::make_unique<StaticFiles>(options_.web_root);
}

Gateway::~Gateway() = default;

void Gateway::AddSecurityHeaders(HttpResponse& r) {
  // No caching unless the answer says otherwise (the web app's static files).
  bool cache_set = false;
  for (const auto& [name, value] : r.headers) cache_set |= name == "Cache-Control";
  if (!cache_set) r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                         "form-action 'self'");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

void Gateway::Handle(HttpRequest request, Responder responder) {
  auto shared = std::make_shared<Responder>(std::move(responder));
  Route(request, [shared](HttpResponse r) { shared->Send(std::move(r)); });
}

void Gateway::Route(const HttpRequest& req, std::function<void(HttpResponse)> send) {
  // One place adds the headers and logs the outcome (method, route family, status).
  auto family = std::string(req.path.starts_with("/v1/")       ? "api"
                            : req.path.starts_with("/health/") ? "health"
                            : req.path.starts_with("/dev/")    ? "dev"
                            : static_files_                    ? "web"
                                                               : "other");
  std::string method = "other";  // what the client sent is never logged as such
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (req.method == known) method = known;
  }
  auto respond = [send = std::move(send), method, family](HttpResponse r) {
    AddSecurityHeaders(r);
    log::Debug("gateway.request",
               {{"method", method}, {"route", family}, {"status", std::to_string(r.status)}});
    send(std::move(r));
  };

  const bool open =
      req.path == "/health/live" || req.path == "/health/ready" || req.path == "/openapi.json";
  if (open && req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = ProblemResponse(MakeProblem(
        405, "Method not allowed", "http.method_not_allowed", "this resource answers GET"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return respond(std::move(r));
  }
  if (req.path == "/health/live") {
    return respond(Text(200, "live\n"));
  }
  if (req.path == "/health/ready") {
    return respond(ready_.load() ? Text(200, "ready\n") : Text(503, "not ready\n"));
  }
  if (req.path == "/openapi.json") {
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = openapi_;
    return respond(std::move(r));
  }
  if (req.path == "/v1/session") return respond(SessionRoute(req));
  if (req.path.starts_with("/dev/")) return respond(DevRoute(req));
  const bool read = reads_ && ReadApi::Serves(req.path);
  const bool dead = deadletters_ && DeadLetterApi::Serves(req.path);
  const bool ops = operations_ && OperationsApi::Serves(req.path);
  if (!read && !dead && !ops && !Api::Serves(req.path)) {
    if (static_files_ && !req.path.starts_with("/v1/")) {
      return respond(static_files_->Serve(req));
    }
    return respond(NotFound());
  }

  HttpResponse refusal;
  std::optional<Principal> principal = SignIn(req, &refusal);
  if (!principal) return respond(std::move(refusal));
  if (read) return reads_->Handle(req, *principal, std::move(respond));
  if (dead) return respond(deadletters_->Handle(req, *principal));
  if (ops) return operations_->Handle(req, *principal, std::move(respond));
  api_.Handle(req, *principal, std::move(respond));
}

HttpResponse Gateway::Refused(const HttpRequest& req, const std::error_code& code) {
  // Failed sign-ins are limited per client address (guessing keys or session ids,
  // replaying stolen tokens), with a bucket of their own so that one client's mistakes
  // never use up a signed-in caller's allowance.
  GatewayOptions failures = options_;
  failures.rate_per_minute = options_.failed_sign_ins_per_minute;
  failures.burst = options_.failed_sign_in_burst;
  if (int wait = limiter_->Take("address\n" + req.client_address, time_.Now(), failures);
      wait > 0) {
    HttpResponse r = ProblemResponse(MakeProblem(429, "Too many requests", "rate_limit.exceeded",
                                                 "too many failed sign-ins from this address"));
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  return NotSignedIn(code);
}

HttpResponse Gateway::NotSignedIn(const std::error_code& code) {
  HttpResponse r = ProblemResponse(MakeProblem(AuthStatus(code), "Not signed in", AuthRule(code),
                                               "sign in again, or check the API key"));
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"pathway\", ApiKey realm=\"pathway\"");
  return r;
}

std::optional<Principal> Gateway::SignIn(const HttpRequest& req, HttpResponse* refusal) {
  std::optional<Principal> principal;
  const std::string_view cookie = CookieValue(req.Header("cookie"), kSessionCookie);
  if (!HasHeaderCredentials(req) && !cookie.empty()) {
    // A browser: the session cookie, and for anything but a read the CSRF token that
    // only the app's own pages can have read (GET /v1/session, same origin).
    Session session;
    switch (sessions_.Find(cookie, time_.Now(), &session)) {
      case SessionStore::Lookup::kFound:
        break;
      case SessionStore::Lookup::kExpired:
        *refusal = Refused(req, auth_errc::kExpired);
        return std::nullopt;
      case SessionStore::Lookup::kUnknown:
        *refusal = Refused(req, auth_errc::kMissingCredentials);
        return std::nullopt;
    }
    if (!Safe(req) && !ConstantTimeEquals(req.Header("x-csrf-token"), session.csrf_token)) {
      *refusal = ProblemResponse(
          MakeProblem(403, "Forbidden", "csrf.missing_or_wrong",
                      "a signed-in page must send the session's X-CSRF-Token with every change"));
      return std::nullopt;
    }
    principal = std::move(session.principal);
  } else {
    auto authenticated = auth_.Authenticate(req.Header("authorization"), req.Header("x-api-key"));
    if (!authenticated.ok()) {
      *refusal = Refused(req, authenticated.error().code);
      return std::nullopt;
    }
    principal = std::move(*authenticated);
  }
  const std::string caller = principal->agency + "\n" + principal->id;
  if (int wait = limiter_->Take(caller, time_.Now(), options_); wait > 0) {
    *refusal = ProblemResponse(MakeProblem(429, "Too many requests", "rate_limit.exceeded",
                                           "this caller sent more requests than it may"));
    refusal->headers.emplace_back("Retry-After", std::to_string(wait));
    return std::nullopt;
  }
  return principal;
}

HttpResponse Gateway::NewSession(const Principal& principal, TimePoint expires_at) {
  if (principal.api_key) {
    return ProblemResponse(MakeProblem(403, "Forbidden", "authorisation.role",
                                       "sessions are for people signed in with a token"));
  }
  const TimePoint now = time_.Now();
  if (int wait = limiter_->Take(principal.agency + "\n" + principal.id, now, options_); wait > 0) {
    HttpResponse r = ProblemResponse(MakeProblem(429, "Too many requests", "rate_limit.exceeded",
                                                 "this caller sent more requests than it may"));
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  std::string id;
  auto session = sessions_.Create(principal, expires_at, now, &id);
  if (!session.ok()) {
    return ProblemResponse(MakeProblem(503, "Unavailable", "session.unavailable",
                                       "no session could be made: try again"));
  }
  HttpResponse r = Json(200, SessionJson(*session));
  r.headers.emplace_back(
      "Set-Cookie",
      SessionCookie(id, std::chrono::duration_cast<std::chrono::seconds>(expires_at - now),
                    options_.secure_cookies));
  return r;
}

HttpResponse Gateway::SessionRoute(const HttpRequest& req) {
  const std::string_view cookie = CookieValue(req.Header("cookie"), kSessionCookie);
  if (req.method == "POST") {
    std::optional<TimePoint> expires_at;
    auto principal =
        auth_.Authenticate(req.Header("authorization"), req.Header("x-api-key"), &expires_at);
    if (!principal.ok()) return Refused(req, principal.error().code);
    if (!expires_at) return NewSession(*principal, time_.Now());  // an API key: refused
    return NewSession(*principal, *expires_at);
  }
  if (Safe(req)) {
    Session session;
    const auto found = cookie.empty() ? SessionStore::Lookup::kUnknown
                                      : sessions_.Find(cookie, time_.Now(), &session);
    if (cookie.empty()) return NotSignedIn(auth_errc::kMissingCredentials);  // not a guess
    if (found != SessionStore::Lookup::kFound) {
      return Refused(req, found == SessionStore::Lookup::kExpired ? auth_errc::kExpired
                                                                  : auth_errc::kMissingCredentials);
    }
    return Json(200, SessionJson(session));
  }
  if (req.method == "DELETE") {
    Session session;
    const auto found = cookie.empty() ? SessionStore::Lookup::kUnknown
                                      : sessions_.Find(cookie, time_.Now(), &session);
    HttpResponse r;
    if (cookie.empty()) {
      r = NotSignedIn(auth_errc::kMissingCredentials);
    } else if (found != SessionStore::Lookup::kFound) {
      r = Refused(req, found == SessionStore::Lookup::kExpired ? auth_errc::kExpired
                                                               : auth_errc::kMissingCredentials);
    } else if (!ConstantTimeEquals(req.Header("x-csrf-token"), session.csrf_token)) {
      return ProblemResponse(MakeProblem(403, "Forbidden", "csrf.missing_or_wrong",
                                         "signing out needs the session's X-CSRF-Token"));
    } else {
      sessions_.Remove(cookie);
      r.status = 204;
    }
    r.headers.emplace_back("Set-Cookie", ClearedSessionCookie(options_.secure_cookies));
    return r;
  }
  return MethodNotAllowed("GET, HEAD, POST, DELETE");
}

HttpResponse Gateway::DevRoute(const HttpRequest& req) {
  if (options_.dev_sign_ins_file.empty() ||
      (req.path != "/dev/sign-ins" && req.path != "/dev/sign-in")) {
    return NotFound();
  }
  auto people = ReadDevSignIns(options_.dev_sign_ins_file);
  if (!people.ok()) {
    return ProblemResponse(MakeProblem(503, "Unavailable", "dev_sign_in.unavailable",
                                       "the development sign-ins are not written yet"));
  }
  if (req.path == "/dev/sign-ins") {
    if (!Safe(req)) return MethodNotAllowed("GET, HEAD");
    std::string body = "{\"people\":[";
    for (size_t i = 0; i < people->size(); ++i) {
      const DevSignIn& p = (*people)[i];
      if (i) body += ',';
      body += "{\"role\":" + JsonString(RoleName(p.role)) + ",\"id\":" + JsonString(p.id) + "}";
    }
    return Json(200, body + "]}");
  }
  if (req.method != "POST") return MethodNotAllowed("POST");
  // JSON only: a cross-site form cannot send it without the browser asking first.
  if (!req.Header("content-type").starts_with("application/json")) {
    return ProblemResponse(
        MakeProblem(415, "Unsupported media type", "body.media_type", "send application/json"));
  }
  google::protobuf::Struct body;
  google::protobuf::util::JsonParseOptions parse;
  if (!google::protobuf::util::JsonStringToMessage(req.body, &body, parse).ok()) {
    return ProblemResponse(
        MakeProblem(400, "Bad request", "body.invalid_json", "the body is not a JSON object"));
  }
  const auto role_field = body.fields().find("role");
  const auto role = role_field == body.fields().end()
                        ? std::nullopt
                        : ParseRole(role_field->second.string_value());
  for (const DevSignIn& person : *people) {
    if (!role || person.role != *role) continue;
    std::optional<TimePoint> expires_at;
    auto principal = auth_.Authenticate("Bearer " + person.token, "", &expires_at);
    if (!principal.ok() || !expires_at) {
      return Refused(req, principal.ok() ? auth_errc::kInvalidToken : principal.error().code);
    }
    return NewSession(*principal, *expires_at);
  }
  Problem p = MakeProblem(422, "The request is not valid", "dev_sign_in.unknown_role",
                          "no development sign-in for that role");
  p.field = "role";
  return ProblemResponse(p);
}

}  // namespace pathway::gateway
