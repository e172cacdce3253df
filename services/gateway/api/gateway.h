// The gateway's front door: every request passes here (docs/gateway.md).
//
//   /health/live, /health/ready, /openapi.json   no sign-in
//   /v1/session                                  browser sessions (below)
//   /v1/...                                      signed in (auth.h, or a session
//                                                cookie), rate-limited per caller, then
//                                                the API (api.h), the reads (reads.h)
//                                                or the dead letters (deadletters.h)
//   /dev/sign-ins, /dev/sign-in                  with `dev_sign_ins_file` only (below)
//   anything else                                the web app's files (static_files.h)
//                                                if `web_root` is set, else 404
//
// Sessions (sessions.h): POST /v1/session with `Authorization: Bearer <token>` makes a
// session and answers {id, role, agency, team, csrfToken} with the cookie
// `pathway_session` (HttpOnly; SameSite=Strict; Path=/; Secure unless
// `secure_cookies` is off); GET /v1/session says who is signed in (401 if nobody);
// DELETE /v1/session signs out. A /v1/ request with neither Authorization nor X-API-Key
// may be signed in by the cookie instead; then every method but GET and HEAD must carry
// `X-CSRF-Token` equal to the session's token (else 403, rule csrf.missing_or_wrong).
// API keys make no sessions (403): they are for partner systems, not browsers.
//
// Development sign-ins (`dev_sign_ins_file`, scripts/run.sh only): GET /dev/sign-ins
// lists {role, id} of the people in the file (never their tokens) and POST
// /dev/sign-in {"role": R} makes a session with that person's token, exactly as POST
// /v1/session would. Without the file both are 404.
//
// Every response carries the security headers (no caching of API answers, nosniff, a
// strict Content-Security-Policy, no framing, no referrer). A 401 names the schemes in
// WWW-Authenticate. Nothing about a request but its method, route family and status is
// logged. Rate limit: a token bucket per caller (agency and id) of `rate_per_minute`
// with bursts of `burst`, 429 with Retry-After beyond it; failed sign-ins are limited
// per client address the same way (`failed_sign_ins_per_minute`); at most
// `max_callers` buckets are kept (the least recently used goes first).
//
// Thread-safe: Handle is the HttpServer's handler and may run on several I/O threads.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "common/time_source.h"
#include "services/gateway/api/api.h"
#include "services/gateway/api/deadletters.h"
#include "services/gateway/api/operations.h"
#include "services/gateway/api/reads.h"
#include "services/gateway/api/sessions.h"
#include "services/gateway/api/static_files.h"
#include "services/gateway/auth/auth.h"
#include "services/gateway/http/http_server.h"

namespace pathway::gateway {

struct GatewayOptions {
  double rate_per_minute = 1200;
  double burst = 120;
  // Failed sign-ins per client address (a bucket apart from the callers').
  double failed_sign_ins_per_minute = 60;
  double failed_sign_in_burst = 30;
  std::size_t max_callers = 100'000;
  // The web app's files (web/dist); empty: none, every other path is 404.
  std::string web_root;
  // scripts/run.sh's development sign-ins (`<role> <sub> <token>` lines, read on each
  // request); empty: /dev/* is 404.
  std::string dev_sign_ins_file;
  // The session cookie's Secure attribute (off only for plain http on loopback).
  bool secure_cookies = true;
  std::size_t max_sessions = 100'000;
};

class Gateway {
 public:
  // All references must outlive the Gateway.
  // `reads` may be null: then /v1/children/* is 404 (no engine query endpoint);
  // `deadletters` likewise for /v1/deadletters, `operations` for /v1/operations/*.
  Gateway(const Authenticator& auth, Api& api, const TimeSource& time, GatewayOptions options = {},
          ReadApi* reads = nullptr, const DeadLetterApi* deadletters = nullptr,
          OperationsApi* operations = nullptr);
  ~Gateway();

  // The HttpServer's handler: Route, answered through `responder`.
  void Handle(HttpRequest request, Responder responder);
  // Answers `request` through `respond` (called once, on any thread).
  void Route(const HttpRequest& request, std::function<void(HttpResponse)> respond);
  // What /health/ready answers (false until the Kafka clients are up).
  void SetReady(bool ready) { ready_.store(ready); }

  // The headers every response gets (exposed for tests).
  static void AddSecurityHeaders(HttpResponse& response);

 private:
  struct Limiter;
  using Respond = std::function<void(HttpResponse)>;
  // The caller of a /v1/ request, or the refusal to send (401, 403, 429).
  std::optional<Principal> SignIn(const HttpRequest& request, HttpResponse* refusal);
  // A failed sign-in (counted per client address) and the 401 it gets.
  HttpResponse Refused(const HttpRequest& request, const std::error_code& code);
  static HttpResponse NotSignedIn(const std::error_code& code);
  HttpResponse NewSession(const Principal& principal, TimePoint expires_at);
  HttpResponse SessionRoute(const HttpRequest& request);
  HttpResponse DevRoute(const HttpRequest& request);

  const Authenticator& auth_;
  Api& api_;
  ReadApi* reads_;
  const DeadLetterApi* deadletters_;
  OperationsApi* operations_;
  const TimeSource& time_;
  GatewayOptions options_;
  std::unique_ptr<Limiter> limiter_;
  std::atomic<bool> ready_{false};
  std::string openapi_;
  SessionStore sessions_;
  std::unique_ptr<StaticFiles> static_files_;
};

}  // namespace pathway::gateway
