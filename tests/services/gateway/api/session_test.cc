// Browser sessions, development sign-ins and the web app's files through the front door,
// with the real authenticator (a development issuer's keys) and a simulated clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "services/gateway/api/gateway.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/services/gateway/api/api_fakes.h"

namespace pathway::gateway {
namespace {

using ::pathway::testing::kValidNhsNumber;
using testing::Answers;
using testing::FakeOutcomes;
using testing::FakeSink;
using testing::HeaderOf;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'767'225'600));

// The value of a top-level string member of a flat JSON object (enough for these bodies).
std::string Member(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t end = json.find('"', at + key.size());
  return json.substr(at + key.size(), end - at - key.size());
}

// The session id from a Set-Cookie value.
std::string CookieId(const std::string& set_cookie) {
  const std::string prefix = "pathway_session=";
  if (!set_cookie.starts_with(prefix)) return "";
  return set_cookie.substr(prefix.size(), set_cookie.find(';') - prefix.size());
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = DevIssuer::Generate("dev-1");
    ASSERT_TRUE(issuer.ok()) << issuer.error().ToString();
    issuer_.emplace(std::move(*issuer));
    const std::string jwks = dir_.path() + "/jwks.json";
    ASSERT_TRUE(issuer_->SaveJwks(jwks).ok());
    const std::string keys = dir_.path() + "/api-keys.txt";
    std::ofstream(keys) << "mosaic-1 " << HexEncode(Sha256("partner-secret")) << " 209 mosaic\n";
    auto auth = Authenticator::Open(
        {jwks, keys, "https://idp.test", "pathway", std::chrono::seconds(60)}, time_);
    ASSERT_TRUE(auth.ok()) << auth.error().ToString();
    auth_ = std::move(*auth);
    dev_file_ = dir_.path() + "/dev-sign-ins.txt";
    std::ofstream(dev_file_) << "clinician staff-clin-1 " << Token(Role::kClinician, "staff-clin-1")
                             << "\ncaseworker staff-case-1 "
                             << Token(Role::kCaseworker, "staff-case-1")
                             << "\npartner_system demo X-API-Key: demo.secret\n";
    web_root_ = dir_.path() + "/dist";
    std::filesystem::create_directories(web_root_ + "/assets");
    std::ofstream(web_root_ + "/index.html") << "<!DOCTYPE html><title>pathway</title>";
    std::ofstream(web_root_ + "/assets/app.css") << "body{}";
    Make(options_);
  }

  void Make(GatewayOptions options) {
    options_ = std::move(options);
    gateway_ = std::make_unique<Gateway>(*auth_, api_, time_, options_);
  }

  std::string Token(Role role, std::string sub = "staff-1",
                    std::chrono::seconds lifetime = std::chrono::seconds(3600)) {
    DevIssuer::Claims c{{sub, role, "RXX01", "nd-team", false},
                        "https://idp.test",
                        "pathway",
                        time_.Now(),
                        lifetime};
    auto t = issuer_->Sign(c);
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : "";
  }

  HttpResponse Call(HttpRequest req) {
    if (req.client_address.empty()) req.client_address = "127.0.0.1";
    Answers a;
    gateway_->Route(req, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses[0];
  }

  HttpRequest Request(std::string method, std::string path,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.headers = std::move(headers);
    r.body = std::move(body);
    return r;
  }

  HttpRequest Command(std::vector<std::pair<std::string, std::string>> headers) {
    headers.emplace_back("content-type", "application/json");
    return Request(
        "POST", "/v1/commands/nd_first_appointment_attended", std::move(headers),
        R"({"subject":{"nhsNumber":")" + std::string(kValidNhsNumber) +
            R"("},"ndFirstAppointmentAttended":{"referralId":"ND-1","attendedOn":{"year":2025,"month":5,"day":1}}})");
  }

  // Signs in with a token: {cookie id, CSRF token, the response}.
  struct SignedIn {
    std::string id, csrf;
    HttpResponse response;
  };
  SignedIn SignIn(std::string token) {
    HttpResponse r = Call(Request("POST", "/v1/session", {{"authorization", "Bearer " + token}}));
    return {CookieId(HeaderOf(r, "Set-Cookie")), Member(r.body, "csrfToken"), r};
  }

  ::pathway::testing::TempDir dir_;
  SimulatedTimeSource time_{kNow};
  std::optional<DevIssuer> issuer_;
  std::unique_ptr<Authenticator> auth_;
  std::string dev_file_, web_root_;
  FakeSink sink_;
  FakeOutcomes outcomes_;
  Api api_{ApiOptions{}, sink_, outcomes_, time_};
  GatewayOptions options_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(SessionTest, ATokenMakesASessionWithAStrictHttpOnlySecureCookie) {
  SignedIn s = SignIn(Token(Role::kClinician));
  ASSERT_EQ(s.response.status, 200) << s.response.body;
  EXPECT_EQ(HeaderOf(s.response, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(s.response, "Cache-Control"), "no-store");
  const std::string cookie = HeaderOf(s.response, "Set-Cookie");
  EXPECT_EQ(s.id.size(), 64u) << cookie;
  EXPECT_EQ(cookie, "pathway_session=" + s.id +
                        "; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(s.csrf.size(), 64u);
  EXPECT_NE(s.csrf, s.id);
  EXPECT_EQ(Member(s.response.body, "id"), "staff-1");
  EXPECT_EQ(Member(s.response.body, "role"), "clinician");
  EXPECT_EQ(Member(s.response.body, "agency"), "RXX01");
  EXPECT_EQ(Member(s.response.body, "team"), "nd-team");
  // Two sign-ins, two sessions.
  SignedIn again = SignIn(Token(Role::kClinician));
  EXPECT_NE(again.id, s.id);
  EXPECT_NE(again.csrf, s.csrf);
}

TEST_F(SessionTest, InsecureCookiesOnlyWhenAskedFor) {
  GatewayOptions options;
  options.secure_cookies = false;
  Make(options);
  SignedIn s = SignIn(Token(Role::kClinician));
  const std::string cookie = HeaderOf(s.response, "Set-Cookie");
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly; SameSite=Strict"), std::string::npos) << cookie;
}

TEST_F(SessionTest, NoSessionForABadTokenOrAnApiKey) {
  HttpResponse r = Call(Request("POST", "/v1/session", {{"authorization", "Bearer not.a.token"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(HeaderOf(r, "Set-Cookie").empty());
  r = Call(Request("POST", "/v1/session"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication.missing"), std::string::npos);
  r = Call(Request("POST", "/v1/session", {{"x-api-key", "mosaic-1.partner-secret"}}));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("authorisation.role"), std::string::npos);
  EXPECT_TRUE(HeaderOf(r, "Set-Cookie").empty());
  EXPECT_EQ(Call(Request("PUT", "/v1/session")).status, 405);
}

TEST_F(SessionTest, TheCookieSignsInReadsAndCommandsNeedTheCsrfToken) {
  SignedIn s = SignIn(Token(Role::kClinician));
  const std::pair<std::string, std::string> cookie{"cookie", "theme=dark; pathway_session=" + s.id};

  HttpResponse who = Call(Request("GET", "/v1/session", {cookie}));
  EXPECT_EQ(who.status, 200);
  EXPECT_EQ(Member(who.body, "csrfToken"), s.csrf);
  EXPECT_EQ(Member(who.body, "role"), "clinician");
  // A read by cookie needs no CSRF token.
  EXPECT_EQ(Call(Request("GET", "/v1/outcomes/abc", {cookie})).status, 200);

  // A command without the token, or with another, is refused and nothing is published.
  HttpResponse r = Call(Command({cookie}));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("\"rule\":\"csrf.missing_or_wrong\""), std::string::npos) << r.body;
  r = Call(Command({cookie, {"x-csrf-token", std::string(64, '0')}}));
  EXPECT_EQ(r.status, 403);
  r = Call(Command({cookie, {"x-csrf-token", s.csrf.substr(1)}}));
  EXPECT_EQ(r.status, 403);
  SignedIn other = SignIn(Token(Role::kClinician, "staff-2"));
  r = Call(Command({cookie, {"x-csrf-token", other.csrf}}));  // another session's token
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(sink_.published.empty());

  r = Call(Command({cookie, {"x-csrf-token", s.csrf}}));
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(sink_.published.size(), 1u);
  EXPECT_EQ(sink_.published[0].actor().id(), "staff-1");
  EXPECT_EQ(sink_.published[0].source().agency(), "RXX01");
}

TEST_F(SessionTest, AnUnknownCookieIsNotSignedInAndHeaderCredentialsComeFirst) {
  const std::pair<std::string, std::string> forged{"cookie",
                                                   "pathway_session=" + std::string(64, 'a')};
  HttpResponse r = Call(Request("GET", "/v1/outcomes/abc", {forged}));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication.missing"), std::string::npos);
  EXPECT_EQ(Call(Request("GET", "/v1/session", {forged})).status, 401);
  EXPECT_EQ(Call(Request("GET", "/v1/session")).status, 401);
  // A bearer token with a stray cookie: the token decides, no CSRF token needed.
  r = Call(Command({forged, {"authorization", "Bearer " + Token(Role::kClinician)}}));
  EXPECT_EQ(r.status, 202) << r.body;
}

TEST_F(SessionTest, ASessionEndsWithItsToken) {
  SignedIn s = SignIn(Token(Role::kClinician, "staff-1", std::chrono::seconds(120)));
  ASSERT_EQ(s.response.status, 200);
  EXPECT_NE(HeaderOf(s.response, "Set-Cookie").find("Max-Age=120;"), std::string::npos);
  const std::pair<std::string, std::string> cookie{"cookie", "pathway_session=" + s.id};
  time_.Advance(std::chrono::seconds(119));
  EXPECT_EQ(Call(Request("GET", "/v1/session", {cookie})).status, 200);
  time_.Advance(std::chrono::seconds(1));
  HttpResponse r = Call(Command({cookie, {"x-csrf-token", s.csrf}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication.expired"), std::string::npos) << r.body;
  // Dropped: from now on it is unknown.
  r = Call(Request("GET", "/v1/session", {cookie}));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication.missing"), std::string::npos) << r.body;
  EXPECT_TRUE(sink_.published.empty());
}

TEST_F(SessionTest, SigningOutNeedsTheCsrfTokenAndEndsTheSession) {
  SignedIn s = SignIn(Token(Role::kClinician));
  const std::pair<std::string, std::string> cookie{"cookie", "pathway_session=" + s.id};
  HttpResponse r = Call(Request("DELETE", "/v1/session", {cookie}));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("csrf.missing_or_wrong"), std::string::npos);
  EXPECT_EQ(Call(Request("GET", "/v1/session", {cookie})).status, 200);  // still signed in

  r = Call(Request("DELETE", "/v1/session", {cookie, {"x-csrf-token", s.csrf}}));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(HeaderOf(r, "Set-Cookie"),
            "pathway_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(Call(Request("GET", "/v1/session", {cookie})).status, 401);
  EXPECT_EQ(Call(Command({cookie, {"x-csrf-token", s.csrf}})).status, 401);
  r = Call(Request("DELETE", "/v1/session", {cookie, {"x-csrf-token", s.csrf}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(HeaderOf(r, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(sink_.published.empty());
}

TEST_F(SessionTest, GuessingSessionIdsCountsAsFailedSignIns) {
  GatewayOptions options;
  options.failed_sign_ins_per_minute = 60;
  options.failed_sign_in_burst = 2;
  Make(options);
  HttpRequest guess = Request("GET", "/v1/outcomes/abc", {{"cookie", "pathway_session=guess"}});
  EXPECT_EQ(Call(guess).status, 401);
  EXPECT_EQ(Call(guess).status, 401);
  EXPECT_EQ(Call(guess).status, 429);
  // Asking who is signed in without any cookie is no guess.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call(Request("GET", "/v1/session")).status, 401);
}

TEST(SessionStore, IsBoundedDroppingExpiredSessionsFirstThenTheOldest) {
  SessionStore store(2);
  Principal p;
  p.id = "staff-1";
  std::string a, b, c, d;
  ASSERT_TRUE(store.Create(p, kNow + std::chrono::hours(1), kNow, &a).ok());
  ASSERT_TRUE(store.Create(p, kNow + std::chrono::seconds(10), kNow, &b).ok());
  const TimePoint later = kNow + std::chrono::seconds(20);  // b has expired
  ASSERT_TRUE(store.Create(p, later + std::chrono::hours(1), later, &c).ok());
  Session s;
  EXPECT_EQ(store.Find(a, later, &s), SessionStore::Lookup::kFound);
  EXPECT_EQ(store.Find(b, later, &s), SessionStore::Lookup::kUnknown);
  EXPECT_EQ(store.size(), 2u);
  ASSERT_TRUE(store.Create(p, later + std::chrono::hours(1), later, &d).ok());  // a goes
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.Find(a, later, &s), SessionStore::Lookup::kUnknown);
  EXPECT_EQ(store.Find(c, later, &s), SessionStore::Lookup::kFound);
  EXPECT_EQ(store.Find(d, later, &s), SessionStore::Lookup::kFound);
  EXPECT_TRUE(store.Remove(d));
  EXPECT_FALSE(store.Remove(d));
}

TEST(SessionCookies, CookieValueAndConstantTimeEquals) {
  EXPECT_EQ(CookieValue("pathway_session=abc", "pathway_session"), "abc");
  EXPECT_EQ(CookieValue("a=1;  pathway_session=abc ; b=2", "pathway_session"), "abc");
  EXPECT_EQ(CookieValue("xpathway_session=abc", "pathway_session"), "");
  EXPECT_EQ(CookieValue("", "pathway_session"), "");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST_F(SessionTest, DevelopmentSignInsOnlyWithTheFile) {
  EXPECT_EQ(Call(Request("GET", "/dev/sign-ins")).status, 404);
  EXPECT_EQ(Call(Request("POST", "/dev/sign-in", {{"content-type", "application/json"}},
                         R"({"role":"clinician"})"))
                .status,
            404);

  GatewayOptions options;
  options.dev_sign_ins_file = dev_file_;
  Make(options);
  HttpResponse r = Call(Request("GET", "/dev/sign-ins"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"people":[{"role":"clinician","id":"staff-clin-1"},)"
                    R"({"role":"caseworker","id":"staff-case-1"}]})");
  EXPECT_EQ(r.body.find("ey"), std::string::npos);  // no token (a JWT starts "ey")
  EXPECT_EQ(Call(Request("POST", "/dev/sign-ins")).status, 405);

  r = Call(Request("POST", "/dev/sign-in", {{"content-type", "application/json"}},
                   R"({"role":"clinician"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.body, "id"), "staff-clin-1");
  const std::string id = CookieId(HeaderOf(r, "Set-Cookie"));
  EXPECT_EQ(id.size(), 64u);
  HttpResponse who = Call(Request("GET", "/v1/session", {{"cookie", "pathway_session=" + id}}));
  EXPECT_EQ(Member(who.body, "role"), "clinician");

  r = Call(Request("POST", "/dev/sign-in", {{"content-type", "application/json"}},
                   R"({"role":"auditor"})"));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("\"field\":\"role\""), std::string::npos);
  r = Call(Request("POST", "/dev/sign-in", {{"content-type", "application/json"}},
                   R"({"role":"partner_system"})"));
  EXPECT_EQ(r.status, 422);
  r = Call(
      Request("POST", "/dev/sign-in", {{"content-type", "text/plain"}}, R"({"role":"clinician"})"));
  EXPECT_EQ(r.status, 415);
  r = Call(Request("POST", "/dev/sign-in", {{"content-type", "application/json"}}, "[1"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Call(Request("GET", "/dev/sign-in")).status, 405);
  EXPECT_EQ(Call(Request("GET", "/dev/other")).status, 404);
}

TEST_F(SessionTest, TheWebAppIsServedWithoutSignInAndWithTheSecurityHeaders) {
  EXPECT_EQ(Call(Request("GET", "/")).status, 404);  // no web root: nothing

  GatewayOptions options;
  options.web_root = web_root_;
  Make(options);
  HttpResponse r = Call(Request("GET", "/"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!DOCTYPE html><title>pathway</title>");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/html; charset=utf-8");
  size_t cache_headers = 0;
  for (const auto& [name, value] : r.headers) cache_headers += name == "Cache-Control";
  EXPECT_EQ(cache_headers, 1u);
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
  r = Call(Request("GET", "/assets/app.css"));
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  // The API's paths are never files, and unknown files are the 404 problem.
  r = Call(Request("GET", "/v1/nothing"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("route.unknown"), std::string::npos);
  EXPECT_EQ(Call(Request("GET", "/nothing.html")).status, 404);
}

}  // namespace
}  // namespace pathway::gateway
