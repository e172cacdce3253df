// The gateway's reads against a real engine's state: the engine runs a real history on
// the in-memory bus, its QueryService answers, and the EngineCaller here hands the
// gateway's requests to it (scripted failures on top). The last tests put a socket
// between them (HttpEngineCaller and the HTTP server).
#include "services/gateway/api/reads.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <string>

#include "pathway/v1/views.pb.h"
#include "services/engine/query_service.h"
#include "services/gateway/api/engine_client.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "tests/common/http_answers.h"
#include "tests/common/served_history.h"
#include "tests/services/gateway/api/api_fakes.h"
#include "tests/services/gateway/api/engine_fakes.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using pathway::testing::EngineHarness;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;
using testing::Answers;
using testing::FakeSink;
using testing::HeaderOf;

const std::string& kToken = testing::kEngineToken;
using testing::FakeDirectory;
using testing::kEngineUrl;
using testing::LocalEngines;

using pathway::testing::RuleOf;

HttpRequest Post(std::string path, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

HttpRequest Get(std::string path, std::string query = {}) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

Principal Person(Role role, std::string agency) {
  return {"staff-9", role, std::move(agency), "", false};
}

class ReadApiTest : public ::testing::Test, protected pathway::testing::ServedHistory {
 protected:
  HttpResponse Call(const HttpRequest& request, const Principal& who) {
    Answers a;
    reads.Handle(request, who, a.Callback());
    EXPECT_EQ(a.responses.size(), 1u);
    return a.responses.empty() ? HttpResponse{} : a.responses.front();
  }
  HttpResponse Search(const std::string& nhs_number, const Principal& who) {
    return Call(Post("/v1/children/search", "{\"nhsNumber\":\"" + nhs_number + "\"}"), who);
  }
  HttpResponse Timeline(const Principal& who, std::string query = {}) {
    return Call(Get("/v1/children/" + child + "/timeline", std::move(query)), who);
  }

  engine::QueryService service{engine::QueryServiceOptions{kToken}, h.keyer(), gate, h.time(),
                               [] { return true; }};
  FakeDirectory directory;
  LocalEngines engines{service};
  FakeSink audit;
  SimulatedTimeSource time{TimePoint(std::chrono::seconds(1'767'225'600))};
  ReadApi reads{ReadApiOptions{}, directory, engines, audit, time};

  const Principal trust = Person(Role::kClinician, "RV5");
  const Principal stranger = Person(Role::kCaseworker, "RXX99");
};

TEST_F(ReadApiTest, AnInvolvedClinicianFindsTheChildByNhsNumberAndTheSearchIsAudited) {
  HttpResponse r = Search(nhs, trust);
  ASSERT_EQ(r.status, 200) << r.body;
  v1::ChildFound found;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &found).ok());
  EXPECT_EQ(found.child_id(), child);
  EXPECT_EQ(found.timeline(), "/v1/children/" + child + "/timeline");
  ASSERT_EQ(audit.published.size(), 1u);
  const v1::Envelope& a = audit.published[0];
  EXPECT_EQ(a.subject_key(), child) << "keyed by child: one partition holds its whole trail";
  EXPECT_EQ(a.audit_recorded().action(), v1::AUDIT_ACTION_SEARCH);
  EXPECT_EQ(a.audit_recorded().actor_id(), "staff-9");
  EXPECT_EQ(a.audit_recorded().actor_role(), "clinician");
  EXPECT_EQ(a.audit_recorded().agency(), "RV5");
  EXPECT_FALSE(a.event_id().empty());
  EXPECT_EQ(a.SerializeAsString().find(nhs), std::string::npos) << "no NHS number in the trail";
  EXPECT_EQ(r.body.find(nhs), std::string::npos);
}

TEST_F(ReadApiTest, ASearchByAnAgencyNotInvolvedIsNotFoundButAudited) {
  HttpResponse r = Search(nhs, stranger);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(RuleOf(r), "child.not_found");
  ASSERT_EQ(audit.published.size(), 1u);
  EXPECT_EQ(audit.published[0].audit_recorded().action(), v1::AUDIT_ACTION_VIEW_REFUSED);
  EXPECT_EQ(audit.published[0].audit_recorded().agency(), "RXX99");
  // And a child nobody knows: the same answer, and nothing to audit.
  HttpResponse unknown = Search("9434765919", trust);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, r.body) << "unknown and not visible look the same";
  EXPECT_EQ(audit.published.size(), 1u);
}

TEST_F(ReadApiTest, ABadSearchNamesTheFieldAndRuleAndIsNotEchoed) {
  HttpResponse r = Search("6541003239", trust);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(RuleOf(r), "nhs_number.modulus11");
  EXPECT_EQ(r.body.find("6541003239"), std::string::npos);
  EXPECT_EQ(Call(Post("/v1/children/search", "{\"nhs_number\":"), trust).status, 400);
  EXPECT_EQ(Call(Post("/v1/children/search", "{\"name\":\"Theo\"}"), trust).status, 400);
  EXPECT_EQ(RuleOf(Call(Post("/v1/children/search", "{}"), trust)), "search.one_identifier");
  EXPECT_TRUE(audit.published.empty());
}

TEST_F(ReadApiTest, TheTimelineIsShownToAnInvolvedAgencyAndEveryReadIsAudited) {
  HttpResponse r = Timeline(trust);
  ASSERT_EQ(r.status, 200) << r.body;
  v1::ChildTimeline view;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &view).ok());
  EXPECT_EQ(view.child_id(), child);
  EXPECT_GT(view.pathways_size(), 0);
  ASSERT_EQ(audit.published.size(), 1u);
  EXPECT_EQ(audit.published[0].audit_recorded().action(), v1::AUDIT_ACTION_TIMELINE_VIEW);
  EXPECT_EQ(audit.published[0].audit_recorded().purpose(), "timeline");

  HttpResponse refused = Timeline(stranger);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(RuleOf(refused), "timeline.not_involved");
  ASSERT_EQ(audit.published.size(), 2u);
  EXPECT_EQ(audit.published[1].audit_recorded().action(), v1::AUDIT_ACTION_VIEW_REFUSED);
}

TEST_F(ReadApiTest, ASharedRecordViewIsAuditedWithItsPurposeAndTheFactsShown) {
  HttpResponse r =
      Call(Get("/v1/children/" + child + "/record", "purpose=neurodevelopmental"), trust);
  ASSERT_EQ(r.status, 200) << r.body;
  v1::ChildRecord view;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &view).ok()) << r.body;
  EXPECT_EQ(view.agency(), "RV5") << "the caller's agency, never one the URL names";
  ASSERT_EQ(audit.published.size(), 1u);
  const auto& a = audit.published[0].audit_recorded();
  EXPECT_EQ(a.action(), v1::AUDIT_ACTION_VIEW);
  EXPECT_EQ(a.purpose(), "neurodevelopmental");
  int disclosed = 0;
  for (const auto& f : view.facts()) disclosed += f.disclosed() ? 1 : 0;
  EXPECT_EQ(a.facts_size(), disclosed) << "the trail lists exactly the facts shown";

  HttpResponse refused =
      Call(Get("/v1/children/" + child + "/record", "purpose=neurodevelopmental"), stranger);
  EXPECT_EQ(refused.status, 403);
  ASSERT_EQ(audit.published.size(), 2u);
  EXPECT_EQ(audit.published[1].audit_recorded().action(), v1::AUDIT_ACTION_VIEW_REFUSED);

  const size_t asked = engines.calls.size();
  for (std::string query : {"", "purpose=", "purpose=Neuro", "purpose=a%20b", "agency=RV5"}) {
    HttpResponse bad = Call(Get("/v1/children/" + child + "/record", query), trust);
    EXPECT_EQ(bad.status, 400) << query;
    EXPECT_EQ(RuleOf(bad), "query.purpose");
  }
  EXPECT_EQ(engines.calls.size(), asked);
  EXPECT_EQ(audit.published.size(), 2u);
}

TEST_F(ReadApiTest, TheAgencyIsTheCallersNeverTheUrls) {
  HttpResponse r = Timeline(stranger, "agency=RV5&events=3");
  EXPECT_EQ(r.status, 403);
  ASSERT_FALSE(engines.calls.empty());
  EXPECT_NE(engines.calls.back().target.find("agency=RXX99"), std::string::npos);
  EXPECT_EQ(engines.calls.back().target.find("agency=RV5"), std::string::npos);
  HttpResponse odd =
      Call(Get("/v1/children/" + child + "/timeline"), Person(Role::kClinician, "R&V5=x%"));
  EXPECT_EQ(odd.status, 403) << "an agency with query syntax is one value, encoded";
}

// The whole matrix of role x read route x agency: the agency involved in the child's
// care (RV5, the trust that accepted the referral) and one that is not (RXX99). Every
// answer is checked, and no refusal of a role reaches an engine or the audit trail.
TEST_F(ReadApiTest, TheMatrixOfRoleReadRouteAndAgency) {
  const std::vector<std::pair<std::string, HttpRequest>> routes = {
      {"search", Post("/v1/children/search", "{\"nhsNumber\":\"" + nhs + "\"}")},
      {"timeline", Get("/v1/children/" + child + "/timeline")},
      {"record", Get("/v1/children/" + child + "/record", "purpose=neurodevelopmental")},
      {"caseload", Get("/v1/caseload", "limit=100")},
  };
  // What a role that reads children gets, by route, for the involved agency and not.
  const std::map<std::string, std::pair<int, int>> reading = {{"search", {200, 404}},
                                                              {"timeline", {200, 403}},
                                                              {"record", {200, 403}},
                                                              {"caseload", {200, 200}}};
  for (Role role : {Role::kPartnerSystem, Role::kClinician, Role::kCaseworker, Role::kTeamManager,
                    Role::kOperations, Role::kAuditor}) {
    const bool reads_children = role != Role::kOperations && role != Role::kAuditor;
    for (const std::string agency : {"RV5", "RXX99"}) {
      for (const auto& [name, request] : routes) {
        const size_t asked = engines.calls.size();
        const size_t audited = audit.published.size();
        HttpResponse r = Call(request, Person(role, agency));
        const std::string where = std::string(RoleName(role)) + " " + agency + " " + name;
        if (!reads_children) {
          EXPECT_EQ(r.status, 403) << where;
          EXPECT_EQ(RuleOf(r), "authorisation.role") << where;
          EXPECT_EQ(engines.calls.size(), asked) << where;
          EXPECT_EQ(audit.published.size(), audited) << where;
          continue;
        }
        const auto [involved, not_involved] = reading.at(name);
        EXPECT_EQ(r.status, agency == "RV5" ? involved : not_involved) << where << " " << r.body;
        if (name == "caseload" && agency == "RXX99") {
          EXPECT_EQ(r.body.find(child), std::string::npos) << where;
        }
        // Whatever is shown or refused about the child is in the trail: a caseload
        // page, once per child on it (this history's pathways may all have ended).
        // A search refused is answered "not found" and audited all the same.
        size_t expected = 1;
        if (name == "caseload") expected = r.body.find(child) == std::string::npos ? 0 : 1;
        EXPECT_EQ(audit.published.size(), audited + expected) << where;
      }
    }
  }
}

TEST_F(ReadApiTest, OnlyRolesThatCareForChildrenRead) {
  for (Role role :
       {Role::kClinician, Role::kCaseworker, Role::kTeamManager, Role::kPartnerSystem}) {
    EXPECT_EQ(Timeline(Person(role, "RV5")).status, 200) << RoleName(role);
    EXPECT_EQ(Call(Get("/v1/caseload"), Person(role, "RV5")).status, 200) << RoleName(role);
  }
  const size_t audited = audit.published.size();
  const size_t asked = engines.calls.size();
  for (Role role : {Role::kOperations, Role::kAuditor}) {
    HttpResponse t = Timeline(Person(role, "RV5"));
    EXPECT_EQ(t.status, 403) << RoleName(role);
    EXPECT_EQ(RuleOf(t), "authorisation.role");
    EXPECT_EQ(Search(nhs, Person(role, "RV5")).status, 403) << RoleName(role);
    EXPECT_EQ(Call(Get("/v1/caseload"), Person(role, "RV5")).status, 403) << RoleName(role);
  }
  EXPECT_EQ(audit.published.size(), audited);
  EXPECT_EQ(engines.calls.size(), asked) << "a refused role never reaches an engine";
}

TEST_F(ReadApiTest, NoAuditNoAnswer) {
  audit.auto_confirm = false;
  Answers a;
  reads.Handle(Get("/v1/children/" + child + "/timeline"), trust, a.Callback());
  EXPECT_TRUE(a.responses.empty()) << "nothing is shown before the audit record is confirmed";
  audit.FailAll();
  ASSERT_EQ(a.responses.size(), 1u);
  EXPECT_EQ(a.responses[0].status, 503);
  EXPECT_EQ(RuleOf(a.responses[0]), "audit.unavailable");
  EXPECT_EQ(a.responses[0].body.find("pathways"), std::string::npos);
}

TEST_F(ReadApiTest, NotMineIsRetriedAndThenAnsweredAsRebalancing) {
  auto not_mine = [](const EngineRequest&) -> std::optional<Result<HttpResponse>> {
    HttpResponse r;
    r.status = 421;
    return Result<HttpResponse>(r);
  };
  engines.script = {not_mine};
  EXPECT_EQ(Timeline(trust).status, 200) << "the second ask found the owner";
  EXPECT_EQ(engines.calls.size(), 2u);

  engines.calls.clear();
  engines.script = {not_mine, not_mine, not_mine, not_mine};
  HttpResponse r = Timeline(trust);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.rebalancing");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
  EXPECT_EQ(engines.calls.size(), 3u) << "bounded: ReadApiOptions::max_attempts";
}

TEST_F(ReadApiTest, NoOwnerOrNoEngineIsUnavailableNeverAnError) {
  directory.known = false;
  EXPECT_EQ(RuleOf(Timeline(trust)), "engine.rebalancing");
  EXPECT_EQ(RuleOf(Search(nhs, trust)), "engine.unavailable");
  directory.known = true;
  directory.count = 0;
  EXPECT_EQ(Timeline(trust).status, 503);
  directory.count = 4;
  engines.script = {[](const EngineRequest&) -> std::optional<Result<HttpResponse>> {
    return Result<HttpResponse>(Error{std::make_error_code(std::errc::connection_refused), "gone"});
  }};
  HttpResponse r = Timeline(trust);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.unavailable");
  EXPECT_EQ(r.body.find("127.0.0.1"), std::string::npos) << "no internal address leaks";
  EXPECT_TRUE(audit.published.empty());
}

TEST_F(ReadApiTest, MalformedIdsAndQueriesAreAnsweredWithoutAskingAnEngine) {
  for (std::string id :
       {std::string("abc"), child + "a", std::string(64, 'F'), std::string("..")}) {
    EXPECT_EQ(Call(Get("/v1/children/" + id + "/timeline"), trust).status, 404) << id;
  }
  HttpResponse bad = Timeline(trust, "events=lots");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(RuleOf(bad), "query.events");
  EXPECT_EQ(Timeline(trust, "events=99999").status, 400);
  EXPECT_EQ(Call(Post("/v1/children/" + child + "/timeline", "{}"), trust).status, 405);
  EXPECT_EQ(Call(Get("/v1/children/search"), trust).status, 405);
  EXPECT_EQ(Call(Get("/v1/children/" + child), trust).status, 404);
  EXPECT_TRUE(engines.calls.empty());
}

TEST_F(ReadApiTest, AUpnFindsTheChildItIsLinkedTo) {
  const std::string alias(64, 'a');
  engines.script = {[&](const EngineRequest& r) -> std::optional<Result<HttpResponse>> {
                      EXPECT_EQ(r.target, "/internal/v1/subjects");
                      EXPECT_NE(r.body.find("A123456789012"), std::string::npos);
                      HttpResponse out;
                      out.body = "{\"key\":\"" + alias +
                                 "\",\"kind\":\"alias\",\"partition\":1,"
                                 "\"partition_count\":4}";
                      return Result<HttpResponse>(out);
                    },
                    [&](const EngineRequest& r) -> std::optional<Result<HttpResponse>> {
                      EXPECT_EQ(r.target, "/internal/v1/aliases/" + alias);
                      HttpResponse out;
                      out.body = "{\"child_id\":\"" + child + "\"}";
                      return Result<HttpResponse>(out);
                    }};
  HttpResponse r = Call(Post("/v1/children/search", "{\"upn\":\"A123456789012\"}"), trust);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(child), std::string::npos);
  EXPECT_EQ(engines.calls.size(), 3u) << "subjects, the alias's owner, the child's owner";
}

TEST(MembersDirectory, TheNewestClaimOfAPartitionWinsAndATombstoneRemovesAnInstance) {
  MembersDirectory d;
  EXPECT_EQ(d.partition_count(), 0);
  EXPECT_EQ(d.AnyUrl(), std::nullopt);
  pathway::store::v1::EngineMember a;
  a.set_instance("a");
  a.set_query_url("http://a:1");
  a.set_partition_count(8);
  a.set_generation(100);
  for (int p : {0, 1, 2}) a.add_partitions(p);
  pathway::store::v1::EngineMember b = a;
  b.set_instance("b");
  b.set_query_url("http://b:1");
  b.set_generation(200);
  b.clear_partitions();
  b.add_partitions(2);  // taken over from a, whose stale record still claims it
  d.Apply("a", a);
  d.Apply("b", b);
  EXPECT_EQ(d.partition_count(), 8);
  EXPECT_EQ(d.UrlFor(0), "http://a:1");
  EXPECT_EQ(d.UrlFor(2), "http://b:1");
  EXPECT_EQ(d.UrlFor(3), std::nullopt);
  std::set<std::string> any = {*d.AnyUrl(), *d.AnyUrl()};
  EXPECT_EQ(any.size(), 2u) << "subject lookups are spread";
  d.Apply("b", std::nullopt);
  EXPECT_EQ(d.UrlFor(2), "http://a:1");
  d.Apply("a", std::nullopt);
  EXPECT_EQ(d.UrlFor(0), std::nullopt);
}

// Over a socket: the engine's query endpoint on the gateway's HTTP server library, and
// the gateway's client.
TEST_F(ReadApiTest, TheHttpClientAsksTheEnginesEndpoint) {
  auto server = HttpServer::Start(HttpServerOptions{}, [this](HttpRequest r, Responder responder) {
    responder.Send(service.Handle(r));
  });
  ASSERT_TRUE(server.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());
  std::promise<Result<HttpResponse>> answer;
  {
    HttpEngineCaller caller(EngineCallerOptions{kToken});
    caller.Call(url,
                EngineRequest{"GET", "/internal/v1/children/" + child + "/timeline?agency=RV5", {}},
                [&](Result<HttpResponse> r) { answer.set_value(std::move(r)); });
    auto got = answer.get_future().get();
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_EQ(got->status, 200);
    EXPECT_NE(got->body.find(child), std::string::npos);

    std::promise<Result<HttpResponse>> wrong;
    HttpEngineCaller bad_token(EngineCallerOptions{"x"});
    bad_token.Call(url, EngineRequest{"POST", "/internal/v1/subjects", "{}"},
                   [&](Result<HttpResponse> r) { wrong.set_value(std::move(r)); });
    auto refused = wrong.get_future().get();
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->status, 401);

    for (std::string bad_url : {std::string("https://x:1"), std::string("http://x"),
                                std::string("http://[::1"), std::string("http://h:99999")}) {
      std::promise<Result<HttpResponse>> p;
      caller.Call(bad_url, EngineRequest{"GET", "/", {}},
                  [&](Result<HttpResponse> r) { p.set_value(std::move(r)); });
      EXPECT_FALSE(p.get_future().get().ok()) << bad_url;
    }
  }
  const uint16_t port = (*server)->port();
  (*server)->Shutdown(std::chrono::milliseconds(100));
  server->reset();
  std::promise<Result<HttpResponse>> gone;
  HttpEngineCaller caller(EngineCallerOptions{kToken});
  caller.Call("http://127.0.0.1:" + std::to_string(port), EngineRequest{"GET", "/", {}},
              [&](Result<HttpResponse> r) { gone.set_value(std::move(r)); });
  EXPECT_FALSE(gone.get_future().get().ok()) << "a closed port is an error, not a hang";
}

// Connections are kept alive and reused; one the engine closed meanwhile (here: the
// engine restarted on the same port) is replaced without the caller seeing an error.
TEST_F(ReadApiTest, TheHttpClientReusesConnectionsAndReplacesAClosedOne) {
  auto handler = [this](HttpRequest r, Responder responder) { responder.Send(service.Handle(r)); };
  auto server = HttpServer::Start(HttpServerOptions{}, handler);
  ASSERT_TRUE(server.ok());
  const uint16_t port = (*server)->port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  HttpEngineCaller caller(EngineCallerOptions{kToken});
  auto ask = [&] {
    std::promise<Result<HttpResponse>> p;
    caller.Call(url,
                EngineRequest{"GET", "/internal/v1/children/" + child + "/timeline?agency=RV5", {}},
                [&](Result<HttpResponse> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  for (int i = 0; i < 5; ++i) {
    auto r = ask();
    ASSERT_TRUE(r.ok()) << i << " " << r.error().ToString();
    EXPECT_EQ(r->status, 200);
  }
  (*server)->Shutdown(std::chrono::milliseconds(100));
  server->reset();
  HttpServerOptions same_port;
  same_port.port = port;
  auto again = HttpServer::Start(same_port, handler);
  ASSERT_TRUE(again.ok()) << "the port could not be bound again";
  auto r = ask();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace pathway::gateway
