// Who is calling the gateway: every request is authenticated, either by an OpenID
// Connect style signed bearer token (a person signed in through the partnership's
// identity provider) or by an API key (a partner system).
//
// Bearer tokens: `Authorization: Bearer <JWT>`, signed RS256 or ES256 (P-256) only
// (any other `alg`, including "none" and every HS*, is refused before any key is
// used, so a public key can never be used as an HMAC secret). The key is the JWKS
// entry whose `kid` equals the token header's `kid`, and whose key type matches the
// algorithm (RSA for RS256, EC P-256 for ES256). Verified with libjwt (Debian's
// libjwt-dev); the JWKS (RFC 7517 JSON, `keys` array of RSA `n`/`e` or EC `crv`/`x`/`y`
// entries) is read from a file and turned into keys with OpenSSL. Claims checked:
//   iss  equals options.issuer
//   aud  equals (or, if an array, contains) options.audience
//   exp  in the future, nbf (if present) in the past, each with options.leeway
//   sub  the user's opaque staff id: non-empty, at most 128 bytes, printable ASCII
//   pathway_role    one of the role names below but partner_system (API keys only)
//   pathway_agency  the user's organisation code (ODS code, LA code, school URN):
//                   non-empty, at most 64 bytes, [A-Za-z0-9._-]
//   pathway_team    optional: the user's team or service (caseloads), same charset
//
// API keys: `Authorization: ApiKey <key id>.<secret>` (or the header `X-API-Key:
// <key id>.<secret>`). The keys file holds one key per line, `#` comments allowed:
//   <key id> <hex SHA-256 of the secret> <agency> <system name>
// Secrets are never stored, only their hashes; comparison is constant-time. An API
// key's principal has the role kPartnerSystem, id "<system name>", and its agency.
//
// Errors never say which check failed beyond a stable `rule` (for the problem
// document) and never contain the token, the key or any claim value.
//
// Thread safety: Authenticate is const and thread-safe; Reload swaps the key sets
// atomically and may run concurrently with Authenticate.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "common/result.h"
#include "common/time_source.h"

namespace pathway::gateway {

enum class auth_errc {
  kOk = 0,
  kMissingCredentials = 1,  // no Authorization / X-API-Key header         (401)
  kInvalidToken = 2,        // malformed, bad signature, unknown kid, bad alg (401)
  kExpired = 3,             // exp passed or nbf in the future             (401)
  kWrongAudience = 4,       // iss or aud do not match                     (401)
  kBadClaims = 5,           // sub/role/agency/team missing or malformed   (401)
  kUnknownApiKey = 6,       // no such key id, or the secret does not match (401)
  kConfig = 7,              // the JWKS or keys file cannot be read or parsed (startup)
};
const std::error_category& auth_category();
inline std::error_code make_error_code(auth_errc e) {
  return {static_cast<int>(e), auth_category()};
}

// Roles (docs/gateway.md has the authorisation matrix). Names are stable.
enum class Role {
  kPartnerSystem = 1,  // "partner_system"
  kClinician = 2,      // "clinician"
  kCaseworker = 3,     // "caseworker"
  kTeamManager = 4,    // "team_manager"
  kOperations = 5,     // "operations"
  kAuditor = 6,        // "auditor"
};
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct Principal {
  std::string id;  // staff id (token `sub`) or the partner system's name
  Role role = Role::kClinician;
  std::string agency;  // organisation code
  std::string team;    // may be empty
  bool api_key = false;
};

struct AuthOptions {
  std::string jwks_file;      // may be empty: no bearer tokens accepted
  std::string api_keys_file;  // may be empty: no API keys accepted
  std::string issuer;
  std::string audience;
  std::chrono::seconds leeway{60};
};

class Authenticator {
 public:
  // Reads both files. Errors: kConfig (naming the file and the line or JWKS entry, not
  // its content). `time` must outlive the Authenticator.
  static Result<std::unique_ptr<Authenticator>> Open(AuthOptions options, const TimeSource& time);
  ~Authenticator();

  // `authorization` and `api_key` are the raw header values (empty if absent).
  Result<Principal> Authenticate(std::string_view authorization, std::string_view api_key) const;
  // The same, and when the credential stops being valid: a bearer token's `exp`
  // (browser sessions end with the token, gateway.h); nullopt for an API key.
  Result<Principal> Authenticate(std::string_view authorization, std::string_view api_key,
                                 std::optional<TimePoint>* expires_at) const;

  // Re-reads both files (key rotation); on error keeps the old keys.
  Status Reload();

 private:
  struct Impl;
  explicit Authenticator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A development identity provider: an ES256 key pair, its JWKS, and tokens signed with
// it. For the run command's development sign-ins and for tests; never used by the
// gateway to verify (it reads the JWKS file like any other).
class DevIssuer {
 public:
  // A new random P-256 key with key id `kid`.
  static Result<DevIssuer> Generate(std::string kid);
  // The private key PEM and the kid, as written by SavePrivateKey (so that a later
  // process can sign with the same key).
  static Result<DevIssuer> Load(const std::string& private_key_file);
  Status SavePrivateKey(const std::string& file) const;  // mode 0600
  std::string Jwks() const;                              // {"keys":[{...}]}
  Status SaveJwks(const std::string& file) const;

  struct Claims {
    Principal principal;
    std::string issuer;
    std::string audience;
    TimePoint issued_at;
    std::chrono::seconds lifetime{3600};
  };
  Result<std::string> Sign(const Claims& claims) const;

  const std::string& kid() const { return kid_; }
  const std::string& private_key_pem() const { return pem_; }

 private:
  DevIssuer(std::string kid, std::string pem) : kid_(std::move(kid)), pem_(std::move(pem)) {}
  std::string kid_;
  std::string pem_;
};

}  // namespace pathway::gateway

template <>
struct std::is_error_code_enum<pathway::gateway::auth_errc> : std::true_type {};
