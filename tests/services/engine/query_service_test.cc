// The engine's read endpoint over a real history: the engine runs on the in-memory bus
// with a ReadGate, and the QueryService answers from the stores the engine commits to.
#include "services/engine/query_service.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "pathway/v1/views.pb.h"
#include "services/engine/member_announcer.h"
#include "services/topics.h"
#include "tests/common/engine_harness.h"
#include "tests/common/histories.h"
#include "tests/common/http_answers.h"
#include "tests/common/served_history.h"
#include "tests/common/temp_dir.h"

namespace pathway::engine {
namespace {

using gateway::HttpRequest;
using gateway::HttpResponse;
using pathway::testing::EngineHarness;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;

const std::string kToken = "0123456789abcdef0123456789abcdef";

HttpRequest Request(std::string method, std::string path, std::string query = {},
                    std::string body = {}, std::string token = kToken) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  r.body = std::move(body);
  if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

using pathway::testing::RuleOf;

class QueryServiceTest : public ::testing::Test, protected pathway::testing::ServedHistory {
 protected:
  HttpResponse Timeline(const std::string& agency, const std::string& id,
                        const std::string& extra = {}) {
    return service.Handle(
        Request("GET", "/internal/v1/children/" + id + "/timeline", "agency=" + agency + extra));
  }

  std::atomic<bool> ready{true};
  QueryService service{QueryServiceOptions{kToken}, h.keyer(), gate, h.time(),
                       [this] { return ready.load(); }};
};

TEST_F(QueryServiceTest, EveryRequestNeedsTheServiceToken) {
  for (std::string token : {std::string(), std::string("wrong"), kToken + "x"}) {
    HttpResponse r = service.Handle(
        Request("GET", "/internal/v1/children/" + child + "/timeline", "agency=RV5", "", token));
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_EQ(RuleOf(r), "auth.service_token");
  }
  QueryService no_token{QueryServiceOptions{}, engine::SubjectKeyer::FromSecret("s"), gate,
                        h.time(), [] { return true; }};
  EXPECT_EQ(no_token
                .Handle(Request("GET", "/internal/v1/children/" + child + "/timeline", "agency=RV5",
                                "", ""))
                .status,
            401);
}

TEST_F(QueryServiceTest, TheTimelineIsTheStoredStateOfEveryPathwayWithDeadlinesAndRules) {
  HttpResponse r = Timeline("RV5", child);
  ASSERT_EQ(r.status, 200) << r.body;
  pathway::v1::ChildTimeline view;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &view).ok()) << r.body;
  EXPECT_EQ(view.child_id(), child);
  EXPECT_EQ(view.access_basis(), "involved");

  auto state = h.StoreFor(child).LoadCase(child);
  ASSERT_TRUE(state.ok() && state->has_value());
  const auto& stored = (*state)->pathways();
  ASSERT_EQ(view.pathways_size(), stored.size());
  ASSERT_GT(view.pathways_size(), 0);
  size_t deadlines = 0;
  for (int i = 0; i < stored.size(); ++i) {
    const auto& v = view.pathways(i);
    EXPECT_EQ(v.instance_id(), stored[i].instance_id());
    EXPECT_EQ(v.state(), stored[i].state());
    EXPECT_EQ(v.pathway(), stored[i].pathway());
    ASSERT_EQ(v.deadlines_size(), stored[i].deadlines_size());
    for (int d = 0; d < v.deadlines_size(); ++d) {
      EXPECT_EQ(v.deadlines(d).name(), stored[i].deadlines(d).name());
      EXPECT_EQ(v.deadlines(d).status(), stored[i].deadlines(d).status());
      EXPECT_EQ(v.deadlines(d).rule(), stored[i].deadlines(d).rule());
      EXPECT_FALSE(v.deadlines(d).rule().empty()) << v.deadlines(d).name();
      EXPECT_EQ(v.deadlines(d).due().SerializeAsString(),
                stored[i].deadlines(d).due().SerializeAsString());
      ++deadlines;
    }
    EXPECT_EQ(v.steps_size(), stored[i].steps_size());
  }
  EXPECT_GT(deadlines, 0u);
  // Newest first, kept commands shown only through what they caused, no content.
  auto history = h.StoreFor(child).History(child);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(view.history_length(), history->size());
  ASSERT_GT(view.events_size(), 1);
  for (int i = 1; i < view.events_size(); ++i) {
    EXPECT_GT(view.events(i - 1).sequence(), view.events(i).sequence());
  }
  std::set<std::string> kinds, agencies;
  for (const auto& e : view.events()) {
    kinds.insert(e.kind());
    agencies.insert(e.source_agency());
  }
  EXPECT_FALSE(kinds.count("command_recorded"));
  EXPECT_FALSE(kinds.count(""));
  EXPECT_TRUE(agencies.count("RV5")) << "events a trust's commands caused name the trust";
  EXPECT_EQ(r.body.find(nhs), std::string::npos);
  EXPECT_EQ(r.body.find(given), std::string::npos);
}

TEST_F(QueryServiceTest, TheEventsPageIsBoundedAndTheNumberChecked) {
  pathway::v1::ChildTimeline view;
  HttpResponse r = Timeline("RV5", child, "&events=2");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &view).ok());
  EXPECT_EQ(view.events_size(), 2);
  for (std::string bad : {"abc", "-1", "2x", "99999999999999999999999"}) {
    HttpResponse b = Timeline("RV5", child, "&events=" + bad);
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(RuleOf(b), "query.events");
  }
}

TEST_F(QueryServiceTest, OnlyAnAgencyInvolvedInTheChildsCareSeesTheTimeline) {
  EXPECT_EQ(Timeline("Y00001", child).status, 200) << "the referring GP";
  for (std::string other : {"RXX99", "", "rv5", "RV5%20", "RV"}) {
    HttpResponse r = Timeline(other, child);
    EXPECT_EQ(r.status, 403) << other;
    EXPECT_EQ(RuleOf(r), "timeline.not_involved");
  }
  EXPECT_EQ(Timeline("R%56%35", child).status, 200) << "percent-encoded RV5";
}

TEST_F(QueryServiceTest, UnknownMalformedAndAliasIdsAreNotFound) {
  const std::string unknown = h.SubjectOf("9434765919");
  for (std::string id : {unknown, std::string("nothex"), child.substr(1), child + "0",
                         std::string(64, 'G'), std::string("..%2F..%2Fetc")}) {
    HttpResponse r = Timeline("RV5", id);
    EXPECT_EQ(r.status, 404) << id;
    EXPECT_EQ(RuleOf(r), "child.not_found");
  }
}

TEST_F(QueryServiceTest, ASubjectIsFoundByNhsNumberWithItsPartition) {
  HttpResponse r = service.Handle(
      Request("POST", "/internal/v1/subjects", {}, "{\"nhs_number\":\"" + nhs + "\"}"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"key\":\"" + child + "\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"kind\":\"child\""), std::string::npos);
  const int32_t partition = h.broker().PartitionFor(std::string(topics::kCommands), child);
  EXPECT_NE(r.body.find("\"partition\":" + std::to_string(partition) + ","), std::string::npos)
      << "the partition the bus put the child's commands on";
  EXPECT_NE(r.body.find("\"partition_count\":4"), std::string::npos);
}

TEST_F(QueryServiceTest, ABadSearchNamesTheFieldAndTheEnginesRule) {
  struct Case {
    std::string body;
    std::string rule;
  };
  for (const Case& c :
       {Case{"{\"nhs_number\":\"6541003239\"}", "nhs_number.modulus11"},
        Case{"{\"nhs_number\":\"654 100 3238\"}", "nhs_number.format"},
        Case{"{}", "search.one_identifier"},
        Case{"{\"nhs_number\":\"6541003238\",\"upn\":\"A123456789012\"}", "search.one_identifier"},
        Case{"{\"upn\":\"not a upn\"}", ""}, Case{"{\"nhs\":\"6541003238\"}", "body.invalid_json"},
        Case{"[", "body.invalid_json"}}) {
    HttpResponse r = service.Handle(Request("POST", "/internal/v1/subjects", {}, c.body));
    EXPECT_TRUE(r.status == 422 || r.status == 400) << c.body;
    if (!c.rule.empty()) {
      EXPECT_EQ(RuleOf(r), c.rule) << c.body;
    }
    EXPECT_EQ(r.body.find("654"), std::string::npos) << "never echoed: " << r.body;
  }
}

TEST_F(QueryServiceTest, APartitionNotServedIsNotMineAndANotReadyEngineIsUnavailable) {
  ReadGate empty;
  empty.SetPartitionCount(kPartitions);
  QueryService elsewhere{QueryServiceOptions{kToken}, engine::SubjectKeyer::FromSecret("s"), empty,
                         h.time(), [] { return true; }};
  HttpResponse r = elsewhere.Handle(
      Request("GET", "/internal/v1/children/" + child + "/timeline", "agency=RV5"));
  EXPECT_EQ(r.status, 421);
  EXPECT_EQ(RuleOf(r), "engine.not_owner");

  ready = false;
  EXPECT_EQ(Timeline("RV5", child).status, 503);
  ready = true;
  ReadGate unknown_count;
  QueryService early{QueryServiceOptions{kToken}, engine::SubjectKeyer::FromSecret("s"),
                     unknown_count, h.time(), [] { return true; }};
  EXPECT_EQ(
      early.Handle(Request("GET", "/internal/v1/children/" + child + "/timeline", "agency=RV5"))
          .status,
      503);
}

// Reads run on other threads while the engine hands its partitions over and takes
// them back: each read is answered from an open store, or told "not mine".
TEST_F(QueryServiceTest, ReadsDuringARestartAreAnsweredOrToldNotMine) {
  std::atomic<bool> stop{false};
  std::set<int> statuses;
  std::thread reader([&] {
    for (int i = 0; i < 2000 && !stop.load(); ++i) statuses.insert(Timeline("RV5", child).status);
  });
  for (int i = 0; i < 3; ++i) {
    h.Restart();
    ASSERT_TRUE(h.RunUntilIdle().ok());
  }
  stop = true;
  reader.join();
  for (int s : statuses) EXPECT_TRUE(s == 200 || s == 421) << s;
  EXPECT_EQ(Timeline("RV5", child).status, 200);
}

// The shared record over the tell-it-once history: an agency sees its own facts and
// those the family consented to for the purpose, with provenance; everything else by
// type only, and why.
TEST(QueryServiceRecord, ConsentDecidesWhatEachAgencySeesWithProvenance) {
  pathway::testing::ServedHistory served("tell_it_once_three_pathways.jsonl");
  EngineHarness& h = served.h;
  QueryService service{QueryServiceOptions{kToken}, h.keyer(), served.gate, h.time(),
                       [] { return true; }};
  const std::string& child = served.child;
  auto record = [&](const std::string& agency, const std::string& purpose) {
    return service.Handle(Request("GET", "/internal/v1/children/" + child + "/record",
                                  "agency=" + agency + "&purpose=" + purpose));
  };

  HttpResponse r = record("RQM", "neurodevelopmental");
  ASSERT_EQ(r.status, 200) << r.body;
  pathway::v1::ChildRecord view;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &view).ok()) << r.body;
  EXPECT_EQ(view.agency(), "RQM");
  EXPECT_EQ(view.purpose(), "neurodevelopmental");
  std::map<pathway::v1::FactType, pathway::v1::RecordFactView> facts;
  for (const auto& f : view.facts()) facts[f.type()] = f;
  ASSERT_TRUE(facts.count(pathway::v1::FACT_TYPE_DEVELOPMENTAL_HISTORY));
  EXPECT_EQ(facts[pathway::v1::FACT_TYPE_DEVELOPMENTAL_HISTORY].basis(), "own");
  // The family's "all about me" of the last day (their views of a year before expired).
  EXPECT_FALSE(facts.count(pathway::v1::FACT_TYPE_FAMILY_VIEWS)) << "not current any more";
  ASSERT_TRUE(facts.count(pathway::v1::FACT_TYPE_ALL_ABOUT_ME));
  const auto& family = facts[pathway::v1::FACT_TYPE_ALL_ABOUT_ME];
  EXPECT_TRUE(family.disclosed());
  EXPECT_EQ(family.basis(), "consent");
  EXPECT_EQ(family.source_agency(), "209") << "provenance: who gave it";
  EXPECT_FALSE(family.content().empty());
  ASSERT_EQ(view.consents_size(), 1);
  EXPECT_EQ(view.consents(0).decision(), pathway::v1::CONSENT_DECISION_GRANTED);

  // The same agency for a purpose the family never consented to: only its own fact.
  HttpResponse other = record("RQM", "preparing_for_adulthood");
  ASSERT_EQ(other.status, 200);
  pathway::v1::ChildRecord narrow;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(other.body, &narrow).ok());
  for (const auto& f : narrow.facts()) {
    if (f.type() == pathway::v1::FACT_TYPE_DEVELOPMENTAL_HISTORY) {
      EXPECT_TRUE(f.disclosed());
    } else {
      EXPECT_FALSE(f.disclosed()) << f.type();
      EXPECT_EQ(f.basis(), "no_consent");
      EXPECT_TRUE(f.content().empty() && f.source_agency().empty())
          << "a withheld fact shows nothing";
    }
  }

  // Consent withdrawn (QKK): involved, so it may look, but sees no one else's fact.
  HttpResponse withdrawn = record("QKK", "neurodevelopmental");
  ASSERT_EQ(withdrawn.status, 200) << withdrawn.body;
  pathway::v1::ChildRecord none;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(withdrawn.body, &none).ok());
  for (const auto& f : none.facts()) EXPECT_FALSE(f.disclosed()) << f.type();
  EXPECT_EQ(withdrawn.body.find(family.content()), std::string::npos);

  EXPECT_EQ(record("RXX99", "neurodevelopmental").status, 403) << "not involved at all";
  for (std::string purpose :
       {std::string(), std::string("Neuro"), std::string("a%20b"), std::string(65, 'a')}) {
    HttpResponse bad = record("RQM", purpose);
    EXPECT_EQ(bad.status, 400) << purpose;
    EXPECT_EQ(RuleOf(bad), "query.purpose");
  }
}

TEST(ReadGate, ServingChangesTheVersionAndStopEndsReads) {
  pathway::testing::TempDir dir;
  state::StoreSet stores(dir.path(), "");
  auto store = stores.Open(3);
  ASSERT_TRUE(store.ok());
  ReadGate gate;
  const uint64_t v0 = gate.version();
  gate.Stop(3);
  EXPECT_EQ(gate.version(), v0) << "stopping what is not served changes nothing";
  gate.Serve(3, *store);
  EXPECT_GT(gate.version(), v0);
  EXPECT_EQ(gate.Serving(), std::vector<int32_t>{3});
  bool ran = false;
  EXPECT_TRUE(gate.Read(3, [&](state::CaseStore& s) { ran = &s == *store; }));
  EXPECT_TRUE(ran);
  gate.StopAll();
  EXPECT_FALSE(gate.Read(3, [&](state::CaseStore&) { ADD_FAILURE(); }));
  EXPECT_TRUE(gate.Serving().empty());
}

TEST(MemberAnnouncer, AnnouncesChangesWithIncreasingGenerationsAndLeavesWithATombstone) {
  bus::MemoryBroker broker;
  broker.CreateTopic(std::string(topics::kEngineMembers), 1);
  auto producer = bus::NewMemoryProducer(broker, [](const bus::Delivery&) {});
  MemberAnnouncer announcer(*producer, "engine-a", "http://127.0.0.1:9465",
                            std::chrono::seconds(30));
  pathway::testing::TempDir dir;
  state::StoreSet stores(dir.path(), "");
  ReadGate gate;
  gate.SetPartitionCount(8);
  for (int32_t p : {2, 5}) {
    auto store = stores.Open(p);
    ASSERT_TRUE(store.ok());
    gate.Serve(p, *store);
  }
  ASSERT_TRUE(announcer.Poll(gate, 1'000'000).ok());
  ASSERT_TRUE(announcer.Poll(gate, 1'000'500).ok());  // nothing changed
  gate.Stop(5);
  ASSERT_TRUE(announcer.Poll(gate, 999'000).ok());    // the clock stepped back
  ASSERT_TRUE(announcer.Poll(gate, 1'040'000).ok());  // 30 s passed: again
  ASSERT_TRUE(announcer.Leave(std::chrono::seconds(1)).ok());

  const auto log = broker.ReadAll(std::string(topics::kEngineMembers));
  ASSERT_EQ(log.size(), 4u);
  std::vector<pathway::store::v1::EngineMember> members(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(log[i].key, "engine-a");
    ASSERT_TRUE(members[i].ParseFromString(log[i].value));
    EXPECT_EQ(members[i].query_url(), "http://127.0.0.1:9465");
    EXPECT_EQ(members[i].partition_count(), 8);
    if (i > 0) {
      EXPECT_GT(members[i].generation(), members[i - 1].generation());
    }
  }
  EXPECT_EQ(std::vector<int32_t>(members[0].partitions().begin(), members[0].partitions().end()),
            (std::vector<int32_t>{2, 5}));
  EXPECT_EQ(std::vector<int32_t>(members[1].partitions().begin(), members[1].partitions().end()),
            (std::vector<int32_t>{2}));
  EXPECT_TRUE(log[3].tombstone);
  EXPECT_EQ(log[3].key, "engine-a");
}

}  // namespace
}  // namespace pathway::engine
