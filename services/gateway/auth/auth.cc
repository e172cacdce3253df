#include "services/gateway/auth/auth.h"

#include <fcntl.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "common/crypto.h"
#include "services/gateway/auth/jose.h"

namespace pathway::gateway {
namespace {

using jose::JsonValue;

class AuthCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pathway.gateway.auth"; }
  std::string message(int code) const override {
    switch (static_cast<auth_errc>(code)) {
      case auth_errc::kOk:
        return "ok";
      case auth_errc::kMissingCredentials:
        return "no credentials";
      case auth_errc::kInvalidToken:
        return "invalid token";
      case auth_errc::kExpired:
        return "token expired or not yet valid";
      case auth_errc::kWrongAudience:
        return "token issuer or audience mismatch";
      case auth_errc::kBadClaims:
        return "token claims missing or malformed";
      case auth_errc::kUnknownApiKey:
        return "unknown API key";
      case auth_errc::kConfig:
        return "authentication configuration error";
    }
    return "unknown authentication error";
  }
};

// Bounds. A token above kMaxTokenBytes is refused before any parsing (libjwt copies it
// onto the stack with alloca while decoding).
constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr size_t kMaxConfigFileBytes = 1 << 20;
constexpr size_t kMaxKidBytes = 256;
constexpr size_t kMaxSubBytes = 128;
constexpr size_t kMaxAgencyBytes = 64;
constexpr size_t kMaxApiKeyIdBytes = 64;
constexpr size_t kMaxApiKeySecretBytes = 256;
constexpr size_t kMaxSystemNameBytes = 128;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kEcCoordinateBytes = 32;  // P-256
// NumericDate bounds: the epoch to the end of year 9999.
constexpr double kMaxNumericDate = 253402300799.0;

// --- OpenSSL and libjwt ownership ---------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct JwtFree {
  void operator()(jwt_t* p) const { jwt_free(p); }
};
struct MallocFree {
  void operator()(char* p) const { std::free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using Jwt = std::unique_ptr<jwt_t, JwtFree>;
using CString = std::unique_ptr<char, MallocFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// OpenSSL (and libjwt through it) leaves errors on the thread's queue; they must not
// leak into an unrelated later call.
struct ClearOpenSslErrors {
  ~ClearOpenSslErrors() { ERR_clear_error(); }
};

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

std::optional<std::string> PublicKeyPem(EVP_PKEY* pkey) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) return std::nullopt;
  std::string pem = BioContents(bio.get());
  if (pem.empty()) return std::nullopt;
  return pem;
}

bool PublicCheck(EVP_PKEY* pkey) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  return ctx && EVP_PKEY_public_check(ctx.get()) == 1;
}

Pkey FromData(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return Pkey(raw);
}

Pkey RsaPublicKey(std::string_view n, std::string_view e) {
  Bn bn_n(BN_bin2bn(Bytes(n), static_cast<int>(n.size()), nullptr));
  Bn bn_e(BN_bin2bn(Bytes(e), static_cast<int>(e.size()), nullptr));
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  return FromData("RSA", bld.get());
}

Pkey EcP256PublicKey(std::string_view x, std::string_view y) {
  std::string point = "\x04";
  point.append(x);
  point.append(y);
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return nullptr;
  }
  return FromData("EC", bld.get());
}

bool IsP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
      1) {
    return false;
  }
  const std::string_view name(group, len);
  return name == "prime256v1" || name == "P-256";
}

// x and y of an EC P-256 public key, each 32 bytes.
std::optional<std::pair<std::string, std::string>> EcCoordinates(EVP_PKEY* pkey) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x);
  EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  Bn bx(x), by(y);
  if (!bx || !by) return std::nullopt;
  std::string xs(kEcCoordinateBytes, '\0'), ys(kEcCoordinateBytes, '\0');
  if (BN_bn2binpad(bx.get(), reinterpret_cast<unsigned char*>(xs.data()),
                   static_cast<int>(xs.size())) < 0 ||
      BN_bn2binpad(by.get(), reinterpret_cast<unsigned char*>(ys.data()),
                   static_cast<int>(ys.size())) < 0) {
    return std::nullopt;
  }
  return std::make_pair(std::move(xs), std::move(ys));
}

// An EC P-256 private key from a PEM (PKCS#8 or SEC1), or null.
Pkey ReadEcP256PrivateKey(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  Pkey pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || !IsP256(pkey.get())) return nullptr;
  return pkey;
}

// --- Files --------------------------------------------------------------------------

Result<std::string> ReadSmallFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{auth_errc::kConfig, std::string(what) + " " + path + ": cannot be read"};
  std::string data;
  char buf[8192];
  while (in) {
    in.read(buf, sizeof buf);
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxConfigFileBytes) {
      return Error{auth_errc::kConfig, std::string(what) + " " + path + ": larger than 1 MiB"};
    }
  }
  if (in.bad()) {
    return Error{auth_errc::kConfig, std::string(what) + " " + path + ": cannot be read"};
  }
  return data;
}

// Writes `data` to `path` through a temporary file and a rename, so that a reader (the
// gateway's Reload) never sees half a file.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const auto fail = [&](const char* what) {
    return Status(auth_errc::kConfig, std::string(what) + " " + path + ": " + std::strerror(errno));
  };
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return fail("cannot create");
  if (::fchmod(fd, mode) != 0) {
    const Status st = fail("cannot set the mode of");
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status st = fail("cannot write");
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const Status st = fail("cannot sync");
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status st = fail("cannot rename onto");
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

// --- Character rules ----------------------------------------------------------------

bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Organisation and team codes: non-empty, at most 64 bytes, [A-Za-z0-9._-].
bool IsCode(std::string_view s) {
  if (s.empty() || s.size() > kMaxAgencyBytes) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// API key ids: non-empty, at most 64 bytes, [A-Za-z0-9_-].
bool IsApiKeyId(std::string_view s) {
  if (s.empty() || s.size() > kMaxApiKeyIdBytes) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// --- Key sets -----------------------------------------------------------------------

enum class KeyType { kRsa, kEcP256 };

struct ApiKey {
  std::string hash;  // 32 raw bytes: SHA-256 of the secret
  std::string agency;
  std::string system_name;
};

struct KeySet {
  std::map<std::pair<std::string, KeyType>, std::string> jwks;  // (kid, type) -> PEM
  std::map<std::string, ApiKey, std::less<>> api_keys;          // key id -> key
};

Error JwksError(const std::string& path, std::string what) {
  return Error{auth_errc::kConfig, "JWKS file " + path + ": " + std::move(what)};
}

Status LoadJwks(const std::string& path, KeySet& set) {
  auto text = ReadSmallFile(path, "JWKS file");
  if (!text.ok()) return text.error();
  const std::optional<JsonValue> doc = jose::ParseJson(*text);
  if (!doc || !doc->is_object()) return JwksError(path, "not a JSON object");
  const JsonValue* keys = doc->Find("keys");
  if (keys == nullptr || !keys->is_array()) return JwksError(path, "no \"keys\" array");
  for (size_t i = 0; i < keys->items.size(); ++i) {
    const JsonValue& jwk = keys->items[i];
    const std::string entry = "entry " + std::to_string(i);
    if (!jwk.is_object()) return JwksError(path, entry + " is not an object");
    const JsonValue* kty = jwk.Find("kty");
    if (kty == nullptr || !kty->is_string()) return JwksError(path, entry + " has no \"kty\"");
    KeyType type;
    if (kty->string == "RSA") {
      type = KeyType::kRsa;
    } else if (kty->string == "EC") {
      type = KeyType::kEcP256;
    } else {
      continue;  // other key types (oct, OKP) are not used for RS256/ES256
    }
    // Published private key material is a leak to be fixed at the source, not ignored.
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
      if (jwk.Find(secret) != nullptr) {
        return JwksError(path, entry + " contains private key material");
      }
    }
    const JsonValue* use = jwk.Find("use");
    if (use != nullptr && (!use->is_string() || use->string != "sig")) continue;
    if (const JsonValue* ops = jwk.Find("key_ops"); ops != nullptr) {
      bool verify = false;
      if (ops->is_array()) {
        for (const JsonValue& op : ops->items) verify |= op.is_string() && op.string == "verify";
      }
      if (!verify) continue;
    }
    const JsonValue* alg = jwk.Find("alg");
    if (alg != nullptr &&
        (!alg->is_string() || alg->string != (type == KeyType::kRsa ? "RS256" : "ES256"))) {
      continue;  // a key pinned to another algorithm
    }
    if (type == KeyType::kEcP256) {
      const JsonValue* crv = jwk.Find("crv");
      if (crv == nullptr || !crv->is_string()) return JwksError(path, entry + " has no \"crv\"");
      if (crv->string != "P-256") continue;
    }
    const JsonValue* kid = jwk.Find("kid");
    if (kid == nullptr) continue;  // no token can name it
    if (!kid->is_string() || kid->string.empty() || kid->string.size() > kMaxKidBytes) {
      return JwksError(path, entry + " has a malformed \"kid\"");
    }

    const auto member = [&](const char* name) -> std::optional<std::string> {
      const JsonValue* v = jwk.Find(name);
      if (v == nullptr || !v->is_string()) return std::nullopt;
      return jose::Base64UrlDecode(v->string);
    };
    Pkey pkey;
    if (type == KeyType::kRsa) {
      const std::optional<std::string> n = member("n");
      const std::optional<std::string> e = member("e");
      if (!n || n->empty() || n->size() > kMaxRsaBits / 8 + 1) {
        return JwksError(path, entry + ": \"n\" is missing or malformed");
      }
      if (!e || e->empty() || e->size() > 8) {
        return JwksError(path, entry + ": \"e\" is missing or malformed");
      }
      pkey = RsaPublicKey(*n, *e);
      if (!pkey || !PublicCheck(pkey.get())) {
        return JwksError(path, entry + " is not a valid RSA public key");
      }
      const int bits = EVP_PKEY_get_bits(pkey.get());
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return JwksError(path, entry + ": RSA keys must have 2048 to 8192 bits");
      }
    } else {
      const std::optional<std::string> x = member("x");
      const std::optional<std::string> y = member("y");
      if (!x || x->size() != kEcCoordinateBytes || !y || y->size() != kEcCoordinateBytes) {
        return JwksError(path, entry + ": \"x\" or \"y\" is missing or malformed");
      }
      pkey = EcP256PublicKey(*x, *y);
      if (!pkey || !PublicCheck(pkey.get())) {
        return JwksError(path, entry + " is not a valid P-256 public key");
      }
    }
    std::optional<std::string> pem = PublicKeyPem(pkey.get());
    if (!pem) return JwksError(path, entry + " cannot be exported");
    if (!set.jwks.emplace(std::make_pair(kid->string, type), std::move(*pem)).second) {
      return JwksError(path, entry + " repeats the \"kid\" of an earlier key of its type");
    }
  }
  if (set.jwks.empty()) return JwksError(path, "no RS256 or ES256 signing key");
  return Status::Ok();
}

Status LoadApiKeys(const std::string& path, KeySet& set) {
  auto text = ReadSmallFile(path, "API keys file");
  if (!text.ok()) return text.error();
  std::string_view rest = *text;
  size_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = TrimSpace(line);
    if (line.empty() || line.front() == '#') continue;
    const auto bad = [&](const char* what) {
      return Status(auth_errc::kConfig,
                    "API keys file " + path + ": line " + std::to_string(line_no) + ": " + what);
    };
    // <key id> <hex SHA-256 of the secret> <agency> <system name (may contain spaces)>
    std::array<std::string_view, 3> fields;
    for (std::string_view& field : fields) {
      const size_t end = line.find_first_of(" \t");
      if (end == std::string_view::npos) {
        return bad("expected <key id> <sha256 hex> <agency> <system name>");
      }
      field = line.substr(0, end);
      line = TrimSpace(line.substr(end));
    }
    const std::string_view system_name = line;
    if (!IsApiKeyId(fields[0])) return bad("malformed key id");
    std::string hash;
    if (fields[1].size() != 64 || !IsHex(fields[1]) || !HexDecode(fields[1], &hash)) {
      return bad("the hash is not 64 hex digits");
    }
    if (!IsCode(fields[2])) return bad("malformed agency code");
    if (system_name.empty() || system_name.size() > kMaxSystemNameBytes ||
        !IsPrintableAscii(system_name)) {
      return bad("malformed system name");
    }
    ApiKey key{std::move(hash), std::string(fields[2]), std::string(system_name)};
    if (!set.api_keys.emplace(std::string(fields[0]), std::move(key)).second) {
      return bad("duplicate key id");
    }
  }
  return Status::Ok();
}

// --- Claims -------------------------------------------------------------------------

Error Fail(auth_errc code, const char* rule) { return Error{code, rule}; }

// A NumericDate claim, whole seconds (fractions are rounded towards the stricter side by
// the caller). nullopt if present but not a number in range.
std::optional<double> NumericDate(const JsonValue& v) {
  if (!v.is_number() || v.number < 0 || v.number > kMaxNumericDate) return std::nullopt;
  return v.number;
}

}  // namespace

const std::error_category& auth_category() {
  static const AuthCategory category;
  return category;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPartnerSystem:
      return "partner_system";
    case Role::kClinician:
      return "clinician";
    case Role::kCaseworker:
      return "caseworker";
    case Role::kTeamManager:
      return "team_manager";
    case Role::kOperations:
      return "operations";
    case Role::kAuditor:
      return "auditor";
  }
  return "";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kPartnerSystem, Role::kClinician, Role::kCaseworker, Role::kTeamManager,
                 Role::kOperations, Role::kAuditor}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

// --- Authenticator ------------------------------------------------------------------

struct Authenticator::Impl {
  AuthOptions options;
  const TimeSource& time;
  std::mutex reload_mu;  // one Reload at a time
  mutable std::mutex mu;
  std::shared_ptr<const KeySet> keys;  // guarded by mu; the set itself is immutable

  Impl(AuthOptions o, const TimeSource& t) : options(std::move(o)), time(t) {}

  std::shared_ptr<const KeySet> Keys() const {
    std::lock_guard lock(mu);
    return keys;
  }

  Result<std::shared_ptr<const KeySet>> Load() const {
    auto set = std::make_shared<KeySet>();
    if (!options.jwks_file.empty()) {
      if (Status st = LoadJwks(options.jwks_file, *set); !st.ok()) return st.error();
    }
    if (!options.api_keys_file.empty()) {
      if (Status st = LoadApiKeys(options.api_keys_file, *set); !st.ok()) return st.error();
    }
    return std::shared_ptr<const KeySet>(std::move(set));
  }

  Result<Principal> Bearer(std::string_view token, std::optional<TimePoint>* expires_at) const;
  // Bearer, remembering tokens already verified until they expire (the signature check
  // is most of a read's cost): a token is the same bytes every time a person's browser
  // or client sends it. A hit needs the same key set (Reload forgets every token) and
  // the same expiry check as a fresh verification; failures are never remembered.
  Result<Principal> CachedBearer(std::string_view token,
                                 std::optional<TimePoint>* expires_at) const;
  Result<Principal> ApiKeyCredential(std::string_view credential) const;

  struct Verified {
    Principal principal;
    std::shared_ptr<const KeySet> keys;
    TimePoint expires_at;
    TimePoint valid_until;  // expires_at plus the leeway, as Bearer checks it
  };
  static constexpr size_t kMaxVerified = 10'000;
  mutable std::mutex verified_mu;
  mutable std::unordered_map<std::string, Verified> verified;  // SHA-256 of the token
};

Result<Principal> Authenticator::Impl::CachedBearer(std::string_view token,
                                                    std::optional<TimePoint>* expires_at) const {
  const std::string id = Sha256(token);
  const std::shared_ptr<const KeySet> current = Keys();
  const TimePoint now = time.Now();
  {
    std::lock_guard lock(verified_mu);
    if (auto it = verified.find(id); it != verified.end()) {
      if (it->second.keys == current && now < it->second.valid_until) {
        if (expires_at != nullptr) *expires_at = it->second.expires_at;
        return it->second.principal;
      }
      verified.erase(it);
    }
  }
  std::optional<TimePoint> exp;
  Result<Principal> principal = Bearer(token, &exp);
  if (expires_at != nullptr) *expires_at = exp;
  if (!principal.ok() || !exp) return principal;
  std::lock_guard lock(verified_mu);
  if (verified.size() >= kMaxVerified) {
    std::erase_if(verified, [&](const auto& entry) { return now >= entry.second.valid_until; });
    if (verified.size() >= kMaxVerified) verified.clear();  // bounded, whatever the traffic
  }
  verified[id] = Verified{*principal, current, *exp, *exp + options.leeway};
  return principal;
}

Result<Principal> Authenticator::Impl::Bearer(std::string_view token,
                                              std::optional<TimePoint>* expires_at) const {
  ClearOpenSslErrors clear_errors;
  if (token.size() > kMaxTokenBytes) return Fail(auth_errc::kInvalidToken, "token.size");
  // Compact JWS: three non-empty base64url segments.
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Fail(auth_errc::kInvalidToken, "token.format");
  }
  const std::string_view head_b64 = token.substr(0, dot1);
  const std::string_view body_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);
  if (head_b64.empty() || body_b64.empty() || sig_b64.empty() || !jose::IsBase64UrlText(head_b64) ||
      !jose::IsBase64UrlText(body_b64) || !jose::IsBase64UrlText(sig_b64)) {
    return Fail(auth_errc::kInvalidToken, "token.format");
  }

  // The header, read without trusting it: it only selects the algorithm (from our
  // allow-list) and the key (from our JWKS).
  const std::optional<std::string> head_json = jose::Base64UrlDecode(head_b64);
  std::optional<JsonValue> head;
  if (head_json) head = jose::ParseJson(*head_json);
  if (!head || !head->is_object()) return Fail(auth_errc::kInvalidToken, "token.header");
  const JsonValue* alg = head->Find("alg");
  if (alg == nullptr || !alg->is_string()) return Fail(auth_errc::kInvalidToken, "token.alg");
  KeyType type;
  jwt_alg_t jwt_alg;
  if (alg->string == "RS256") {
    type = KeyType::kRsa;
    jwt_alg = JWT_ALG_RS256;
  } else if (alg->string == "ES256") {
    type = KeyType::kEcP256;
    jwt_alg = JWT_ALG_ES256;
  } else {
    return Fail(auth_errc::kInvalidToken, "token.alg");  // none, HS*, PS*, ES384, ...
  }
  // libjwt refuses any `typ` but "JWT"; no extension is understood, so `crit` is refused.
  if (const JsonValue* typ = head->Find("typ");
      typ != nullptr && (!typ->is_string() || !EqualsIgnoreCase(typ->string, "JWT"))) {
    return Fail(auth_errc::kInvalidToken, "token.header");
  }
  if (head->Find("crit") != nullptr) return Fail(auth_errc::kInvalidToken, "token.header");
  const JsonValue* kid = head->Find("kid");
  if (kid == nullptr || !kid->is_string() || kid->string.size() > kMaxKidBytes) {
    return Fail(auth_errc::kInvalidToken, "token.kid");
  }
  // The signature must be the one canonical encoding (libjwt's decoder is lenient).
  const std::optional<std::string> sig = jose::Base64UrlDecode(sig_b64);
  if (!sig || (type == KeyType::kEcP256 && sig->size() != 2 * kEcCoordinateBytes)) {
    return Fail(auth_errc::kInvalidToken, "token.signature");
  }

  const std::shared_ptr<const KeySet> set = Keys();
  const auto key = set->jwks.find(std::make_pair(kid->string, type));
  if (key == set->jwks.end()) return Fail(auth_errc::kInvalidToken, "token.kid");
  const std::string& pem = key->second;

  jwt_t* raw = nullptr;
  const std::string token_z(token);  // NUL-terminated for libjwt
  const int rc = jwt_decode(&raw, token_z.c_str(), Bytes(pem), static_cast<int>(pem.size()));
  Jwt jwt(raw);
  if (rc != 0 || !jwt) return Fail(auth_errc::kInvalidToken, "token.signature");
  if (jwt_get_alg(jwt.get()) != jwt_alg) return Fail(auth_errc::kInvalidToken, "token.alg");

  // The claims, from the payload whose signature libjwt has just checked, with the
  // strict reader (no duplicate claim can be read two ways).
  const std::optional<std::string> body_json = jose::Base64UrlDecode(body_b64);
  std::optional<JsonValue> claims;
  if (body_json) claims = jose::ParseJson(*body_json);
  if (!claims || !claims->is_object()) return Fail(auth_errc::kInvalidToken, "token.payload");

  const JsonValue* iss = claims->Find("iss");
  if (iss == nullptr || !iss->is_string() || iss->string != options.issuer) {
    return Fail(auth_errc::kWrongAudience, "claims.iss");
  }
  const JsonValue* aud = claims->Find("aud");
  bool aud_ok = false;
  if (aud != nullptr && aud->is_string()) {
    aud_ok = aud->string == options.audience;
  } else if (aud != nullptr && aud->is_array()) {
    for (const JsonValue& a : aud->items) aud_ok |= a.is_string() && a.string == options.audience;
  }
  if (!aud_ok) return Fail(auth_errc::kWrongAudience, "claims.aud");

  const int64_t now_us = time.Now().time_since_epoch().count();
  const int64_t leeway_us = std::chrono::microseconds(options.leeway).count();
  const JsonValue* exp_v = claims->Find("exp");
  const std::optional<double> exp = exp_v ? NumericDate(*exp_v) : std::nullopt;
  if (!exp) return Fail(auth_errc::kInvalidToken, "claims.exp");
  const int64_t exp_us = static_cast<int64_t>(std::floor(*exp)) * 1'000'000;
  if (now_us >= exp_us + leeway_us) return Fail(auth_errc::kExpired, "claims.exp");
  if (const JsonValue* nbf_v = claims->Find("nbf"); nbf_v != nullptr) {
    const std::optional<double> nbf = NumericDate(*nbf_v);
    if (!nbf) return Fail(auth_errc::kInvalidToken, "claims.nbf");
    const int64_t nbf_us = static_cast<int64_t>(std::ceil(*nbf)) * 1'000'000;
    if (now_us + leeway_us < nbf_us) return Fail(auth_errc::kExpired, "claims.nbf");
  }

  Principal p;
  const JsonValue* sub = claims->Find("sub");
  if (sub == nullptr || !sub->is_string() || sub->string.empty() ||
      sub->string.size() > kMaxSubBytes || !IsPrintableAscii(sub->string)) {
    return Fail(auth_errc::kBadClaims, "claims.sub");
  }
  p.id = sub->string;
  const JsonValue* role = claims->Find("pathway_role");
  const std::optional<Role> parsed =
      role != nullptr && role->is_string() ? ParseRole(role->string) : std::nullopt;
  // kPartnerSystem belongs to API keys: a person's token cannot claim it.
  if (!parsed || *parsed == Role::kPartnerSystem) {
    return Fail(auth_errc::kBadClaims, "claims.role");
  }
  p.role = *parsed;
  const JsonValue* agency = claims->Find("pathway_agency");
  if (agency == nullptr || !agency->is_string() || !IsCode(agency->string)) {
    return Fail(auth_errc::kBadClaims, "claims.agency");
  }
  p.agency = agency->string;
  if (const JsonValue* team = claims->Find("pathway_team"); team != nullptr) {
    if (!team->is_string() || !IsCode(team->string)) {
      return Fail(auth_errc::kBadClaims, "claims.team");
    }
    p.team = team->string;
  }
  p.api_key = false;
  if (expires_at != nullptr) *expires_at = TimePoint(std::chrono::microseconds(exp_us));
  return p;
}

Result<Principal> Authenticator::Impl::ApiKeyCredential(std::string_view credential) const {
  const size_t dot = credential.find('.');
  if (dot == std::string_view::npos) return Fail(auth_errc::kUnknownApiKey, "api_key.format");
  const std::string_view id = credential.substr(0, dot);
  const std::string_view secret = credential.substr(dot + 1);
  if (!IsApiKeyId(id) || secret.empty() || secret.size() > kMaxApiKeySecretBytes) {
    return Fail(auth_errc::kUnknownApiKey, "api_key.format");
  }
  const std::shared_ptr<const KeySet> set = Keys();
  const std::string digest = Sha256(secret);
  const auto it = set->api_keys.find(id);
  // An unknown id costs the same comparison as a wrong secret.
  static const std::string kNoKey(32, '\0');
  const std::string& expected = it == set->api_keys.end() ? kNoKey : it->second.hash;
  const bool match = digest.size() == expected.size() &&
                     CRYPTO_memcmp(digest.data(), expected.data(), digest.size()) == 0;
  if (it == set->api_keys.end() || !match) {
    return Fail(auth_errc::kUnknownApiKey, "api_key.unknown");
  }
  Principal p;
  p.id = it->second.system_name;
  p.role = Role::kPartnerSystem;
  p.agency = it->second.agency;
  p.api_key = true;
  return p;
}

Authenticator::Authenticator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Authenticator::~Authenticator() = default;

Result<std::unique_ptr<Authenticator>> Authenticator::Open(AuthOptions options,
                                                           const TimeSource& time) {
  if (options.leeway.count() < 0) {
    return Error{auth_errc::kConfig, "the clock leeway must not be negative"};
  }
  if (!options.jwks_file.empty() && (options.issuer.empty() || options.audience.empty())) {
    return Error{auth_errc::kConfig, "a JWKS file needs an issuer and an audience"};
  }
  auto impl = std::make_unique<Impl>(std::move(options), time);
  auto keys = impl->Load();
  if (!keys.ok()) return keys.error();
  impl->keys = std::move(*keys);
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(impl)));
}

Result<Principal> Authenticator::Authenticate(std::string_view authorization,
                                              std::string_view api_key) const {
  return Authenticate(authorization, api_key, nullptr);
}

Result<Principal> Authenticator::Authenticate(std::string_view authorization,
                                              std::string_view api_key,
                                              std::optional<TimePoint>* expires_at) const {
  if (expires_at != nullptr) expires_at->reset();
  authorization = TrimSpace(authorization);
  api_key = TrimSpace(api_key);
  if (authorization.empty() && api_key.empty()) {
    return Fail(auth_errc::kMissingCredentials, "credentials.missing");
  }
  if (!authorization.empty() && !api_key.empty()) {
    return Fail(auth_errc::kInvalidToken, "credentials.ambiguous");
  }
  if (!api_key.empty()) return impl_->ApiKeyCredential(api_key);

  const size_t space = authorization.find_first_of(" \t");
  const std::string_view scheme = authorization.substr(0, space);
  const std::string_view credential =
      space == std::string_view::npos ? std::string_view() : TrimSpace(authorization.substr(space));
  if (EqualsIgnoreCase(scheme, "Bearer")) {
    if (credential.empty()) return Fail(auth_errc::kInvalidToken, "token.format");
    if (impl_->options.jwks_file.empty()) return Fail(auth_errc::kInvalidToken, "token.kid");
    return impl_->CachedBearer(credential, expires_at);
  }
  if (EqualsIgnoreCase(scheme, "ApiKey")) return impl_->ApiKeyCredential(credential);
  return Fail(auth_errc::kInvalidToken, "authorization.scheme");
}

Status Authenticator::Reload() {
  std::lock_guard reload_lock(impl_->reload_mu);
  auto keys = impl_->Load();
  if (!keys.ok()) return keys.error();
  std::lock_guard lock(impl_->mu);
  impl_->keys = std::move(*keys);
  return Status::Ok();
}

// --- DevIssuer ----------------------------------------------------------------------

namespace {

bool IsDevKid(std::string_view kid) { return IsCode(kid); }

constexpr std::string_view kKidLine = "kid: ";

}  // namespace

Result<DevIssuer> DevIssuer::Generate(std::string kid) {
  ClearOpenSslErrors clear_errors;
  if (!IsDevKid(kid)) return Error{auth_errc::kConfig, "malformed key id"};
  Pkey pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return Error{auth_errc::kConfig, "cannot generate a P-256 key"};
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error{auth_errc::kConfig, "cannot export the P-256 key"};
  }
  return DevIssuer(std::move(kid), BioContents(bio.get()));
}

Result<DevIssuer> DevIssuer::Load(const std::string& private_key_file) {
  ClearOpenSslErrors clear_errors;
  auto text = ReadSmallFile(private_key_file, "private key file");
  if (!text.ok()) return text.error();
  std::string_view rest = *text;
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos || rest.substr(0, kKidLine.size()) != kKidLine ||
      !IsDevKid(rest.substr(kKidLine.size(), nl - kKidLine.size()))) {
    return Error{auth_errc::kConfig, "private key file " + private_key_file + ": no kid line"};
  }
  std::string kid(rest.substr(kKidLine.size(), nl - kKidLine.size()));
  std::string pem(rest.substr(nl + 1));
  if (!ReadEcP256PrivateKey(pem)) {
    return Error{auth_errc::kConfig,
                 "private key file " + private_key_file + ": not a P-256 private key"};
  }
  return DevIssuer(std::move(kid), std::move(pem));
}

Status DevIssuer::SavePrivateKey(const std::string& file) const {
  std::string data(kKidLine);
  data += kid_;
  data += '\n';
  data += pem_;
  return WriteFileAtomically(file, data, 0600);
}

std::string DevIssuer::Jwks() const {
  ClearOpenSslErrors clear_errors;
  const Pkey pkey = ReadEcP256PrivateKey(pem_);
  const auto xy = pkey ? EcCoordinates(pkey.get()) : std::nullopt;
  if (!xy) return R"({"keys":[]})";
  return R"({"keys":[{"kty":"EC","crv":"P-256","x":)" +
         jose::JsonQuote(jose::Base64UrlEncode(xy->first)) + R"(,"y":)" +
         jose::JsonQuote(jose::Base64UrlEncode(xy->second)) + R"(,"kid":)" + jose::JsonQuote(kid_) +
         R"(,"alg":"ES256","use":"sig"}]})";
}

Status DevIssuer::SaveJwks(const std::string& file) const {
  return WriteFileAtomically(file, Jwks() + "\n", 0644);
}

Result<std::string> DevIssuer::Sign(const Claims& claims) const {
  ClearOpenSslErrors clear_errors;
  const auto fail = [] { return Error{auth_errc::kConfig, "cannot sign the token"}; };
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return fail();
  Jwt jwt(raw);
  const int64_t iat =
      std::chrono::duration_cast<std::chrono::seconds>(claims.issued_at.time_since_epoch()).count();
  const int64_t exp = iat + claims.lifetime.count();
  const Principal& p = claims.principal;
  if (jwt_add_grant(jwt.get(), "iss", claims.issuer.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "aud", claims.audience.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "sub", p.id.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "pathway_role", std::string(RoleName(p.role)).c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "pathway_agency", p.agency.c_str()) != 0 ||
      (!p.team.empty() && jwt_add_grant(jwt.get(), "pathway_team", p.team.c_str()) != 0) ||
      jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(iat)) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(exp)) != 0 ||
      jwt_add_header(jwt.get(), "kid", kid_.c_str()) != 0 ||
      jwt_set_alg(jwt.get(), JWT_ALG_ES256, Bytes(pem_), static_cast<int>(pem_.size())) != 0) {
    return fail();
  }
  CString token(jwt_encode_str(jwt.get()));
  if (!token) return fail();
  return std::string(token.get());
}

}  // namespace pathway::gateway
