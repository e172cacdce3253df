// The command API without sockets or Kafka: routes, authorisation, what the gateway
// sets, validation before publishing, idempotency and waiting for outcomes.
#include "services/gateway/api/api.h"

#include <gtest/gtest.h>

#include "services/gateway/api/command_routes.h"
#include "tests/common/fixtures.h"
#include "tests/services/gateway/api/api_fakes.h"

namespace pathway::gateway {
namespace {

using ::pathway::testing::kOtherValidNhsNumber;
using ::pathway::testing::kValidNhsNumber;
using testing::Answers;
using testing::FakeOutcomes;
using testing::FakeSink;
using testing::HeaderOf;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'767'225'600));  // 2026-01-01

Principal Clinician() { return {"staff-17", Role::kClinician, "RXX01", "nd-team", false}; }

HttpRequest Post(std::string path, std::string body,
                 std::vector<std::pair<std::string, std::string>> extra = {}) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.body = std::move(body);
  r.headers = {{"content-type", "application/json"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  return r;
}

HttpRequest Get(std::string path, std::vector<std::pair<std::string, std::string>> extra = {}) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.headers = std::move(extra);
  return r;
}

std::string FirstAppointment(std::string nhs = kValidNhsNumber) {
  return R"({"subject":{"nhsNumber":")" + nhs +
         R"("},"ndFirstAppointmentAttended":{"referralId":"ND-1","attendedOn":{"year":2025,"month":5,"day":1}}})";
}

class ApiTest : public ::testing::Test {
 protected:
  SimulatedTimeSource time{kNow};
  FakeSink sink;
  FakeOutcomes outcomes;
  Api api{ApiOptions{}, sink, outcomes, time};

  HttpResponse Call(const HttpRequest& req, const Principal& who = Clinician()) {
    Answers a;
    api.Handle(req, who, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u) << req.path;
    return a.responses.empty() ? HttpResponse{} : a.responses.front();
  }
};

TEST_F(ApiTest, ACommandIsPublishedWithTheCallerAsSourceAndActorAndAnswered202) {
  HttpResponse r = Call(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment()));
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(sink.published.size(), 1u);
  const auto& e = sink.published[0];
  EXPECT_EQ(e.event_id().size(), 32u);
  EXPECT_EQ(e.source().agency(), "RXX01");
  EXPECT_EQ(e.source().system(), "pathway-gateway");
  EXPECT_EQ(e.actor().id(), "staff-17");
  EXPECT_EQ(e.actor().role(), "clinician");
  EXPECT_EQ(e.actor().team(), "nd-team") << "the sign-in's team: its caseload";
  EXPECT_EQ(e.occurred_at().seconds(), 1'767'225'600);
  EXPECT_EQ(e.correlation_id(), e.event_id());
  EXPECT_EQ(e.nd_first_appointment_attended().referral_id(), "ND-1");
  EXPECT_EQ(e.subject().nhs_number(), kValidNhsNumber);
  EXPECT_EQ(HeaderOf(r, "Location"), "/v1/outcomes/" + e.event_id());
  EXPECT_NE(r.body.find("\"eventId\":\"" + e.event_id() + "\""), std::string::npos);
  EXPECT_NE(r.body.find("\"status\":\"pending\""), std::string::npos);
}

TEST_F(ApiTest, APartnerSystemIsTheSourceSystemAndKeepsItsOwnOccurredAtAndCorrelation) {
  Principal partner{"mosaic", Role::kPartnerSystem, "209", "", true};
  std::string body =
      R"({"subject":{"nhsNumber":")" + std::string(kValidNhsNumber) +
      R"("},"occurredAt":"2025-03-01T10:00:00Z","correlationId":"case-9",)"
      R"("ndFirstAppointmentAttended":{"referralId":"ND-1","attendedOn":{"year":2025,"month":3,"day":1}}})";
  ASSERT_EQ(Call(Post("/v1/commands/nd_first_appointment_attended", body), partner).status, 202);
  const auto& e = sink.published.at(0);
  EXPECT_EQ(e.source().system(), "mosaic");
  EXPECT_EQ(e.source().agency(), "209");
  EXPECT_EQ(e.occurred_at().seconds(), 1'740'823'200);
  EXPECT_EQ(e.correlation_id(), "case-9");
}

// The whole matrix of role x command route: 403 exactly where the role may not send.
TEST_F(ApiTest, EveryRoleIsRefusedExactlyTheCommandsItMayNotSend) {
  const Role roles[] = {Role::kPartnerSystem, Role::kClinician,  Role::kCaseworker,
                        Role::kTeamManager,   Role::kOperations, Role::kAuditor};
  int refused = 0;
  for (const CommandRoute& route : CommandRoutes()) {
    for (Role role : roles) {
      Principal who{"x", role, "RXX01", "", role == Role::kPartnerSystem};
      HttpResponse r = Call(Post("/v1/commands/" + std::string(route.name), "{}"), who);
      if (MaySend(route, role)) {
        EXPECT_NE(r.status, 403) << route.name << " " << RoleName(role);
      } else {
        ++refused;
        EXPECT_EQ(r.status, 403) << route.name << " " << RoleName(role);
        EXPECT_NE(r.body.find("authorisation.role"), std::string::npos);
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_TRUE(sink.published.empty());
}

TEST(CommandRoutes, TheRulesAClinicAndACouncilExpect) {
  const auto may = [](std::string_view name, Role role) {
    const CommandRoute* r = FindCommandRoute(name);
    EXPECT_NE(r, nullptr) << name;
    return r != nullptr && MaySend(*r, role);
  };
  EXPECT_TRUE(may("nd_first_appointment_attended", Role::kClinician));
  EXPECT_TRUE(may("nd_outcome_recorded", Role::kClinician));
  EXPECT_TRUE(may("nd_discharged", Role::kClinician));
  EXPECT_TRUE(may("ehc_advice_received", Role::kClinician));
  EXPECT_FALSE(may("ehc_final_plan_issued", Role::kClinician));
  EXPECT_TRUE(may("ehc_final_plan_issued", Role::kCaseworker));
  EXPECT_TRUE(may("annual_review_meeting_held", Role::kCaseworker));
  EXPECT_TRUE(may("phase_transfer_due", Role::kCaseworker));
  EXPECT_FALSE(may("nd_outcome_recorded", Role::kCaseworker));
  EXPECT_TRUE(may("nd_outcome_recorded", Role::kTeamManager));
  EXPECT_TRUE(may("consent_recorded", Role::kClinician));
  EXPECT_TRUE(may("erasure_requested", Role::kOperations));
  EXPECT_FALSE(may("referral_submitted", Role::kOperations));
  EXPECT_FALSE(may("fact_provided", Role::kAuditor));
  // Never through the gateway's command routes.
  EXPECT_EQ(FindCommandRoute("record_view_requested"), nullptr);
  EXPECT_EQ(FindCommandRoute("alias_linked"), nullptr);
  EXPECT_EQ(FindCommandRoute("referral_received"), nullptr);
  EXPECT_EQ(FindCommandRoute("fact_recorded"), nullptr);
}

TEST_F(ApiTest, AnUnknownCommandIs404) {
  HttpResponse r = Call(Post("/v1/commands/launch_rockets", FirstAppointment()));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/problem+json");
  EXPECT_NE(r.body.find("route.unknown_command"), std::string::npos);
}

TEST_F(ApiTest, FieldsOnlyTheGatewaySetsAreAllNamedAtOnce) {
  std::string body =
      R"({"eventId":"mine","source":{"agency":"OTHER"},"actor":{"id":"boss"},)"
      R"("subject":{"nhsNumber":"9434765919"},"ndFirstAppointmentAttended":{"referralId":"ND-1"}})";
  HttpResponse r = Call(Post("/v1/commands/nd_first_appointment_attended", body));
  EXPECT_EQ(r.status, 422);
  for (const char* f : {"\"event_id\"", "\"source\"", "\"actor\""}) {
    EXPECT_NE(r.body.find(std::string("\"field\":") + f), std::string::npos) << f << r.body;
  }
  EXPECT_NE(r.body.find("field.set_by_gateway"), std::string::npos);
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, ABodyHoldingAnotherCommandThanTheRouteIsRefused) {
  HttpResponse r = Call(Post("/v1/commands/nd_discharged", FirstAppointment()));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("payload.does_not_match_route"), std::string::npos);
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, MalformedJsonUnknownFieldsAndWrongTypesAre400WithoutEchoingTheBody) {
  struct Case {
    std::string body;
    std::string field;  // expected in the problem, "" if none
  };
  const Case cases[] = {
      {"{", ""},
      {"[]", ""},
      {R"({"subject":{"nhsNumber":"9434765919"},"bogusField":1})", "bogusField"},
      {R"({"subject":{"nhsNumber":"9434765919","zzz":2}})", "subject.zzz"},
      {R"({"ndFirstAppointmentAttended":{"referralId":7}})",
       "nd_first_appointment_attended.referral_id"},
      {R"({"ndFirstAppointmentAttended":{"attendedOn":"yesterday"}})",
       "nd_first_appointment_attended.attended_on"},
      {R"({"9434765919":1})", ""},
      {R"({"subject":{"9434765919":1}})", ""},
  };
  for (const auto& c : cases) {
    HttpResponse r = Call(Post("/v1/commands/nd_first_appointment_attended", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_NE(r.body.find("body.invalid_json"), std::string::npos) << c.body;
    EXPECT_EQ(r.body.find("9434765919"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("yesterday"), std::string::npos) << r.body;
    if (!c.field.empty()) {
      EXPECT_NE(r.body.find("\"field\":\"" + c.field + "\""), std::string::npos) << r.body;
    }
  }
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, OnlyJsonIsAccepted) {
  HttpRequest req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment());
  req.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(Call(req).status, 415);
  req.headers.clear();
  EXPECT_EQ(Call(req).status, 415);
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, AReferralWithThreeMistakesIsAnsweredWithAllThree) {
  // A check digit that fails, no given name, no reason.
  std::string referral =
      R"({"referralSubmitted":{"referralId":"R-1","child":{"nhsNumber":"9434765910",)"
      R"("familyName":"B","dateOfBirth":{"year":2018,"month":2,"day":3}},"referrer":{"agency":"Y00001","role":"GP"},)"
      R"("receivedOn":{"year":2025,"month":3,"day":10}}})";
  HttpResponse r = Call(Post("/v1/commands/referral_submitted", referral));
  EXPECT_EQ(r.status, 422) << r.body;
  const size_t list = r.body.find("\"violations\":[");
  ASSERT_NE(list, std::string::npos) << r.body;
  const size_t nhs = r.body.find("referral_submitted.child.nhs_number", list);
  const size_t name = r.body.find("referral_submitted.child.given_name", list);
  const size_t reason = r.body.find("referral_submitted.reason", list);
  EXPECT_NE(nhs, std::string::npos) << r.body;
  EXPECT_NE(name, std::string::npos) << r.body;
  EXPECT_NE(reason, std::string::npos) << r.body;
  EXPECT_TRUE(nhs < name && name < reason) << "schema order: " << r.body;
  EXPECT_EQ(r.body.find("9434765910"), std::string::npos);
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, TheEnginesStatelessChecksAnswerAtOnceNamingTheFieldAndRule) {
  // A referral whose NHS number fails its check digit.
  std::string referral =
      R"({"referralSubmitted":{"referralId":"R-1","child":{"nhsNumber":"9434765910","givenName":"A",)"
      R"("familyName":"B","dateOfBirth":{"year":2018,"month":2,"day":3}},"referrer":{"agency":"Y00001","role":"GP"},)"
      R"("reason":"REFERRAL_REASON_ATTENTION","receivedOn":{"year":2025,"month":3,"day":10}}})";
  HttpResponse r = Call(Post("/v1/commands/referral_submitted", referral));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("\"rule\":\"nhs_number.modulus11\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"field\":\"referral_submitted.child.nhs_number\""), std::string::npos);
  EXPECT_EQ(r.body.find("9434765910"), std::string::npos);

  // A string over its limit, and a date that is no date.
  std::string long_ref =
      R"({"subject":{"nhsNumber":"9434765919"},"ndFirstAppointmentAttended":{"referralId":")" +
      std::string(300, 'x') + R"("}})";
  r = Call(Post("/v1/commands/nd_first_appointment_attended", long_ref));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("string.too_long"), std::string::npos) << r.body;
  std::string bad_date =
      R"({"subject":{"nhsNumber":"9434765919"},"ndFirstAppointmentAttended":{"referralId":"ND-1",)"
      R"("attendedOn":{"year":2025,"month":2,"day":30}}})";
  r = Call(Post("/v1/commands/nd_first_appointment_attended", bad_date));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("date.calendar"), std::string::npos) << r.body;
  EXPECT_TRUE(sink.published.empty());
}

TEST_F(ApiTest, ARepeatedIdempotencyKeyReturnsTheFirstAnswerAndPublishesOnce) {
  auto req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"idempotency-key", "k-1"}});
  HttpResponse first = Call(req);
  ASSERT_EQ(first.status, 202);
  HttpResponse again = Call(req);
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(HeaderOf(again, "Idempotent-Replayed"), "true");
  EXPECT_EQ(sink.published.size(), 1u);
  // The event id is derived from the caller and the key: the same after a restart.
  EXPECT_EQ(sink.published[0].event_id(), Api::IdempotentEventId(Clinician(), "k-1"));
  FakeSink sink2;
  Api restarted{ApiOptions{}, sink2, outcomes, time};
  Answers a;
  restarted.Handle(req, Clinician(), a.Callback());
  ASSERT_EQ(sink2.published.size(), 1u);
  EXPECT_EQ(sink2.published[0].event_id(), sink.published[0].event_id());
}

TEST_F(ApiTest, TheSameIdempotencyKeyWithAnotherBodyIsRefused) {
  ASSERT_EQ(Call(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                      {{"idempotency-key", "k-1"}}))
                .status,
            202);
  HttpResponse r = Call(Post("/v1/commands/nd_first_appointment_attended",
                             FirstAppointment(kOtherValidNhsNumber), {{"idempotency-key", "k-1"}}));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("idempotency_key.reused_with_different_body"), std::string::npos);
  EXPECT_EQ(sink.published.size(), 1u);
}

TEST_F(ApiTest, TheSameKeyFromAnotherCallerIsAnotherCommand) {
  auto req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"idempotency-key", "k-1"}});
  ASSERT_EQ(Call(req).status, 202);
  Principal other = Clinician();
  other.id = "staff-18";
  ASSERT_EQ(Call(req, other).status, 202);
  ASSERT_EQ(sink.published.size(), 2u);
  EXPECT_NE(sink.published[0].event_id(), sink.published[1].event_id());
}

TEST_F(ApiTest, ARepeatWhileTheFirstIsInFlightGetsTheFirstAnswerWhenItComes) {
  sink.auto_confirm = false;
  auto req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"idempotency-key", "k-2"}});
  Answers first, second;
  api.Handle(req, Clinician(), first.Callback());
  api.Handle(req, Clinician(), second.Callback());
  EXPECT_TRUE(first.responses.empty());
  EXPECT_TRUE(second.responses.empty());
  sink.ConfirmAll();
  ASSERT_EQ(first.responses.size(), 1u);
  ASSERT_EQ(second.responses.size(), 1u);
  EXPECT_EQ(first.responses[0].status, 202);
  EXPECT_EQ(second.responses[0].body, first.responses[0].body);
  EXPECT_EQ(sink.published.size(), 1u);
}

TEST_F(ApiTest, ABrokerFailureIs503AndARetryWithTheSameKeyPublishesAgain) {
  sink.auto_confirm = false;
  auto req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"idempotency-key", "k-3"}});
  Answers a;
  api.Handle(req, Clinician(), a.Callback());
  sink.FailAll();
  ASSERT_EQ(a.responses.size(), 1u);
  EXPECT_EQ(a.responses[0].status, 503);
  EXPECT_EQ(HeaderOf(a.responses[0], "Retry-After"), "1");
  sink.auto_confirm = true;
  EXPECT_EQ(Call(req).status, 202);
  ASSERT_EQ(sink.published.size(), 2u);
  EXPECT_EQ(sink.published[0].event_id(), sink.published[1].event_id());
}

TEST_F(ApiTest, AHostileIdempotencyKeyIs400) {
  for (std::string key : {std::string("a\x01") + "b", std::string(129, 'k'), std::string("k k")}) {
    auto req = Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                    {{"idempotency-key", key}});
    EXPECT_EQ(Call(req).status, 400);
  }
  EXPECT_TRUE(sink.published.empty());
}

CommandOutcome Accepted(const std::string& id) {
  CommandOutcome o;
  o.state = CommandOutcome::State::kAccepted;
  pathway::v1::Envelope e;
  e.set_event_id("ev-1");
  e.set_causation_id(id);
  e.mutable_pathway_step_recorded()->set_to_state("first_appointment_attended");
  o.events.push_back(e);
  return o;
}

CommandOutcome Rejected(const std::string& id) {
  CommandOutcome o;
  o.state = CommandOutcome::State::kRejected;
  pathway::v1::Envelope e;
  e.mutable_command_rejected()->set_rejected_event_id(id);
  e.mutable_command_rejected()->set_field("nd_first_appointment_attended.attended_on");
  e.mutable_command_rejected()->set_rule("date.before_referral");
  e.mutable_command_rejected()->set_reason("the appointment is before the referral");
  o.rejection = e;
  return o;
}

TEST_F(ApiTest, PreferWaitAnswersTheOutcomeAcceptedOrRejectedOrStillPending) {
  // Accepted within the wait.
  Answers a;
  api.Handle(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"prefer", "wait=5"}}),
             Clinician(), a.Callback());
  ASSERT_TRUE(a.responses.empty());
  ASSERT_EQ(outcomes.waiters.size(), 1u);
  EXPECT_EQ(outcomes.waiters[0].deadline, kNow + std::chrono::seconds(5));
  const std::string id = sink.published.at(0).event_id();
  outcomes.Resolve(id, Accepted(id));
  ASSERT_EQ(a.responses.size(), 1u);
  EXPECT_EQ(a.responses[0].status, 200);
  EXPECT_NE(a.responses[0].body.find("\"status\":\"accepted\""), std::string::npos);
  EXPECT_NE(a.responses[0].body.find("first_appointment_attended"), std::string::npos);

  // Rejected: the engine's field and rule.
  Answers b;
  api.Handle(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"prefer", "respond-async, wait=3"}}),
             Clinician(), b.Callback());
  const std::string id2 = sink.published.at(1).event_id();
  outcomes.Resolve(id2, Rejected(id2));
  ASSERT_EQ(b.responses.size(), 1u);
  EXPECT_EQ(b.responses[0].status, 422);
  EXPECT_NE(b.responses[0].body.find("\"rule\":\"date.before_referral\""), std::string::npos);
  EXPECT_NE(b.responses[0].body.find("\"eventId\":\"" + id2 + "\""), std::string::npos);

  // Nothing in time: 202 with the Location; the wait is capped at max_wait.
  Answers c;
  api.Handle(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment(),
                  {{"prefer", "wait=999"}}),
             Clinician(), c.Callback());
  ASSERT_EQ(outcomes.waiters.size(), 1u);
  EXPECT_EQ(outcomes.waiters[0].deadline, kNow + ApiOptions{}.max_wait);
  outcomes.Expire(kNow + ApiOptions{}.max_wait);
  ASSERT_EQ(c.responses.size(), 1u);
  EXPECT_EQ(c.responses[0].status, 202);
  EXPECT_EQ(HeaderOf(c.responses[0], "Location"),
            "/v1/outcomes/" + sink.published.at(2).event_id());
}

TEST_F(ApiTest, TheOutcomeIsReadAtItsLocation) {
  HttpResponse posted =
      Call(Post("/v1/commands/nd_first_appointment_attended", FirstAppointment()));
  const std::string location = HeaderOf(posted, "Location");
  const std::string id = sink.published.at(0).event_id();
  HttpResponse pending = Call(Get(location));
  EXPECT_EQ(pending.status, 200);
  EXPECT_NE(pending.body.find("\"status\":\"pending\""), std::string::npos);
  outcomes.Resolve(id, Accepted(id));
  HttpResponse done = Call(Get(location));
  EXPECT_EQ(done.status, 200);
  EXPECT_NE(done.body.find("\"status\":\"accepted\""), std::string::npos);
  outcomes.Resolve("other", Rejected("other"));
  HttpResponse rejected = Call(Get("/v1/outcomes/other"));
  EXPECT_EQ(rejected.status, 200);
  EXPECT_NE(rejected.body.find("\"status\":\"rejected\""), std::string::npos);
  EXPECT_NE(rejected.body.find("date.before_referral"), std::string::npos);
  // A rejection from an engine without CommandRejected.violations lists its one.
  EXPECT_NE(rejected.body.find("\"violations\":[{\"field\":"
                               "\"nd_first_appointment_attended.attended_on\""),
            std::string::npos)
      << rejected.body;
  // Waiting on a GET, answered when the outcome comes.
  Answers w;
  api.Handle(Get("/v1/outcomes/later", {{"prefer", "wait=2"}}), Clinician(), w.Callback());
  EXPECT_TRUE(w.responses.empty());
  outcomes.Resolve("later", Accepted("later"));
  ASSERT_EQ(w.responses.size(), 1u);
  EXPECT_NE(w.responses[0].body.find("\"status\":\"accepted\""), std::string::npos);
}

TEST_F(ApiTest, WrongMethodsAre405WithAllow) {
  HttpRequest get = Get("/v1/commands/nd_discharged");
  HttpResponse r = Call(get);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
  HttpRequest post = Post("/v1/outcomes/x", "{}");
  r = Call(post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET");
}

}  // namespace
}  // namespace pathway::gateway
