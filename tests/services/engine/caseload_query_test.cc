// Caseloads and waiting lists from the engine's query endpoint: commands go through the
// engine over the in-memory bus (late, batched and out of order), and pages are read
// back through QueryService from the index the engine's stores keep.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "pathway/v1/views.pb.h"
#include "services/engine/query_service.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/http_answers.h"
#include "workflow/clock.h"

namespace pathway::engine {
namespace {

namespace v1 = pathway::v1;
using gateway::HttpRequest;
using gateway::HttpResponse;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::EngineHarness;

const std::string kToken = "0123456789abcdef0123456789abcdef";
constexpr int kChildren = 12;

using pathway::testing::RuleOf;

using pathway::testing::HeaderOf;

// Child i was referred on 2026-01-05 + i weeks and accepted by RV5's team ND-EAST (even
// i) or ND-WEST (odd i); all of it is sent on 2026-03-30, newest first. Child 11 is
// then assessed at high risk, which sets a monthly contact deadline well before its
// first appointment's.
class CaseloadQuery : public ::testing::Test {
 protected:
  CaseloadQuery() : h(Options(gate)) {
    gate.SetPartitionCount(4);
    h.time().Set(pathway::testing::At("2026-03-30"));
    for (int i = 0; i < kChildren; ++i) nhs.push_back(pathway::testing::TestNhsNumber(i));
    for (int i = kChildren - 1; i >= 0; --i) {
      h.Publish(pathway::testing::NdAccepted("acc-" + std::to_string(i), "ND-" + std::to_string(i),
                                             Date(i), "RV5", i % 2 == 0 ? "ND-EAST" : "ND-WEST",
                                             nhs[i]));
    }
    h.Publish(Command(
        "risk-11", "2026-03-30",
        [&](v1::Envelope& e) {
          e.mutable_source()->set_agency("RV5");
          auto* c = e.mutable_nd_risk_assessed();
          c->set_referral_id("ND-11");
          c->set_risk(v1::RISK_LEVEL_HIGH);
          *c->mutable_assessed_on() = Day("2026-03-30");
        },
        nhs[11]));
    EXPECT_TRUE(h.RunUntilIdle().ok());
    for (const auto& n : nhs) child.push_back(h.SubjectOf(n));
  }
  static EngineOptions Options(ReadGate& g) {
    EngineOptions o;
    o.reads = &g;
    return o;
  }
  static std::string Date(int i) { return pathway::testing::WeeksAfter("2026-01-05", i); }
  HttpResponse Get(const std::string& query) {
    HttpRequest r;
    r.method = "GET";
    r.path = "/internal/v1/caseload";
    r.query = query;
    r.headers.emplace_back("authorization", "Bearer " + kToken);
    return current->Handle(r);
  }
  v1::CaseloadPage Page(const std::string& query) {
    HttpResponse r = Get(query);
    EXPECT_EQ(r.status, 200) << r.body;
    v1::CaseloadPage page;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &page).ok()) << r.body;
    return page;
  }
  // Every entry of the list, page by page (`limit` a page), checking each page's size.
  std::vector<v1::CaseloadEntry> All(const std::string& query, int limit) {
    std::vector<v1::CaseloadEntry> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      v1::CaseloadPage page = Page(query + "&limit=" + std::to_string(limit) +
                                   (cursor.empty() ? "" : "&after=" + cursor));
      EXPECT_LE(page.entries_size(), limit);
      for (const auto& e : page.entries()) out.push_back(e);
      if (page.next_cursor().empty()) return out;
      EXPECT_EQ(page.entries_size(), limit) << "only the last page is short";
      cursor = page.next_cursor();
    }
    ADD_FAILURE() << "more than 100 pages";
    return out;
  }
  int IndexOf(const std::string& child_id) {
    return static_cast<int>(std::find(child.begin(), child.end(), child_id) - child.begin());
  }

  ReadGate gate;
  EngineHarness h;
  QueryService service{QueryServiceOptions{kToken}, h.keyer(), gate, h.time(), [] { return true; }};
  const QueryService* current = &service;  // the engine instance read from
  std::vector<std::string> nhs, child;
};

TEST_F(CaseloadQuery, TheWaitingListLongestWaitFirstPagedAcrossEveryPartition) {
  const auto all = All("agency=RV5&list=waiting&sort=waited", 5);
  ASSERT_EQ(all.size(), static_cast<size_t>(kChildren));
  std::set<int> partitions;
  for (int i = 0; i < kChildren; ++i) {
    EXPECT_EQ(IndexOf(all[i].child_id()), i) << "the longest wait first";
    EXPECT_EQ(all[i].reference(), "ND-" + std::to_string(i));
    EXPECT_EQ(all[i].state(), "waiting");
    EXPECT_TRUE(all[i].waiting());
    // From the referral's date to the engine's day, not from when the message came.
    EXPECT_EQ(all[i].weeks_waited(), static_cast<uint32_t>(12 - i));
    partitions.insert(h.broker().PartitionFor("pathway.commands.v1", all[i].child_id()));
  }
  EXPECT_GT(partitions.size(), 1u) << "the children are spread over partitions";
  EXPECT_EQ(all[11].risk(), "high");
  EXPECT_EQ(HeaderOf(Get("agency=RV5"), "Pathway-Partitions"), "0,1,2,3");
}

TEST_F(CaseloadQuery, TheCaseloadByNextDeadlineWithItsRule) {
  const auto all = All("agency=RV5&sort=next_deadline", 4);
  ASSERT_EQ(all.size(), static_cast<size_t>(kChildren));
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(
        std::make_tuple(all[i - 1].next_deadline().due().year(),
                        all[i - 1].next_deadline().due().month(),
                        all[i - 1].next_deadline().due().day()),
        std::make_tuple(all[i].next_deadline().due().year(), all[i].next_deadline().due().month(),
                        all[i].next_deadline().due().day()));
  }
  // Child 11's monthly contact (due about 2026-04-27) comes before the first
  // appointments of children 4 to 10 (2026-05-04 on).
  EXPECT_EQ(IndexOf(all[0].child_id()), 0);
  int at = 0;
  for (int i = 0; i < kChildren; ++i) {
    if (IndexOf(all[i].child_id()) == 11) at = i;
  }
  EXPECT_LT(at, 11);
  EXPECT_EQ(all[at].next_deadline().status(), v1::DEADLINE_STATUS_PENDING);
  EXPECT_NE(all[at].next_deadline().name(), "first_appointment");
  EXPECT_EQ(all[0].next_deadline().name(), "first_appointment");
  EXPECT_NE(all[0].next_deadline().rule().find("NICE"), std::string::npos);
}

TEST_F(CaseloadQuery, ATeamSeesItsOwnAndAnotherAgencyNone) {
  const auto east = All("agency=RV5&team=ND-EAST&list=waiting", 50);
  ASSERT_EQ(east.size(), static_cast<size_t>(kChildren / 2));
  for (const auto& e : east) EXPECT_EQ(IndexOf(e.child_id()) % 2, 0);
  v1::CaseloadPage other = Page("agency=RXX99");
  EXPECT_EQ(other.entries_size(), 0);
  EXPECT_TRUE(other.next_cursor().empty());
  EXPECT_EQ(Page("agency=RV5&pathway=neurodevelopmental&limit=100").entries_size(), kChildren);
  EXPECT_EQ(Page("agency=RV5&pathway=ehc_needs_assessment").entries_size(), 0);
}

TEST_F(CaseloadQuery, ADischargedChildLeavesTheListAtOnce) {
  h.Publish(Command(
      "dis-0", "2026-03-30",
      [&](v1::Envelope& e) {
        e.mutable_source()->set_agency("RV5");
        auto* c = e.mutable_nd_discharged();
        c->set_referral_id("ND-0");
        *c->mutable_discharged_on() = Day("2026-03-30");
        c->set_reason("moved out of area");
      },
      nhs[0]));
  ASSERT_TRUE(h.RunUntilIdle().ok());
  const auto all = All("agency=RV5&list=waiting&sort=waited", 100);
  ASSERT_EQ(all.size(), static_cast<size_t>(kChildren - 1));
  EXPECT_EQ(IndexOf(all[0].child_id()), 1);
}

TEST_F(CaseloadQuery, APartitionNotServedIsLeftOutAndNamedSo) {
  const int32_t gone = h.broker().PartitionFor("pathway.commands.v1", child[0]);
  gate.Stop(gone);
  HttpResponse r = Get("agency=RV5&limit=100");
  ASSERT_EQ(r.status, 200);
  std::string expected;
  for (int32_t p = 0; p < 4; ++p) {
    if (p != gone) expected += (expected.empty() ? "" : ",") + std::to_string(p);
  }
  EXPECT_EQ(HeaderOf(r, "Pathway-Partitions"), expected);
  EXPECT_EQ(r.body.find(child[0]), std::string::npos);
}

TEST_F(CaseloadQuery, BadParametersNameTheirField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"agency=RV5&list=everyone", "query.list"},
      {"agency=RV5&sort=name", "query.sort"},
      {"agency=RV5&pathway=dentistry", "query.pathway"},
      {"agency=RV5&limit=0", "query.limit"},
      {"agency=RV5&limit=101", "query.limit"},
      {"agency=RV5&limit=ten", "query.limit"},
      {"agency=RV5&after=zz", "query.after"},
      {"agency=RV5&after=" + std::string(2000, 'a'), "query.after"},
      {"agency=", "query.agency"},
      {"agency=" + std::string(65, 'A'), "query.agency"},
      {"agency=RV5%00X", "query.agency"},
  };
  for (const auto& [query, rule] : cases) {
    HttpResponse r = Get(query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(RuleOf(r), rule) << query;
  }
}

TEST_F(CaseloadQuery, AnEngineRestartedOrANewOwnerRestoredFromTheChangelogAnswersTheSame) {
  const auto before = All("agency=RV5&list=waiting&sort=waited", 100);
  ASSERT_EQ(before.size(), static_cast<size_t>(kChildren));
  auto same = [&](const char* what) {
    const auto after = All("agency=RV5&list=waiting&sort=waited", 100);
    ASSERT_EQ(after.size(), before.size()) << what;
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString()) << what;
    }
  };
  h.Restart();
  ASSERT_TRUE(h.RunUntilIdle().ok());
  same("restarted on its own data");

  // A new owner on an empty data directory: its stores are restored from the changelog,
  // which carries no index; the entries are derived from the restored states.
  h.Stop();
  ReadGate other_gate;
  other_gate.SetPartitionCount(4);
  EngineHarness other(h.broker(), "", Options(other_gate));
  other.time().Set(pathway::testing::At("2026-03-30"));
  ASSERT_TRUE(other.RunUntilIdle().ok());
  QueryService other_service{QueryServiceOptions{kToken}, other.keyer(), other_gate, other.time(),
                             [] { return true; }};
  current = &other_service;
  same("restored by a new owner");
  current = &service;
}

}  // namespace
}  // namespace pathway::engine
