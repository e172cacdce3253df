// Browser sessions for the web app (docs/gateway.md "Sessions"): a person signs in
// once with a bearer token (POST /v1/session) and the browser then carries an opaque
// cookie instead of the token, which scripts cannot read (HttpOnly).
//
// A session is a random 256-bit id (64 hex digits) naming the principal the token
// proved, the token's expiry (the session ends with the token) and a CSRF token, also
// 256 random bits, that a page must send back in `X-CSRF-Token` with every request but
// GET and HEAD. The store is bounded: beyond `max_sessions` the expired sessions go
// first, then the oldest. Ids are never logged.
//
// Also the development sign-ins file that scripts/run.sh writes (`<role> <sub> <token>`
// per line), read only when the gateway runs with --dev-sign-ins.
//
// Thread-safe: every SessionStore member may be called concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/time_source.h"
#include "services/gateway/auth/auth.h"

namespace pathway::gateway {

inline constexpr std::string_view kSessionCookie = "pathway_session";

struct Session {
  Principal principal;
  TimePoint expires_at;
  std::string csrf_token;  // 64 hex digits
};

class SessionStore {
 public:
  explicit SessionStore(std::size_t max_sessions) : max_sessions_(max_sessions) {}

  // A new session until `expires_at`; sets `*id` (64 hex digits). Fails only if the
  // system's random source does.
  Result<Session> Create(const Principal& principal, TimePoint expires_at, TimePoint now,
                         std::string* id);

  enum class Lookup { kFound, kUnknown, kExpired };
  // kExpired once (the session is dropped then); kUnknown for anything not issued here.
  Lookup Find(std::string_view id, TimePoint now, Session* out);
  // Signs out; false if there was no such session.
  bool Remove(std::string_view id);
  std::size_t size() const;

 private:
  struct Entry {
    Session session;
    std::list<std::string>::iterator order;
  };
  void MakeRoomLocked(TimePoint now);

  const std::size_t max_sessions_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> sessions_;
  std::list<std::string> order_;  // oldest first
};

// The value of cookie `name` in a Cookie request header (RFC 6265 `a=b; c=d`), empty if
// absent.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

// Set-Cookie for a session: HttpOnly, SameSite=Strict, Path=/, Max-Age, and Secure
// unless `secure` is false (plain http://127.0.0.1 in development only).
std::string SessionCookie(std::string_view id, std::chrono::seconds max_age, bool secure);
// Set-Cookie that makes the browser forget the session cookie.
std::string ClearedSessionCookie(bool secure);

struct DevSignIn {
  Role role;
  std::string id;     // the token's subject
  std::string token;  // never shown to a browser
};
// The people's lines of a development sign-ins file (`<role> <sub> <token>`); lines of
// other roles (the partner system's API key) and comments are skipped.
Result<std::vector<DevSignIn>> ReadDevSignIns(const std::string& file);

}  // namespace pathway::gateway
