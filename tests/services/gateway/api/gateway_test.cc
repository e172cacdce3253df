// The gateway's front door with the real authenticator (a development issuer's keys):
// sign-in, probes, the OpenAPI document, security headers and the rate limit.
#include "services/gateway/api/gateway.h"

#include <gtest/gtest.h>

#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/services/gateway/api/api_fakes.h"

namespace pathway::gateway {
namespace {

using ::pathway::testing::kOtherValidNhsNumber;
using ::pathway::testing::kValidNhsNumber;
using testing::Answers;
using testing::FakeOutcomes;
using testing::FakeSink;
using testing::HeaderOf;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'767'225'600));

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issuer = DevIssuer::Generate("dev-1");
    ASSERT_TRUE(issuer.ok()) << issuer.error().ToString();
    issuer_.emplace(std::move(*issuer));
    jwks_ = dir_.path() + "/jwks.json";
    ASSERT_TRUE(issuer_->SaveJwks(jwks_).ok());
    auto auth = Authenticator::Open(
        {jwks_, "", "https://idp.test", "pathway", std::chrono::seconds(60)}, time_);
    ASSERT_TRUE(auth.ok()) << auth.error().ToString();
    auth_ = std::move(*auth);
    GatewayOptions options;
    options.rate_per_minute = 60;
    options.burst = 3;
    gateway_ = std::make_unique<Gateway>(*auth_, api_, time_, options);
  }

  std::string Token(Role role, std::chrono::seconds lifetime = std::chrono::seconds(3600),
                    TimePoint issued = kNow) {
    DevIssuer::Claims c{
        {"staff-1", role, "RXX01", "", false}, "https://idp.test", "pathway", issued, lifetime};
    auto t = issuer_->Sign(c);
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : "";
  }

  HttpResponse Call(HttpRequest req) {
    Answers a;
    gateway_->Route(req, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses[0];
  }

  HttpRequest Command(std::string token) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/v1/commands/nd_first_appointment_attended";
    r.headers = {{"content-type", "application/json"}};
    if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
    r.body =
        R"({"subject":{"nhsNumber":")" + std::string(kValidNhsNumber) +
        R"("},"ndFirstAppointmentAttended":{"referralId":"ND-1","attendedOn":{"year":2025,"month":5,"day":1}}})";
    return r;
  }

  ::pathway::testing::TempDir dir_;
  std::string jwks_;
  SimulatedTimeSource time_{kNow};
  std::optional<DevIssuer> issuer_;
  std::unique_ptr<Authenticator> auth_;
  FakeSink sink_;
  FakeOutcomes outcomes_;
  Api api_{ApiOptions{}, sink_, outcomes_, time_};
  std::unique_ptr<Gateway> gateway_;
};

void ExpectSecurityHeaders(const HttpResponse& r) {
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
}

TEST_F(GatewayTest, EveryApiRequestIsSignedIn) {
  HttpResponse r = Call(Command(""));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_NE(r.body.find("authentication.missing"), std::string::npos);
  ExpectSecurityHeaders(r);

  r = Call(Command("not.a.token"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("not.a.token"), std::string::npos);

  r = Call(
      Command(Token(Role::kClinician, std::chrono::seconds(60), kNow - std::chrono::hours(1))));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("authentication.expired"), std::string::npos);
  EXPECT_TRUE(sink_.published.empty());

  r = Call(Command(Token(Role::kClinician)));
  EXPECT_EQ(r.status, 202) << r.body;
  ExpectSecurityHeaders(r);
  ASSERT_EQ(sink_.published.size(), 1u);
  EXPECT_EQ(sink_.published[0].actor().id(), "staff-1");
  EXPECT_EQ(sink_.published[0].source().agency(), "RXX01");
}

TEST_F(GatewayTest, TheRoleInTheTokenDecides) {
  HttpResponse r = Call(Command(Token(Role::kAuditor)));
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(sink_.published.empty());
}

TEST_F(GatewayTest, ProbesAndTheDocumentNeedNoSignIn) {
  HttpRequest live{"GET", "/health/live", "", {}, "", "127.0.0.1"};
  EXPECT_EQ(Call(live).status, 200);
  HttpRequest ready{"GET", "/health/ready", "", {}, "", "127.0.0.1"};
  EXPECT_EQ(Call(ready).status, 503);
  gateway_->SetReady(true);
  EXPECT_EQ(Call(ready).status, 200);
  HttpRequest doc{"GET", "/openapi.json", "", {}, "", "127.0.0.1"};
  HttpResponse r = Call(doc);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  EXPECT_NE(r.body.find("\"openapi\":\"3.1.0\""), std::string::npos);
  ExpectSecurityHeaders(r);
  for (HttpRequest* probe : {&live, &ready, &doc}) {
    for (const char* method : {"DELETE", "POST", "TRACE", "PUT"}) {
      probe->method = method;
      HttpResponse answer = Call(*probe);
      EXPECT_EQ(answer.status, 405) << probe->path << " " << method;
      EXPECT_EQ(HeaderOf(answer, "Allow"), "GET, HEAD");
    }
  }
}

TEST_F(GatewayTest, AnUnknownPathIs404WithoutSignIn) {
  HttpRequest r{"GET", "/etc/passwd", "", {}, "", "127.0.0.1"};
  HttpResponse resp = Call(r);
  EXPECT_EQ(resp.status, 404);
  ExpectSecurityHeaders(resp);
}

TEST_F(GatewayTest, EachCallerIsRateLimitedAndRefilledWithTime) {
  const std::string token = Token(Role::kClinician);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Call(Command(token)).status, 202) << i;
  HttpResponse r = Call(Command(token));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
  EXPECT_NE(r.body.find("rate_limit.exceeded"), std::string::npos);
  // Another caller has its own bucket.
  DevIssuer::Claims other{{"staff-2", Role::kClinician, "RXX01", "", false},
                          "https://idp.test",
                          "pathway",
                          kNow,
                          std::chrono::seconds(3600)};
  EXPECT_EQ(Call(Command(*issuer_->Sign(other))).status, 202);
  time_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(Call(Command(token)).status, 202);
  EXPECT_EQ(sink_.published.size(), 5u);
}

TEST_F(GatewayTest, FailedSignInsAreLimitedPerAddressWithoutTouchingSignedInCallers) {
  GatewayOptions options;
  options.failed_sign_ins_per_minute = 60;
  options.failed_sign_in_burst = 2;
  Gateway gateway(*auth_, api_, time_, options);
  const auto call = [&](HttpRequest req) {
    Answers a;
    gateway.Route(req, a.Callback());
    return a.responses.empty() ? HttpResponse{} : a.responses[0];
  };
  HttpRequest guess = Command("forged.token.here");
  guess.client_address = "192.0.2.7";
  EXPECT_EQ(call(guess).status, 401);
  EXPECT_EQ(call(guess).status, 401);
  HttpResponse r = call(guess);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("failed sign-ins"), std::string::npos);
  // Another address, and a signed-in caller from the same address, are not held back.
  guess.client_address = "192.0.2.8";
  EXPECT_EQ(call(guess).status, 401);
  HttpRequest good = Command(Token(Role::kClinician));
  good.client_address = "192.0.2.7";
  EXPECT_EQ(call(good).status, 202);
  time_.Advance(std::chrono::seconds(1));
  guess.client_address = "192.0.2.7";
  EXPECT_EQ(call(guess).status, 401);
}

}  // namespace
}  // namespace pathway::gateway
