#include "services/gateway/api/gateway.h"

#include <list>
#include <mutex>
#include <unordered_map>

#include "common/log.h"
#include "services/gateway/api/openapi.h"
#include "services/gateway/api/problem.h"

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
                 GatewayOptions options)
    : auth_(auth),
      api_(api),
      time_(time),
      options_(options),
      limiter_(std::make_unique<Limiter>()),
      openapi_(OpenApiDocument()) {}

Gateway::~Gateway() = default;

void Gateway::AddSecurityHeaders(HttpResponse& r) {
  r.headers.emplace_back("Cache-Control", "no-store");
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
  if (!Api::Serves(req.path)) {
    return respond(
        ProblemResponse(MakeProblem(404, "Not found", "route.unknown", "no such resource")));
  }

  auto principal = auth_.Authenticate(req.Header("authorization"), req.Header("x-api-key"));
  if (!principal.ok()) {
    // Failed sign-ins are limited per client address (guessing keys or replaying stolen
    // tokens), with a bucket of their own so that one client's mistakes never use up a
    // signed-in caller's allowance.
    GatewayOptions failures = options_;
    failures.rate_per_minute = options_.failed_sign_ins_per_minute;
    failures.burst = options_.failed_sign_in_burst;
    if (int wait = limiter_->Take("address\n" + req.client_address, time_.Now(), failures);
        wait > 0) {
      HttpResponse r = ProblemResponse(MakeProblem(429, "Too many requests", "rate_limit.exceeded",
                                                   "too many failed sign-ins from this address"));
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return respond(std::move(r));
    }
    const auto& code = principal.error().code;
    HttpResponse r = ProblemResponse(MakeProblem(AuthStatus(code), "Not signed in", AuthRule(code),
                                                 "sign in again, or check the API key"));
    r.headers.emplace_back("WWW-Authenticate",
                           "Bearer realm=\"pathway\", ApiKey realm=\"pathway\"");
    return respond(std::move(r));
  }
  const std::string caller = principal->agency + "\n" + principal->id;
  if (int wait = limiter_->Take(caller, time_.Now(), options_); wait > 0) {
    HttpResponse r = ProblemResponse(MakeProblem(429, "Too many requests", "rate_limit.exceeded",
                                                 "this caller sent more requests than it may"));
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return respond(std::move(r));
  }
  api_.Handle(req, *principal, std::move(respond));
}

}  // namespace pathway::gateway
