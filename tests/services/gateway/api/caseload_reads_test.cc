// GET /v1/caseload against real engine state split between two engine instances: one
// engine runs the history on the in-memory bus, and two QueryServices each serve half
// of its partitions, as two instances of a consumer group would. The gateway merges
// their pages, audits each child shown, and refuses a list that misses a partition.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pathway/v1/views.pb.h"
#include "services/engine/query_service.h"
#include "services/gateway/api/reads.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/http_answers.h"
#include "tests/services/gateway/api/api_fakes.h"
#include "workflow/clock.h"

namespace pathway::gateway {
namespace {

namespace v1 = pathway::v1;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::EngineHarness;
using testing::Answers;
using testing::FakeSink;

const std::string kToken = "fedcba9876543210fedcba9876543210";
const std::string kEngineA = "http://engine-a";
const std::string kEngineB = "http://engine-b";
constexpr int kChildren = 10;

using pathway::testing::RuleOf;

class SplitDirectory final : public EngineDirectory {
 public:
  std::map<std::string, std::vector<int32_t>> owners = {{kEngineA, {0, 1}}, {kEngineB, {2, 3}}};
  int32_t partition_count() const override { return 4; }
  std::optional<std::string> UrlFor(int32_t p) const override {
    for (const auto& [url, ps] : owners) {
      if (std::find(ps.begin(), ps.end(), p) != ps.end()) return url;
    }
    return std::nullopt;
  }
  std::optional<std::string> AnyUrl() const override { return kEngineA; }
  std::map<std::string, std::vector<int32_t>> Owners() const override { return owners; }
};

// Hands each request to the QueryService of the instance it is addressed to; an
// instance listed in `down` does not answer, one in `moved` answers 421.
class TwoEngines final : public EngineCaller {
 public:
  std::map<std::string, const engine::QueryService*> services;
  std::set<std::string> down, moved;
  std::vector<std::string> targets;

  void Call(const std::string& base_url, EngineRequest request,
            std::function<void(Result<HttpResponse>)> done) override {
    targets.push_back(request.target);
    if (down.count(base_url)) {
      return done(Error{std::make_error_code(std::errc::connection_refused), "down"});
    }
    if (moved.count(base_url)) {
      HttpResponse r;
      r.status = 421;
      return done(r);
    }
    HttpRequest r;
    r.method = request.method;
    const size_t q = request.target.find('?');
    r.path = request.target.substr(0, q);
    if (q != std::string::npos) r.query = request.target.substr(q + 1);
    r.headers.emplace_back("authorization", "Bearer " + kToken);
    done(services.at(base_url)->Handle(r));
  }
};

Principal Person(Role role, std::string agency, std::string team = {}) {
  return {"staff-7", role, std::move(agency), std::move(team), false};
}

// Child i: referred on 2026-01-05 + i weeks, accepted by RV5 for team ND-EAST (even i)
// or ND-WEST (odd i); everything sent on 2026-03-30.
class CaseloadReads : public ::testing::Test {
 protected:
  CaseloadReads() : h(Options(all)) {
    all.SetPartitionCount(4);
    h.time().Set(pathway::testing::At("2026-03-30"));
    for (int i = 0; i < kChildren; ++i) {
      const std::string nhs = pathway::testing::TestNhsNumber(100 + i);
      h.Publish(pathway::testing::NdAccepted("acc-" + std::to_string(i), "ND-" + std::to_string(i),
                                             pathway::testing::WeeksAfter("2026-01-05", i), "RV5",
                                             i % 2 == 0 ? "ND-EAST" : "ND-WEST", nhs));
      child.push_back(h.SubjectOf(nhs));
    }
    EXPECT_TRUE(h.RunUntilIdle().ok());
    // Two instances, each serving half of the engine's partitions.
    for (int32_t p = 0; p < 4; ++p) {
      all.Read(p, [&](state::CaseStore& store) { (p < 2 ? a : b).Serve(p, &store); });
    }
    a.SetPartitionCount(4);
    b.SetPartitionCount(4);
    engines.services = {{kEngineA, &service_a}, {kEngineB, &service_b}};
  }
  ~CaseloadReads() override {
    a.StopAll();
    b.StopAll();
  }
  static engine::EngineOptions Options(engine::ReadGate& gate) {
    engine::EngineOptions o;
    o.reads = &gate;
    return o;
  }
  HttpResponse Get(const std::string& query, const Principal& who) {
    HttpRequest r;
    r.method = "GET";
    r.path = "/v1/caseload";
    r.query = query;
    Answers answers;
    reads.Handle(r, who, answers.Callback());
    EXPECT_EQ(answers.responses.size(), 1u);
    return answers.responses.empty() ? HttpResponse{} : answers.responses.front();
  }
  v1::CaseloadPage Page(const std::string& query, const Principal& who) {
    HttpResponse r = Get(query, who);
    EXPECT_EQ(r.status, 200) << r.body;
    v1::CaseloadPage page;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &page).ok()) << r.body;
    return page;
  }
  int IndexOf(const std::string& id) {
    return static_cast<int>(std::find(child.begin(), child.end(), id) - child.begin());
  }

  engine::ReadGate all;  // the engine's own
  EngineHarness h;
  engine::ReadGate a, b;
  engine::QueryService service_a{engine::QueryServiceOptions{kToken}, h.keyer(), a, h.time(),
                                 [] { return true; }};
  engine::QueryService service_b{engine::QueryServiceOptions{kToken}, h.keyer(), b, h.time(),
                                 [] { return true; }};
  SplitDirectory directory;
  TwoEngines engines;
  FakeSink audit;
  SimulatedTimeSource time{pathway::testing::At("2026-03-30")};
  ReadApi reads{ReadApiOptions{}, directory, engines, audit, time};
  std::vector<std::string> child;
  const Principal clinician = Person(Role::kClinician, "RV5", "ND-EAST");
};

TEST_F(CaseloadReads, PagesMergedFromBothInstancesLongestWaitFirstEachChildAudited) {
  std::vector<v1::CaseloadEntry> seen;
  std::string cursor;
  std::set<std::string> answered_by;
  for (int pages = 0; pages < 10; ++pages) {
    const size_t audited = audit.published.size();
    v1::CaseloadPage page =
        Page("list=waiting&sort=waited&limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
             clinician);
    ASSERT_LE(page.entries_size(), 3);
    EXPECT_EQ(page.agency(), "RV5");
    EXPECT_EQ(page.list(), v1::CASELOAD_LIST_WAITING);
    // One audit record per child shown, keyed by the child.
    ASSERT_EQ(audit.published.size() - audited, static_cast<size_t>(page.entries_size()));
    for (int i = 0; i < page.entries_size(); ++i) {
      const auto& record = audit.published[audited + i];
      EXPECT_EQ(record.subject_key(), page.entries(i).child_id());
      EXPECT_EQ(record.audit_recorded().action(), v1::AUDIT_ACTION_CASELOAD_VIEW);
      EXPECT_EQ(record.audit_recorded().purpose(), "waiting_list");
      EXPECT_EQ(record.audit_recorded().agency(), "RV5");
      seen.push_back(page.entries(i));
    }
    if (page.next_cursor().empty()) break;
    cursor = page.next_cursor();
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kChildren));
  std::set<int32_t> partitions;
  for (int i = 0; i < kChildren; ++i) {
    EXPECT_EQ(IndexOf(seen[i].child_id()), i) << "longest wait first, across instances";
    EXPECT_EQ(seen[i].weeks_waited(), static_cast<uint32_t>(12 - i));
    partitions.insert(h.broker().PartitionFor("pathway.commands.v1", seen[i].child_id()));
  }
  EXPECT_TRUE(partitions.count(0) + partitions.count(1) > 0 &&
              partitions.count(2) + partitions.count(3) > 0)
      << "both instances held some of the children";
  // The caller's agency, never one from the URL.
  for (const auto& t : engines.targets) {
    EXPECT_EQ(t.find("agency=RV5&"), t.find("agency=")) << t;
  }
}

TEST_F(CaseloadReads, TheTeamScopeUsesTheSignInsTeam) {
  v1::CaseloadPage east = Page("scope=team&limit=100", clinician);
  ASSERT_EQ(east.entries_size(), kChildren / 2);
  EXPECT_EQ(east.team(), "ND-EAST");
  for (const auto& e : east.entries()) EXPECT_EQ(IndexOf(e.child_id()) % 2, 0);
  EXPECT_EQ(Page("limit=100", clinician).entries_size(), kChildren) << "the whole service";
  HttpResponse no_team = Get("scope=team", Person(Role::kCaseworker, "RV5"));
  EXPECT_EQ(no_team.status, 400);
  EXPECT_EQ(RuleOf(no_team), "query.scope");
  EXPECT_TRUE(engines.targets.size() == 4) << "a bad scope asks no engine";
}

TEST_F(CaseloadReads, AnotherAgencySeesAnEmptyListAndNothingIsAudited) {
  v1::CaseloadPage page = Page("", Person(Role::kCaseworker, "RXX99"));
  EXPECT_EQ(page.entries_size(), 0);
  EXPECT_TRUE(page.next_cursor().empty());
  EXPECT_TRUE(audit.published.empty());
}

TEST_F(CaseloadReads, AListMissingAPartitionIsNotShown) {
  directory.owners = {{kEngineA, {0, 1}}, {kEngineB, {2}}};  // nobody claims 3
  b.Stop(3);
  HttpResponse r = Get("limit=100", clinician);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.rebalancing");
  directory.owners = {{kEngineA, {0, 1}}, {kEngineB, {2, 3}}};
  engines.moved = {kEngineB};  // B handed its partitions on
  r = Get("limit=100", clinician);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.rebalancing");
  engines.moved.clear();
  engines.down = {kEngineA};
  r = Get("limit=100", clinician);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(RuleOf(r), "engine.unavailable");
  EXPECT_TRUE(audit.published.empty()) << "nothing shown, nothing audited";
}

TEST_F(CaseloadReads, NoAuditNoAnswer) {
  audit.auto_confirm = false;
  Answers answers;
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/caseload";
  reads.Handle(r, clinician, answers.Callback());
  EXPECT_TRUE(answers.responses.empty()) << "waits for every audit record";
  ASSERT_EQ(audit.pending.size(), static_cast<size_t>(kChildren));
  audit.FailAll();
  ASSERT_EQ(answers.responses.size(), 1u);
  EXPECT_EQ(answers.responses[0].status, 503);
  EXPECT_EQ(RuleOf(answers.responses[0]), "audit.unavailable");
  EXPECT_EQ(answers.responses[0].body.find(child[0]), std::string::npos);
}

TEST_F(CaseloadReads, BadParametersNameTheirFieldAndRolesThatReadNoChildAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"list=all", "query.list"},
      {"sort=name", "query.sort"},
      {"pathway=Neuro%20dev", "query.pathway"},
      {"pathway=dentistry", "query.pathway"},
      {"scope=everyone", "query.scope"},
      {"cursor=xyz", "query.cursor"},
      {"cursor=abc", "query.cursor"},
      {"limit=0", "query.limit"},
      {"limit=101", "query.limit"},
      {"pathway=", "query.pathway"},
      {"cursor", "query.cursor"},
      {"list=&sort=waited", "query.list"},
      {"limit=1e2", "query.limit"},
  };
  for (const auto& [query, rule] : cases) {
    HttpResponse r = Get(query, clinician);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(RuleOf(r), rule) << query;
  }
  for (Role role : {Role::kOperations, Role::kAuditor}) {
    HttpResponse r = Get("", Person(role, "RV5"));
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(RuleOf(r), "authorisation.role");
  }
  HttpRequest post;
  post.method = "POST";
  post.path = "/v1/caseload";
  Answers answers;
  reads.Handle(post, clinician, answers.Callback());
  ASSERT_EQ(answers.responses.size(), 1u);
  EXPECT_EQ(answers.responses[0].status, 405);
  EXPECT_TRUE(audit.published.empty());
}

}  // namespace
}  // namespace pathway::gateway
