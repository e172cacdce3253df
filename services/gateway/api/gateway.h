// The gateway's front door: every request passes here (docs/gateway.md).
//
//   /health/live, /health/ready, /openapi.json   no sign-in
//   /v1/...                                      signed in (auth.h), rate-limited per
//                                                caller, then the API (api.h)
//   anything else                                404
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
#include <string>

#include "common/time_source.h"
#include "services/gateway/api/api.h"
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
};

class Gateway {
 public:
  // All references must outlive the Gateway.
  Gateway(const Authenticator& auth, Api& api, const TimeSource& time, GatewayOptions options = {});
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
  const Authenticator& auth_;
  Api& api_;
  const TimeSource& time_;
  GatewayOptions options_;
  std::unique_ptr<Limiter> limiter_;
  std::atomic<bool> ready_{false};
  std::string openapi_;
};

}  // namespace pathway::gateway
