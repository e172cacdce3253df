// The gateway's authenticator with real keys: ES256 tokens from the DevIssuer, RS256
// tokens from an RSA key generated here, and hostile tokens built by hand (alg none,
// HS256 keyed with the public key, tampered payloads, duplicate claims). The clock is
// a SimulatedTimeSource, so expiry is exact.
#include "services/gateway/auth/auth.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "services/gateway/auth/jose.h"
#include "tests/common/temp_dir.h"

namespace pathway::gateway {
namespace {

using namespace std::chrono_literals;

constexpr char kIssuer[] = "https://idp.partnership.example";
constexpr char kAudience[] = "pathway-gateway";
constexpr int64_t kNowSeconds = 1'900'000'000;
const TimePoint kNow{std::chrono::seconds(kNowSeconds)};

// --- OpenSSL and libjwt helpers -----------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string Pem(EVP_PKEY* pkey, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = private_key
                     ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem = ok == 1 && len > 0 ? std::string(data, static_cast<size_t>(len)) : "";
  BIO_free(bio);
  return pem;
}

Pkey ReadPrivatePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Pkey pkey(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return pkey;
}

std::string BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return "";
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// A token made by libjwt: `grants_json` is the claims object, `kid` the header's kid.
std::string LibjwtSign(jwt_alg_t alg, const std::string& key, const std::string& kid,
                       const std::string& grants_json) {
  jwt_t* jwt = nullptr;
  EXPECT_EQ(jwt_new(&jwt), 0);
  EXPECT_EQ(jwt_add_grants_json(jwt, grants_json.c_str()), 0) << grants_json;
  if (!kid.empty()) {
    EXPECT_EQ(jwt_add_header(jwt, "kid", kid.c_str()), 0);
  }
  EXPECT_EQ(jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  char* token = jwt_encode_str(jwt);
  std::string out = token ? token : "";
  std::free(token);
  jwt_free(jwt);
  EXPECT_FALSE(out.empty());
  return out;
}

// RS256 over exactly these header and payload bytes, with OpenSSL alone (for tokens
// libjwt would not write, e.g. with a duplicate claim).
std::string RawRs256(EVP_PKEY* key, const std::string& header_json,
                     const std::string& payload_json) {
  const std::string input =
      jose::Base64UrlEncode(header_json) + "." + jose::Base64UrlEncode(payload_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1) {
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  EXPECT_FALSE(sig.empty());
  return input + "." + jose::Base64UrlEncode(sig);
}

// --- Keys shared by the tests (generated once per run) ------------------------------

const DevIssuer& Issuer() {
  static const DevIssuer issuer = [] {
    auto r = DevIssuer::Generate("dev-1");
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }();
  return issuer;
}

const DevIssuer& OtherIssuer() {  // a different key under the same kid
  static const DevIssuer issuer = [] {
    auto r = DevIssuer::Generate("dev-1");
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }();
  return issuer;
}

EVP_PKEY* RsaKey() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  return key.get();
}

std::string RsaJwk(const std::string& kid) {
  return R"({"kty":"RSA","kid":")" + kid + R"(","use":"sig","alg":"RS256","n":")" +
         jose::Base64UrlEncode(BnParam(RsaKey(), OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
         jose::Base64UrlEncode(BnParam(RsaKey(), OSSL_PKEY_PARAM_RSA_E)) + R"("})";
}

// The one entry of a DevIssuer's JWKS.
std::string EcJwk(const DevIssuer& issuer) {
  const std::string jwks = issuer.Jwks();
  const size_t open = jwks.find('[');
  const size_t close = jwks.rfind(']');
  return jwks.substr(open + 1, close - open - 1);
}

std::string JwksOf(const std::vector<std::string>& entries) {
  std::string out = R"({"keys":[)";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + entries[i];
  return out + "]}";
}

// A claims object: the good claims with `changes` applied (a value is raw JSON; nullopt
// removes the claim).
using Changes = std::vector<std::pair<std::string, std::optional<std::string>>>;
std::string ClaimsJson(const Changes& changes = {}) {
  std::vector<std::pair<std::string, std::string>> claims = {
      {"iss", std::string("\"") + kIssuer + "\""},
      {"aud", std::string("\"") + kAudience + "\""},
      {"sub", "\"staff-4711\""},
      {"pathway_role", "\"caseworker\""},
      {"pathway_agency", "\"LA-201\""},
      {"pathway_team", "\"sen.team-3\""},
      {"iat", std::to_string(kNowSeconds)},
      {"exp", std::to_string(kNowSeconds + 3600)},
  };
  for (const auto& [name, value] : changes) {
    auto it = claims.begin();
    while (it != claims.end() && it->first != name) ++it;
    if (!value) {
      if (it != claims.end()) claims.erase(it);
    } else if (it != claims.end()) {
      it->second = *value;
    } else {
      claims.emplace_back(name, *value);
    }
  }
  std::string out = "{";
  for (size_t i = 0; i < claims.size(); ++i) {
    // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) on `"," + std::string`.
    if (i) out += ',';
    out += '"';
    out += claims[i].first;
    out += "\":";
    out += claims[i].second;
  }
  return out + "}";
}

std::string EsToken(const Changes& changes = {}, const DevIssuer& issuer = Issuer(),
                    const std::string& kid = "dev-1") {
  return LibjwtSign(JWT_ALG_ES256, issuer.private_key_pem(), kid, ClaimsJson(changes));
}

std::string RsToken(const Changes& changes = {}, const std::string& kid = "rsa-1") {
  return LibjwtSign(JWT_ALG_RS256, Pem(RsaKey(), true), kid, ClaimsJson(changes));
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

// A known API key: "<id>.<secret>" and its keys file line.
constexpr char kKeyId[] = "riverside-epr_01";
constexpr char kSecret[] = "s3cr3t-Zq9vXw2LmN8pR4tY";
std::string KeysFileLine(const std::string& id, const std::string& secret) {
  return id + " " + HexEncode(Sha256(secret)) + " RX7 Riverside CAMHS EPR\n";
}

// --- Fixture ------------------------------------------------------------------------

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jwks_path_ = dir_.path() + "/jwks.json";
    keys_path_ = dir_.path() + "/api_keys";
    WriteFile(jwks_path_, JwksOf({EcJwk(Issuer()), RsaJwk("rsa-1")}));
    WriteFile(keys_path_, "# partner systems\n\n" + KeysFileLine(kKeyId, kSecret));
  }

  AuthOptions Options() const {
    AuthOptions o;
    o.jwks_file = jwks_path_;
    o.api_keys_file = keys_path_;
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.leeway = 60s;
    return o;
  }

  std::unique_ptr<Authenticator> Open() {
    auto r = Authenticator::Open(Options(), time_);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // The error of authenticating with `Authorization: Bearer <token>`; kOk if it passed.
  Error BearerError(const Authenticator& auth, const std::string& token) {
    auto r = auth.Authenticate("Bearer " + token, "");
    return r.ok() ? Error{auth_errc::kOk, ""} : r.error();
  }

  pathway::testing::TempDir dir_;
  SimulatedTimeSource time_{kNow};
  std::string jwks_path_;
  std::string keys_path_;
};

#define EXPECT_AUTH_ERROR(expr, errc)                                      \
  do {                                                                     \
    const auto& result_ = (expr);                                          \
    ASSERT_FALSE(result_.ok());                                            \
    EXPECT_EQ(result_.error().code, (errc)) << result_.error().ToString(); \
  } while (0)

// --- Valid tokens -------------------------------------------------------------------

TEST_F(AuthTest, DevIssuerEs256TokenGivesPrincipal) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  DevIssuer::Claims claims;
  claims.principal = {"staff-4711", Role::kTeamManager, "RX7", "camhs.north", false};
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = kNow;
  auto token = Issuer().Sign(claims);
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  auto p = auth->Authenticate("Bearer " + *token, "");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->id, "staff-4711");
  EXPECT_EQ(p->role, Role::kTeamManager);
  EXPECT_EQ(p->agency, "RX7");
  EXPECT_EQ(p->team, "camhs.north");
  EXPECT_FALSE(p->api_key);
  // The lifetime ends the token: valid through the leeway, refused after it.
  time_.Set(kNow + 3600s + 59s);
  EXPECT_TRUE(auth->Authenticate("Bearer " + *token, "").ok());
  time_.Set(kNow + 3600s + 60s);
  EXPECT_AUTH_ERROR(auth->Authenticate("Bearer " + *token, ""), auth_errc::kExpired);
}

TEST_F(AuthTest, ABearerTokensExpiryIsReportedForBrowserSessions) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  DevIssuer::Claims claims;
  claims.principal = {"staff-1", Role::kClinician, "RX7", "", false};
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = kNow;
  claims.lifetime = 900s;
  auto token = Issuer().Sign(claims);
  ASSERT_TRUE(token.ok()) << token.error().ToString();
  std::optional<TimePoint> expires_at;
  ASSERT_TRUE(auth->Authenticate("Bearer " + *token, "", &expires_at).ok());
  ASSERT_TRUE(expires_at.has_value());
  EXPECT_EQ(*expires_at, std::chrono::time_point_cast<std::chrono::seconds>(kNow) + 900s);
  // A refusal reports no expiry.
  EXPECT_AUTH_ERROR(auth->Authenticate("Bearer x.y.z", "", &expires_at), auth_errc::kInvalidToken);
  EXPECT_FALSE(expires_at.has_value());
}

TEST_F(AuthTest, TeamIsOptional) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  auto p = auth->Authenticate("Bearer " + EsToken({{"pathway_team", std::nullopt}}), "");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->role, Role::kCaseworker);
  EXPECT_EQ(p->agency, "LA-201");
  EXPECT_EQ(p->team, "");
}

// JWS (RFC 7515 appendix A.3): an ES256 signature is R || S, 32 bytes each, not DER.
// Checked with OpenSSL alone, so libjwt's own reading does not vouch for itself.
TEST_F(AuthTest, Es256SignatureIsRawRAndS) {
  DevIssuer::Claims claims;
  claims.principal = {"staff-1", Role::kClinician, "RX7", "", false};
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = kNow;
  auto token = Issuer().Sign(claims);
  ASSERT_TRUE(token.ok());
  const size_t dot = token->rfind('.');
  auto sig = jose::Base64UrlDecode(token->substr(dot + 1));
  ASSERT_TRUE(sig);
  ASSERT_EQ(sig->size(), 64u);
  const auto* raw = reinterpret_cast<const unsigned char*>(sig->data());
  ECDSA_SIG* ec_sig = ECDSA_SIG_new();
  ASSERT_EQ(ECDSA_SIG_set0(ec_sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr)),
            1);
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(ec_sig, &der);
  ECDSA_SIG_free(ec_sig);
  ASSERT_GT(der_len, 0);
  Pkey key = ReadPrivatePem(Issuer().private_key_pem());
  ASSERT_TRUE(key);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const std::string input = token->substr(0, dot);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  // And the header names the algorithm and the key.
  auto header = jose::ParseJson(*jose::Base64UrlDecode(token->substr(0, token->find('.'))));
  ASSERT_TRUE(header);
  ASSERT_TRUE(header->Find("alg") && header->Find("kid"));
  EXPECT_EQ(header->Find("alg")->string, "ES256");
  EXPECT_EQ(header->Find("kid")->string, "dev-1");
}

TEST_F(AuthTest, Rs256TokenVerifiesWithJwksRsaEntry) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  auto p = auth->Authenticate("Bearer " + RsToken({{"pathway_role", "\"auditor\""}}), "");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->id, "staff-4711");
  EXPECT_EQ(p->role, Role::kAuditor);
  EXPECT_EQ(p->agency, "LA-201");
  EXPECT_EQ(p->team, "sen.team-3");
  EXPECT_FALSE(p->api_key);
}

TEST_F(AuthTest, SchemeIsCaseInsensitive) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_TRUE(auth->Authenticate("bearer " + EsToken(), "").ok());
  EXPECT_TRUE(auth->Authenticate("BEARER   " + EsToken() + " ", "").ok());
}

// --- Refused tokens -----------------------------------------------------------------

TEST_F(AuthTest, MissingCredentials) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_AUTH_ERROR(auth->Authenticate("", ""), auth_errc::kMissingCredentials);
  EXPECT_AUTH_ERROR(auth->Authenticate("  ", ""), auth_errc::kMissingCredentials);
}

TEST_F(AuthTest, MalformedAuthorizationAndGarbageTokens) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_AUTH_ERROR(auth->Authenticate("Bearer", ""), auth_errc::kInvalidToken);
  EXPECT_AUTH_ERROR(auth->Authenticate("Basic dXNlcjpwYXNz", ""), auth_errc::kInvalidToken);
  EXPECT_AUTH_ERROR(auth->Authenticate(EsToken(), ""), auth_errc::kInvalidToken);  // no scheme
  const std::string good = EsToken();
  for (const std::string& token : std::vector<std::string>{
           std::string("garbage"), std::string("a.b"), std::string("a.b.c.d"), std::string(".."),
           std::string("!!!.???.***"), good + ".x", good + "=", "e30.e30.e30",
           jose::Base64UrlEncode("not json") + good.substr(good.find('.')),
           jose::Base64UrlEncode(R"({"alg":"ES256","kid":"dev-1","kid":"dev-1"})") +
               good.substr(good.find('.')),
           jose::Base64UrlEncode(R"({"alg":"ES256","kid":"dev-1","typ":"at+jwt"})") +
               good.substr(good.find('.')),
           jose::Base64UrlEncode(R"({"alg":"ES256","kid":"dev-1","crit":["exp"]})") +
               good.substr(good.find('.'))}) {
    EXPECT_EQ(BearerError(*auth, token).code, auth_errc::kInvalidToken) << token;
  }
}

TEST_F(AuthTest, AlgNoneRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string body = jose::Base64UrlEncode(ClaimsJson());
  for (const char* header : {R"({"alg":"none","typ":"JWT","kid":"dev-1"})",
                             R"({"alg":"None","kid":"dev-1"})", R"({"kid":"dev-1"})"}) {
    const std::string head = jose::Base64UrlEncode(header);
    EXPECT_EQ(BearerError(*auth, head + "." + body + ".").code, auth_errc::kInvalidToken);
    EXPECT_EQ(BearerError(*auth, head + "." + body + ".AAAA").code, auth_errc::kInvalidToken);
  }
}

// The classic confusion: HS256 keyed with the JWKS public key's PEM. libjwt alone would
// accept it (shown first); the authenticator refuses the algorithm before any key use.
TEST_F(AuthTest, Hs256KeyedWithPublicKeyPemRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  for (const auto& [public_pem, kid] :
       {std::make_pair(Pem(ReadPrivatePem(Issuer().private_key_pem()).get(), false),
                       std::string("dev-1")),
        std::make_pair(Pem(RsaKey(), false), std::string("rsa-1"))}) {
    ASSERT_FALSE(public_pem.empty());
    const std::string token = LibjwtSign(JWT_ALG_HS256, public_pem, kid, ClaimsJson());
    jwt_t* jwt = nullptr;
    EXPECT_EQ(
        jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(public_pem.data()),
                   static_cast<int>(public_pem.size())),
        0)
        << "libjwt is expected to accept this token when handed the PEM";
    jwt_free(jwt);
    const Error e = BearerError(*auth, token);
    EXPECT_EQ(e.code, auth_errc::kInvalidToken);
    EXPECT_EQ(e.detail, "token.alg");
    // The other HMAC and foreign algorithms too.
    for (jwt_alg_t alg : {JWT_ALG_HS384, JWT_ALG_HS512}) {
      EXPECT_EQ(BearerError(*auth, LibjwtSign(alg, public_pem, kid, ClaimsJson())).code,
                auth_errc::kInvalidToken);
    }
  }
  EXPECT_EQ(
      BearerError(*auth, LibjwtSign(JWT_ALG_RS512, Pem(RsaKey(), true), "rsa-1", ClaimsJson()))
          .code,
      auth_errc::kInvalidToken);
}

TEST_F(AuthTest, UnknownOrMissingKidRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  Error e = BearerError(*auth, EsToken({}, Issuer(), "dev-2"));
  EXPECT_EQ(e.code, auth_errc::kInvalidToken);
  EXPECT_EQ(e.detail, "token.kid");
  e = BearerError(*auth, LibjwtSign(JWT_ALG_ES256, Issuer().private_key_pem(), "", ClaimsJson()));
  EXPECT_EQ(e.code, auth_errc::kInvalidToken);
  EXPECT_EQ(e.detail, "token.kid");
}

// A kid that names a key of the other type: ES256 naming the RSA key, RS256 the EC key.
TEST_F(AuthTest, KeyTypeMismatchRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_EQ(BearerError(*auth, EsToken({}, Issuer(), "rsa-1")).code, auth_errc::kInvalidToken);
  EXPECT_EQ(BearerError(*auth, RsToken({}, "dev-1")).code, auth_errc::kInvalidToken);
}

TEST_F(AuthTest, WrongKeyRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const Error e = BearerError(*auth, EsToken({}, OtherIssuer(), "dev-1"));
  EXPECT_EQ(e.code, auth_errc::kInvalidToken);
  EXPECT_EQ(e.detail, "token.signature");
}

TEST_F(AuthTest, TamperedTokenRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  for (const std::string& good : {EsToken(), RsToken()}) {
    ASSERT_EQ(BearerError(*auth, good).code, auth_errc::kOk);
    const size_t dot1 = good.find('.');
    const size_t dot2 = good.rfind('.');
    // Another role in the payload, the header and signature kept.
    const std::string elevated =
        good.substr(0, dot1 + 1) +
        jose::Base64UrlEncode(ClaimsJson({{"pathway_role", "\"operations\""}})) + good.substr(dot2);
    EXPECT_EQ(BearerError(*auth, elevated).code, auth_errc::kInvalidToken);
    // One signature character changed.
    std::string flipped = good;
    flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(BearerError(*auth, flipped).code, auth_errc::kInvalidToken);
    // The signature truncated.
    EXPECT_EQ(BearerError(*auth, good.substr(0, good.size() - 4)).code, auth_errc::kInvalidToken);
  }
}

TEST_F(AuthTest, ExpiryWithLeeway) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const auto exp = [](int64_t offset) {
    return Changes{{"exp", std::to_string(kNowSeconds + offset)}};
  };
  EXPECT_EQ(BearerError(*auth, EsToken(exp(-61))).code, auth_errc::kExpired);
  EXPECT_EQ(BearerError(*auth, EsToken(exp(-60))).code, auth_errc::kExpired);
  EXPECT_EQ(BearerError(*auth, EsToken(exp(-59))).code, auth_errc::kOk);  // within leeway
  EXPECT_EQ(BearerError(*auth, EsToken(exp(-30))).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, EsToken(exp(-3600))).code, auth_errc::kExpired);
  // exp is required and must be a NumericDate.
  EXPECT_EQ(BearerError(*auth, EsToken({{"exp", std::nullopt}})).code, auth_errc::kInvalidToken);
  EXPECT_EQ(BearerError(*auth, EsToken({{"exp", "\"1900003600\""}})).code,
            auth_errc::kInvalidToken);
}

TEST_F(AuthTest, NotBeforeWithLeeway) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const auto nbf = [](int64_t offset) {
    return Changes{{"nbf", std::to_string(kNowSeconds + offset)}};
  };
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(120))).code, auth_errc::kExpired);
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(61))).code, auth_errc::kExpired);
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(60))).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(30))).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(-30))).code, auth_errc::kOk);
  time_.Advance(std::chrono::seconds(100));
  EXPECT_EQ(BearerError(*auth, EsToken(nbf(120))).code, auth_errc::kOk);
}

TEST_F(AuthTest, WrongIssuerRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  for (const Changes& c :
       {Changes{{"iss", "\"https://evil.example\""}}, Changes{{"iss", std::nullopt}},
        Changes{{"iss", "[\"x\"]"}}, Changes{{"iss", std::string("\"") + kIssuer + "/\""}}}) {
    const Error e = BearerError(*auth, EsToken(c));
    EXPECT_EQ(e.code, auth_errc::kWrongAudience);
    EXPECT_EQ(e.detail, "claims.iss");
  }
}

TEST_F(AuthTest, AudienceStringOrArray) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_EQ(BearerError(*auth, EsToken({{"aud", "\"other-api\""}})).code,
            auth_errc::kWrongAudience);
  EXPECT_EQ(BearerError(*auth, EsToken({{"aud", std::nullopt}})).code, auth_errc::kWrongAudience);
  EXPECT_EQ(BearerError(*auth, EsToken({{"aud", "[\"other-api\",\"more\"]"}})).code,
            auth_errc::kWrongAudience);
  EXPECT_EQ(BearerError(*auth, EsToken({{"aud", "[]"}})).code, auth_errc::kWrongAudience);
  EXPECT_EQ(
      BearerError(*auth, EsToken({{"aud", std::string("[\"other-api\",\"") + kAudience + "\"]"}}))
          .code,
      auth_errc::kOk);
}

TEST_F(AuthTest, MissingOrMalformedPrincipalClaimsRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string long129(129, 'a');
  const std::string long65(65, 'a');
  const std::vector<std::pair<Changes, std::string>> cases = {
      {{{"sub", std::nullopt}}, "claims.sub"},
      {{{"sub", "\"\""}}, "claims.sub"},
      {{{"sub", "4711"}}, "claims.sub"},
      {{{"sub", "\"" + long129 + "\""}}, "claims.sub"},
      {{{"sub", "\"staff\\u0007\""}}, "claims.sub"},
      {{{"sub", "\"st\\u00e4ff\""}}, "claims.sub"},
      {{{"pathway_role", std::nullopt}}, "claims.role"},
      {{{"pathway_role", "\"admin\""}}, "claims.role"},
      {{{"pathway_role", "\"Caseworker\""}}, "claims.role"},
      {{{"pathway_role", "3"}}, "claims.role"},
      {{{"pathway_role", "[\"caseworker\"]"}}, "claims.role"},
      {{{"pathway_role", "\"partner_system\""}}, "claims.role"},  // API keys only
      {{{"pathway_agency", std::nullopt}}, "claims.agency"},
      {{{"pathway_agency", "\"\""}}, "claims.agency"},
      {{{"pathway_agency", "\"LA 201\""}}, "claims.agency"},
      {{{"pathway_agency", "\"LA/201\""}}, "claims.agency"},
      {{{"pathway_agency", "\"" + long65 + "\""}}, "claims.agency"},
      {{{"pathway_agency", "201"}}, "claims.agency"},
      {{{"pathway_team", "\"\""}}, "claims.team"},
      {{{"pathway_team", "\"team one\""}}, "claims.team"},
      {{{"pathway_team", "null"}}, "claims.team"},
  };
  for (const auto& [changes, rule] : cases) {
    const Error e = BearerError(*auth, EsToken(changes));
    EXPECT_EQ(e.code, auth_errc::kBadClaims) << ClaimsJson(changes);
    EXPECT_EQ(e.detail, rule) << ClaimsJson(changes);
  }
  // The bounds themselves are accepted.
  EXPECT_EQ(BearerError(*auth, EsToken({{"sub", "\"" + std::string(128, 'a') + "\""},
                                        {"pathway_agency", "\"" + std::string(64, 'a') + "\""}}))
                .code,
            auth_errc::kOk);
}

// A claim given twice is refused, even though signed: another JSON reader (jansson keeps
// the last) could otherwise see a different role.
TEST_F(AuthTest, DuplicateClaimRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string header = R"({"alg":"RS256","typ":"JWT","kid":"rsa-1"})";
  ASSERT_EQ(BearerError(*auth, RawRs256(RsaKey(), header, ClaimsJson())).code, auth_errc::kOk);
  std::string twice = ClaimsJson();
  twice.insert(twice.size() - 1, R"(,"pathway_role":"operations")");
  EXPECT_EQ(BearerError(*auth, RawRs256(RsaKey(), header, twice)).code, auth_errc::kInvalidToken);
}

TEST_F(AuthTest, OversizedTokenRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  // Signed correctly; only the size is wrong. Just under the bound passes.
  const auto padded = [](size_t n) {
    std::string value(n + 2, 'p');  // built in place: GCC 12 -O3 -Wrestrict on "\"" + string
    value.front() = '"';
    value.back() = '"';
    return EsToken({{"padding", value}});
  };
  std::string small = padded(5000);
  ASSERT_LT(small.size(), 8192u);
  EXPECT_EQ(BearerError(*auth, small).code, auth_errc::kOk);
  const std::string big = padded(6500);
  ASSERT_GT(big.size(), 8192u);
  const Error e = BearerError(*auth, big);
  EXPECT_EQ(e.code, auth_errc::kInvalidToken);
  EXPECT_EQ(e.detail, "token.size");
  EXPECT_EQ(BearerError(*auth, std::string(1 << 20, 'A')).code, auth_errc::kInvalidToken);
}

TEST_F(AuthTest, NoJwksMeansNoBearerTokens) {
  AuthOptions o = Options();
  o.jwks_file.clear();
  auto auth = Authenticator::Open(o, time_);
  ASSERT_TRUE(auth.ok()) << auth.error().ToString();
  EXPECT_AUTH_ERROR((*auth)->Authenticate("Bearer " + EsToken(), ""), auth_errc::kInvalidToken);
  EXPECT_TRUE((*auth)->Authenticate("", std::string(kKeyId) + "." + kSecret).ok());
}

// --- API keys -----------------------------------------------------------------------

TEST_F(AuthTest, ApiKeyInEitherHeader) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string credential = std::string(kKeyId) + "." + kSecret;
  for (const auto& [authorization, api_key] :
       {std::make_pair("ApiKey " + credential, std::string()),
        std::make_pair("apikey " + credential, std::string()),
        std::make_pair(std::string(), credential)}) {
    auto p = auth->Authenticate(authorization, api_key);
    ASSERT_TRUE(p.ok()) << p.error().ToString();
    EXPECT_EQ(p->id, "Riverside CAMHS EPR");
    EXPECT_EQ(p->role, Role::kPartnerSystem);
    EXPECT_EQ(p->agency, "RX7");
    EXPECT_EQ(p->team, "");
    EXPECT_TRUE(p->api_key);
  }
}

TEST_F(AuthTest, ApiKeyWrongSecretOrUnknownId) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string id = kKeyId;
  for (const std::string& credential :
       {id + ".wrong-secret", id + "." + kSecret + "x", id + "." + std::string(kSecret).substr(1),
        "unknown-id." + std::string(kSecret), id + ".", "." + std::string(kSecret), id,
        "bad id." + std::string(kSecret), id + "." + std::string(300, 'x')}) {
    EXPECT_AUTH_ERROR(auth->Authenticate("", credential), auth_errc::kUnknownApiKey);
    EXPECT_AUTH_ERROR(auth->Authenticate("ApiKey " + credential, ""), auth_errc::kUnknownApiKey);
  }
  // Wrong secret and unknown id read the same.
  EXPECT_EQ(auth->Authenticate("", id + ".wrong").error().detail,
            auth->Authenticate("", "nobody.wrong").error().detail);
}

TEST_F(AuthTest, BothCredentialsRefused) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_AUTH_ERROR(auth->Authenticate("Bearer " + EsToken(), std::string(kKeyId) + "." + kSecret),
                    auth_errc::kInvalidToken);
}

TEST_F(AuthTest, MalformedKeysFileLineNamesFileAndLine) {
  const std::string good = KeysFileLine(kKeyId, kSecret);
  const std::string hash = HexEncode(Sha256("other"));
  for (const std::string& bad_line : std::vector<std::string>{
           std::string("only-two-fields ") + hash + "\n", "bad!id " + hash + " RX7 System\n",
           "key2 abcdef RX7 System\n", "key2 " + hash.substr(0, 63) + "g RX7 System\n",
           "key2 " + hash + " R/X7 System\n", "key2 " + hash + " RX7\n",
           std::string(kKeyId) + " " + hash + " RX7 Duplicate\n"}) {
    WriteFile(keys_path_, "# keys\n" + good + bad_line + KeysFileLine("later", "x"));
    auto r = Authenticator::Open(Options(), time_);
    ASSERT_FALSE(r.ok()) << bad_line;
    EXPECT_EQ(r.error().code, auth_errc::kConfig);
    EXPECT_NE(r.error().detail.find(keys_path_), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("line 3"), std::string::npos) << r.error().detail;
    EXPECT_EQ(r.error().detail.find(hash.substr(0, 16)), std::string::npos) << r.error().detail;
  }
  // Comments, blank lines, CRLF and tabs are fine.
  WriteFile(keys_path_, "# keys\r\n\r\n  # indented comment\n" + std::string(kKeyId) + "\t" +
                            HexEncode(Sha256(kSecret)) + "\tRX7\tRiverside EPR\r\n");
  auto auth = Authenticator::Open(Options(), time_);
  ASSERT_TRUE(auth.ok()) << auth.error().ToString();
  auto p = (*auth)->Authenticate("", std::string(kKeyId) + "." + kSecret);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->id, "Riverside EPR");
}

TEST_F(AuthTest, BadJwksIsConfigErrorNamingFileAndEntry) {
  const std::string ec = EcJwk(Issuer());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", ""},
      {R"({"keys":{}})", ""},
      {R"({"keys":[]})", ""},
      {R"({"keys":[{"kty":"oct","k":"AAAA","kid":"h"}]})", ""},  // nothing usable
      {JwksOf({ec, R"({"kty":"EC","crv":"P-256","kid":"e2","x":"AAAA","y":"AAAA"})"}), "entry 1"},
      {JwksOf({ec, R"({"kty":"RSA","kid":"r2","n":"!!","e":"AQAB"})"}), "entry 1"},
      {JwksOf({ec, ec}), "entry 1"},  // duplicate kid
      {JwksOf({R"({"kty":"EC","crv":"P-256","kid":"p","d":"AAAA","x":"AAAA","y":"AAAA"})"}),
       "entry 0"},
  };
  for (const auto& [jwks, entry] : cases) {
    WriteFile(jwks_path_, jwks);
    auto r = Authenticator::Open(Options(), time_);
    ASSERT_FALSE(r.ok()) << jwks;
    EXPECT_EQ(r.error().code, auth_errc::kConfig);
    EXPECT_NE(r.error().detail.find(jwks_path_), std::string::npos) << r.error().detail;
    if (!entry.empty()) {
      EXPECT_NE(r.error().detail.find(entry), std::string::npos) << r.error().detail;
    }
  }
  // A point not on the curve.
  std::string off_curve = ec;
  const size_t y = off_curve.find("\"y\":\"") + 5;
  off_curve[y] = off_curve[y] == 'A' ? 'B' : 'A';
  WriteFile(jwks_path_, JwksOf({off_curve}));
  EXPECT_AUTH_ERROR(Authenticator::Open(Options(), time_), auth_errc::kConfig);
  // A missing file; a JWKS without issuer or audience configured.
  WriteFile(jwks_path_, JwksOf({ec}));
  AuthOptions o = Options();
  o.jwks_file = dir_.path() + "/absent.json";
  EXPECT_AUTH_ERROR(Authenticator::Open(o, time_), auth_errc::kConfig);
  o = Options();
  o.issuer.clear();
  EXPECT_AUTH_ERROR(Authenticator::Open(o, time_), auth_errc::kConfig);
  o = Options();
  o.audience.clear();
  EXPECT_AUTH_ERROR(Authenticator::Open(o, time_), auth_errc::kConfig);
  o = Options();
  o.api_keys_file = dir_.path() + "/absent";
  EXPECT_AUTH_ERROR(Authenticator::Open(o, time_), auth_errc::kConfig);
}

TEST_F(AuthTest, JwksSkipsKeysForOtherUses) {
  // Only the RSA key is usable for RS256 here; the others are skipped, not errors.
  WriteFile(jwks_path_,
            JwksOf({R"({"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"})",
                    R"({"kty":"OKP","crv":"Ed25519","kid":"ed","x":"AA"})", RsaJwk("rsa-1"),
                    EcJwk(Issuer()).replace(EcJwk(Issuer()).find("\"sig\""), 5, "\"enc\"")}));
  auto auth = Open();
  ASSERT_TRUE(auth);
  EXPECT_EQ(BearerError(*auth, RsToken()).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, EsToken()).code, auth_errc::kInvalidToken);  // enc key skipped
}

// --- Reload -------------------------------------------------------------------------

TEST_F(AuthTest, ReloadPicksUpRotatedJwksAndKeepsOldKeysOnBrokenFile) {
  auto next = DevIssuer::Generate("dev-2");
  ASSERT_TRUE(next.ok());
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string old_token = EsToken();
  const std::string new_token = EsToken({}, *next, "dev-2");
  EXPECT_EQ(BearerError(*auth, old_token).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, new_token).code, auth_errc::kInvalidToken);

  ASSERT_TRUE(next->SaveJwks(jwks_path_).ok());
  const Status reloaded = auth->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().ToString();
  EXPECT_EQ(BearerError(*auth, new_token).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, old_token).code, auth_errc::kInvalidToken);  // rotated out

  WriteFile(jwks_path_, R"({"keys":[{"kty":"EC")");
  const Status broken = auth->Reload();
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, auth_errc::kConfig);
  EXPECT_EQ(BearerError(*auth, new_token).code, auth_errc::kOk);
  EXPECT_EQ(BearerError(*auth, old_token).code, auth_errc::kInvalidToken);
}

TEST_F(AuthTest, ReloadRotatesApiKeysAtomically) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string old_credential = std::string(kKeyId) + "." + kSecret;
  const std::string new_credential = "key-2.another-secret";
  WriteFile(keys_path_, KeysFileLine("key-2", "another-secret"));
  ASSERT_TRUE(auth->Reload().ok());
  EXPECT_TRUE(auth->Authenticate("", new_credential).ok());
  EXPECT_AUTH_ERROR(auth->Authenticate("", old_credential), auth_errc::kUnknownApiKey);
  // A broken keys file (or a broken JWKS) keeps both old sets.
  WriteFile(keys_path_, KeysFileLine("key-3", "third") + "broken line\n");
  EXPECT_FALSE(auth->Reload().ok());
  EXPECT_TRUE(auth->Authenticate("", new_credential).ok());
  EXPECT_AUTH_ERROR(auth->Authenticate("", "key-3.third"), auth_errc::kUnknownApiKey);
  WriteFile(keys_path_, KeysFileLine("key-3", "third"));
  WriteFile(jwks_path_, "{}");
  EXPECT_FALSE(auth->Reload().ok());
  EXPECT_TRUE(auth->Authenticate("", new_credential).ok());
  EXPECT_AUTH_ERROR(auth->Authenticate("", "key-3.third"), auth_errc::kUnknownApiKey);
  EXPECT_EQ(BearerError(*auth, EsToken()).code, auth_errc::kOk);
}

TEST_F(AuthTest, AuthenticateRunsConcurrentlyWithReload) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string token = EsToken();
  const std::string credential = std::string(kKeyId) + "." + kSecret;
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (!auth->Authenticate("Bearer " + token, "").ok()) ++failures;
        if (!auth->Authenticate("", credential).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(auth->Reload().ok());
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- What errors say ----------------------------------------------------------------

TEST_F(AuthTest, ErrorDetailsNeverContainCredentialsOrClaims) {
  auto auth = Open();
  ASSERT_TRUE(auth);
  const std::string sub = "staff-zz-9Q7";
  const std::string agency = "AGENCY-Q9Z";
  std::vector<std::string> tokens = {
      EsToken({{"sub", "\"" + sub + "\""},
               {"pathway_agency", "\"" + agency + "\""},
               {"exp", std::to_string(kNowSeconds - 1000)}}),
      EsToken({{"sub", "\"" + sub + "\""},
               {"pathway_agency", "\"" + agency + "\""},
               {"pathway_role", "\"boss-" + sub + "\""}}),
      EsToken({{"sub", "\"" + sub + "\""}, {"aud", "\"aud-" + agency + "\""}}),
      EsToken({{"sub", "\"" + sub + "\""}, {"iss", "\"iss-" + agency + "\""}}),
      EsToken({{"sub", "\"" + sub + "\""}, {"pathway_agency", "\"" + agency + "/x\""}}),
      EsToken({{"sub", "\"" + sub + "\""}}, OtherIssuer()),
      EsToken({{"sub", "\"" + sub + "\""}}, Issuer(), "kid-" + agency),
      LibjwtSign(JWT_ALG_HS256, "secret-" + agency, "dev-1",
                 ClaimsJson({{"sub", "\"" + sub + "\""}})),
  };
  std::vector<Error> errors;
  for (const std::string& token : tokens) {
    errors.push_back(BearerError(*auth, token));
    EXPECT_NE(errors.back().code, auth_errc::kOk);
    EXPECT_EQ(errors.back().detail.find(token.substr(0, 12)), std::string::npos);
    EXPECT_EQ(errors.back().ToString().find(token.substr(token.rfind('.') + 1, 12)),
              std::string::npos);
  }
  for (const std::string& credential :
       {std::string(kKeyId) + ".wrong-" + kSecret, "nobody." + std::string(kSecret)}) {
    auto r = auth->Authenticate("", credential);
    ASSERT_FALSE(r.ok());
    errors.push_back(r.error());
  }
  for (const Error& e : errors) {
    const std::string text = e.ToString();
    for (const std::string& secret : {sub, agency, std::string(kSecret), std::string(kKeyId)}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
  }
}

TEST(AuthCategoryTest, CodesAndMessages) {
  const std::error_code code = auth_errc::kExpired;
  EXPECT_EQ(code.category(), auth_category());
  EXPECT_STREQ(auth_category().name(), "pathway.gateway.auth");
  for (int c = 0; c <= 7; ++c) {
    EXPECT_FALSE(auth_category().message(c).empty());
    EXPECT_NE(auth_category().message(c), "unknown authentication error") << c;
  }
  EXPECT_NE(make_error_code(auth_errc::kConfig), make_error_code(auth_errc::kInvalidToken));
}

TEST(RoleTest, NameRoundTripForEveryRole) {
  const std::vector<std::pair<Role, std::string_view>> roles = {
      {Role::kPartnerSystem, "partner_system"}, {Role::kClinician, "clinician"},
      {Role::kCaseworker, "caseworker"},        {Role::kTeamManager, "team_manager"},
      {Role::kOperations, "operations"},        {Role::kAuditor, "auditor"},
  };
  for (const auto& [role, name] : roles) {
    EXPECT_EQ(RoleName(role), name);
    EXPECT_EQ(ParseRole(name), role) << name;
  }
  for (std::string_view bad : {"", "Clinician", "clinician ", "admin", "team-manager"}) {
    EXPECT_EQ(ParseRole(bad), std::nullopt) << bad;
  }
}

// --- DevIssuer ----------------------------------------------------------------------

TEST(DevIssuerTest, SaveLoadSignVerify) {
  pathway::testing::TempDir dir;
  auto issuer = DevIssuer::Generate("dev-key.2030");
  ASSERT_TRUE(issuer.ok());
  const std::string key_file = dir.path() + "/dev.key";
  const std::string jwks_file = dir.path() + "/jwks.json";
  ASSERT_TRUE(issuer->SavePrivateKey(key_file).ok());
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(issuer->SaveJwks(jwks_file).ok());

  auto loaded = DevIssuer::Load(key_file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->kid(), "dev-key.2030");
  EXPECT_EQ(loaded->private_key_pem(), issuer->private_key_pem());
  EXPECT_EQ(loaded->Jwks(), issuer->Jwks());

  // The JWKS publishes the public key only.
  auto jwks = jose::ParseJson(issuer->Jwks());
  ASSERT_TRUE(jwks && jwks->Find("keys") && jwks->Find("keys")->items.size() == 1u);
  const jose::JsonValue& jwk = jwks->Find("keys")->items[0];
  for (const char* member : {"kty", "crv", "x", "y", "kid", "alg", "use"}) {
    ASSERT_TRUE(jwk.Find(member)) << member;
  }
  EXPECT_EQ(jwk.Find("kty")->string, "EC");
  EXPECT_EQ(jwk.Find("crv")->string, "P-256");
  EXPECT_EQ(jwk.Find("alg")->string, "ES256");
  EXPECT_EQ(jwk.Find("use")->string, "sig");
  EXPECT_EQ(jose::Base64UrlDecode(jwk.Find("x")->string)->size(), 32u);
  EXPECT_EQ(jwk.Find("d"), nullptr);

  SimulatedTimeSource time(kNow);
  AuthOptions o;
  o.jwks_file = jwks_file;
  o.issuer = kIssuer;
  o.audience = kAudience;
  auto auth = Authenticator::Open(o, time);
  ASSERT_TRUE(auth.ok()) << auth.error().ToString();
  DevIssuer::Claims claims;
  claims.principal = {"ops-1", Role::kOperations, "PATHWAY", "", false};
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = kNow - 30min;
  claims.lifetime = 1h;
  auto token = loaded->Sign(claims);
  ASSERT_TRUE(token.ok());
  auto p = (*auth)->Authenticate("Bearer " + *token, "");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->id, "ops-1");
  EXPECT_EQ(p->role, Role::kOperations);
  EXPECT_EQ(p->team, "");
  time.Advance(31min + 60s);
  EXPECT_AUTH_ERROR((*auth)->Authenticate("Bearer " + *token, ""), auth_errc::kExpired);
}

TEST(DevIssuerTest, RefusesBadKidAndBadKeyFile) {
  EXPECT_FALSE(DevIssuer::Generate("").ok());
  EXPECT_FALSE(DevIssuer::Generate("a\"b").ok());
  pathway::testing::TempDir dir;
  const std::string file = dir.path() + "/k";
  EXPECT_FALSE(DevIssuer::Load(file).ok());  // absent
  WriteFile(file, "kid: k1\nnot a pem\n");
  EXPECT_FALSE(DevIssuer::Load(file).ok());
  WriteFile(file, "kid: k1\n" + Pem(RsaKey(), true));  // not P-256
  EXPECT_FALSE(DevIssuer::Load(file).ok());
  WriteFile(file, Issuer().private_key_pem());  // no kid line
  EXPECT_FALSE(DevIssuer::Load(file).ok());
  WriteFile(file, "kid: k1\n" + Issuer().private_key_pem());
  EXPECT_TRUE(DevIssuer::Load(file).ok());
}

// --- The strict readers -------------------------------------------------------------

TEST(JoseTest, Base64UrlIsStrict) {
  for (const std::string& bytes : {std::string(""), std::string("f"), std::string("fo"),
                                   std::string("foo"), std::string("\xff\xfe\x00\x01", 4)}) {
    EXPECT_EQ(jose::Base64UrlDecode(jose::Base64UrlEncode(bytes)), bytes);
  }
  EXPECT_EQ(jose::Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(jose::Base64UrlDecode("Zm9v="));  // padding
  EXPECT_FALSE(jose::Base64UrlDecode("Zm9v+"));  // base64, not base64url
  EXPECT_FALSE(jose::Base64UrlDecode("Z"));      // impossible length
  EXPECT_FALSE(jose::Base64UrlDecode("Zh"));     // non-zero trailing bits
  EXPECT_TRUE(jose::Base64UrlDecode("Zg"));
}

TEST(JoseTest, JsonIsStrict) {
  auto v = jose::ParseJson(R"( {"a":[1,-2.5e3,true,false,null],"b":"x\u00e9\ud83d\ude00\n"} )");
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->Find("a") && v->Find("a")->items.size() == 5u);
  EXPECT_EQ(v->Find("a")->items[1].number, -2500);
  EXPECT_EQ(v->Find("b")->string, "x\xc3\xa9\xf0\x9f\x98\x80\n");
  for (const char* bad :
       {R"({"a":1,"a":2})", R"({"a":1} x)", R"({"a":01})", R"({"a":1.})", R"({"a":"\ud800"})",
        R"({"a":"\u0000"})", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\x01\"}",
        R"({'a':1})", R"([1,])", R"({"a":1,})", R"({"a":NaN})", R"({"a":1e999})", ""}) {
    EXPECT_FALSE(jose::ParseJson(bad)) << bad;
  }
  std::string deep(17, '[');
  deep += std::string(17, ']');
  EXPECT_FALSE(jose::ParseJson(deep));
  EXPECT_TRUE(jose::ParseJson(deep.substr(1, 32)));
}

}  // namespace
}  // namespace pathway::gateway
