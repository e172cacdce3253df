// Caseloads and waiting lists: which services' lists a child's running pathways are on,
// in what order, and what an entry says. Histories run through the Simulator, so the
// services come from the commands' senders as the engine records them.
#include "workflow/caseload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "tests/common/commands.h"
#include "tests/common/pathway_fixture.h"

namespace pathway::workflow {
namespace {

namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathway::testing::Command;
using pathway::testing::Day;

constexpr const char* kReferral = "RV5-ND-26-0007";

CaseloadScope Scope(v1::CaseloadList list, std::string agency, std::string team,
                    v1::CaseloadSort sort,
                    v1::PathwayKind kind = v1::PATHWAY_KIND_NEURODEVELOPMENTAL) {
  CaseloadScope s;
  s.list = list;
  s.agency = std::move(agency);
  s.team = std::move(team);
  s.pathway = kind;
  s.sort = sort;
  return s;
}

// The entries of `entries` on `scope`'s list, by the rest of their key.
std::map<std::string, v1::CaseloadEntry> On(
    const std::vector<std::pair<std::string, std::string>>& entries, const CaseloadScope& scope) {
  std::map<std::string, v1::CaseloadEntry> out;
  const std::string prefix = *CaseloadPrefix(scope);
  for (const auto& [key, value] : entries) {
    if (!key.starts_with(prefix)) continue;
    v1::CaseloadEntry e;
    EXPECT_TRUE(e.ParseFromString(value));
    out.emplace(key.substr(prefix.size()), e);
  }
  return out;
}

class Caseload : public pathway::testing::PathwayFixture {
 protected:
  Caseload()
      : PathwayFixture(v1::PATHWAY_KIND_NEURODEVELOPMENTAL, "no neurodevelopmental instance",
                       kReferral) {}

  // A step sent by `agency` on behalf of `team` (empty: no team).
  void Send(v1::Envelope e, const std::string& agency, const std::string& team) {
    e.mutable_source()->set_agency(agency);
    e.mutable_actor()->set_team(team);
    Run(e);
  }
  void Accept(const std::string& date, const std::string& agency, const std::string& team) {
    Run(pathway::testing::NdAccepted("acc", kReferral, date, agency, team));
  }
  static std::string Key() {
    return pathway::testing::SubjectKey(pathway::testing::kValidNhsNumber);
  }
  std::vector<std::pair<std::string, std::string>> Index() {
    return CaseloadIndex(Key(), Child().state);
  }
};

TEST_F(Caseload, ThePathwayIsOnTheCaseloadAndWaitingListOfTheServiceAndTeamThatRecordedIt) {
  Accept("2026-01-05", "RV5", "ND-EAST");
  const auto& steps = Instance().steps();
  ASSERT_FALSE(steps.empty());
  ASSERT_EQ(Instance().services_size(), 1);
  EXPECT_EQ(Instance().services(0).agency(), "RV5");
  EXPECT_EQ(Instance().services(0).team(), "ND-EAST");

  const auto entries = Index();
  for (auto list : {v1::CASELOAD_LIST_CASELOAD, v1::CASELOAD_LIST_WAITING}) {
    for (auto sort : {v1::CASELOAD_SORT_NEXT_DEADLINE, v1::CASELOAD_SORT_WAITED}) {
      for (std::string team : {"", "ND-EAST"}) {
        auto on = On(entries, Scope(list, "RV5", team, sort));
        ASSERT_EQ(on.size(), 1u) << list << " " << sort << " " << team;
        const v1::CaseloadEntry& e = on.begin()->second;
        EXPECT_EQ(e.child_id(), Key());
        EXPECT_EQ(e.instance_id(), Instance().instance_id());
        EXPECT_EQ(e.state(), "waiting");
        EXPECT_EQ(e.reference(), kReferral);
        EXPECT_EQ(e.started_on().year(), 2026);
        EXPECT_TRUE(e.waiting());
        EXPECT_EQ(e.next_deadline().name(), "first_appointment");
        EXPECT_EQ(e.next_deadline().due().day(), Deadline("first_appointment").due().day());
        EXPECT_NE(e.next_deadline().rule().find("NICE"), std::string::npos);
        EXPECT_EQ(e.weeks_waited(), 0u) << "counted at the read, never stored";
      }
    }
  }
  // 2 lists x 2 sorts x (service, team): nothing for anyone else.
  EXPECT_EQ(entries.size(), 8u);
  EXPECT_TRUE(
      On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, "RXX", "", v1::CASELOAD_SORT_NEXT_DEADLINE))
          .empty());
  EXPECT_TRUE(On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, "RV5", "ND-WEST",
                                v1::CASELOAD_SORT_NEXT_DEADLINE))
                  .empty());
}

TEST_F(Caseload, AnotherServiceThatRecordsAStepJoinsAndTheRiskAndBreachesShow) {
  Accept("2026-01-05", "RV5", "");
  Send(Command("risk", "2026-01-12",
               [&](v1::Envelope& e) {
                 auto* c = e.mutable_nd_risk_assessed();
                 c->set_referral_id(kReferral);
                 c->set_risk(v1::RISK_LEVEL_HIGH);
                 *c->mutable_assessed_on() = Day("2026-01-12");
               }),
       "RXX", "");
  AdvanceTo("2026-06-01");  // 13 weeks passed with no first appointment
  ASSERT_EQ(Deadline("first_appointment").status(), v1::DEADLINE_STATUS_BREACHED);
  const auto entries = Index();
  for (std::string agency : {"RV5", "RXX"}) {
    auto on = On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, agency, "", v1::CASELOAD_SORT_WAITED));
    ASSERT_EQ(on.size(), 1u) << agency;
    EXPECT_EQ(on.begin()->second.risk(), "high");
    EXPECT_GE(on.begin()->second.breaches(), 1u);
    // Overdue deadlines stay the next ones until met: the earliest due comes first.
    const auto& next = on.begin()->second.next_deadline();
    EXPECT_EQ(next.status(), v1::DEADLINE_STATUS_BREACHED);
    for (const auto& d : Instance().deadlines()) {
      if (d.status() == v1::DEADLINE_STATUS_BREACHED && !d.has_met_on()) {
        EXPECT_LE(std::chrono::sys_days{StoredDate(next.due())},
                  std::chrono::sys_days{StoredDate(d.due())})
            << d.name();
      }
    }
  }
  // No team was named: only the services' own lists.
  EXPECT_EQ(entries.size(), 8u);
}

TEST_F(Caseload, AnEndedPathwayLeavesEveryList) {
  Accept("2026-01-05", "RV5", "ND-EAST");
  Send(Command("dis", "2026-02-02",
               [&](v1::Envelope& e) {
                 auto* c = e.mutable_nd_discharged();
                 c->set_referral_id(kReferral);
                 *c->mutable_discharged_on() = Day("2026-02-02");
                 c->set_reason("moved out of area");
               }),
       "RV5", "ND-EAST");
  ASSERT_TRUE(Find(kReferral));
  ASSERT_EQ(Instance().state(), "discharged") << LastRejectionRule();
  EXPECT_TRUE(Index().empty());
}

TEST_F(Caseload, TheReferrerIsNotAServiceButWhoeverScreensIs) {
  Run(Command("ref", "2026-01-05", [](v1::Envelope& e) {
    e.mutable_source()->set_agency("Y00001");  // a GP practice
    auto* r = e.mutable_referral_submitted();
    r->set_referral_id("REF-1");
    auto* c = r->mutable_child();
    c->set_nhs_number(pathway::testing::kValidNhsNumber);
    c->set_given_name("Test");
    c->set_family_name("Child");
    *c->mutable_date_of_birth() = Day("2018-04-01");
    r->mutable_referrer()->set_agency("Y00001");
    r->set_reason(v1::REFERRAL_REASON_ATTENTION);
    *r->mutable_received_on() = Day("2026-01-05");
  }));
  ASSERT_EQ(Child().state.pathways_size(), 1) << LastRejectionRule();
  EXPECT_EQ(Child().state.pathways(0).services_size(), 0);
  EXPECT_TRUE(Index().empty()) << "a referral is on no caseload until a service screens it";
  Send(Command("scr", "2026-01-07",
               [](v1::Envelope& e) {
                 auto* s = e.mutable_referral_screened();
                 s->set_referral_id("REF-1");
                 *s->mutable_screened_on() = Day("2026-01-07");
               }),
       "LA-SPA", "");
  ASSERT_EQ(Child().state.pathways(0).services_size(), 1) << LastRejectionRule();
  auto on = On(Index(), Scope(v1::CASELOAD_LIST_WAITING, "LA-SPA", "", v1::CASELOAD_SORT_WAITED,
                              v1::PATHWAY_KIND_REFERRAL_INTAKE));
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on.begin()->second.state(), "screened");
  EXPECT_TRUE(On(Index(), Scope(v1::CASELOAD_LIST_CASELOAD, "Y00001", "", v1::CASELOAD_SORT_WAITED,
                                v1::PATHWAY_KIND_REFERRAL_INTAKE))
                  .empty());
}

TEST(CaseloadIndex, EntriesSortByTheNextDeadlineOrTheLongestWaitAndNoDeadlineLast) {
  store::CaseState state;
  auto add = [&](const std::string& id, const std::string& started, const std::string& due) {
    store::PathwayInstance* p = state.add_pathways();
    p->set_instance_id(id);
    p->set_pathway(v1::PATHWAY_KIND_NEURODEVELOPMENTAL);
    p->set_version(1);
    p->set_state("waiting");
    *p->mutable_started_on() = Day(started);
    auto* s = p->add_services();
    s->set_agency("RV5");
    if (!due.empty()) {
      auto* d = p->add_deadlines();
      d->set_name("first_appointment");
      d->set_status(v1::DEADLINE_STATUS_PENDING);
      *d->mutable_due() = Day(due);
    }
  };
  add("a", "2026-01-05", "2026-04-06");
  add("b", "2025-11-03", "");
  add("c", "2026-02-02", "2026-03-02");
  // Overdue (breached, not met): sorts before every pending one. Met late: not open.
  add("d", "2026-03-02", "2026-01-05");
  state.mutable_pathways(3)->mutable_deadlines(0)->set_status(v1::DEADLINE_STATUS_BREACHED);
  add("e", "2026-03-09", "2025-12-01");
  state.mutable_pathways(4)->mutable_deadlines(0)->set_status(v1::DEADLINE_STATUS_BREACHED);
  *state.mutable_pathways(4)->mutable_deadlines(0)->mutable_met_on() = Day("2026-01-10");
  const auto entries = CaseloadIndex(std::string(64, 'f'), state);
  auto order = [&](v1::CaseloadSort sort) {
    std::string ids;
    for (const auto& [rest, e] : On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, "RV5", "", sort))) {
      ids += e.instance_id();
    }
    return ids;
  };
  EXPECT_EQ(order(v1::CASELOAD_SORT_NEXT_DEADLINE), "dcabe");
  EXPECT_EQ(order(v1::CASELOAD_SORT_WAITED), "bacde");
  // A reader holding only the entries finds their places (the cursor) again.
  for (auto sort : {v1::CASELOAD_SORT_NEXT_DEADLINE, v1::CASELOAD_SORT_WAITED}) {
    for (const auto& [rest, e] : On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, "RV5", "", sort))) {
      EXPECT_EQ(CaseloadPlace(e, sort), rest);
    }
  }

  state.set_erased(true);
  EXPECT_TRUE(CaseloadIndex(std::string(64, 'f'), state).empty());
}

TEST(CaseloadIndex, NotWaitingIsOnTheCaseloadOnly) {
  store::CaseState state;
  store::PathwayInstance* p = state.add_pathways();
  p->set_instance_id("nd");
  p->set_pathway(v1::PATHWAY_KIND_NEURODEVELOPMENTAL);
  p->set_version(1);
  p->set_state("diagnosed");  // running, no longer a wait
  p->add_services()->set_agency("RV5");
  const auto entries = CaseloadIndex(std::string(64, 'f'), state);
  EXPECT_EQ(entries.size(), 2u);
  EXPECT_EQ(
      On(entries, Scope(v1::CASELOAD_LIST_WAITING, "RV5", "", v1::CASELOAD_SORT_WAITED)).size(),
      0u);
  auto on = On(entries, Scope(v1::CASELOAD_LIST_CASELOAD, "RV5", "", v1::CASELOAD_SORT_WAITED));
  ASSERT_EQ(on.size(), 1u);
  EXPECT_FALSE(on.begin()->second.waiting());
}

TEST(CaseloadPrefix, RefusesWhatNoEntryCanHave) {
  auto ok = Scope(v1::CASELOAD_LIST_CASELOAD, "RV5", "", v1::CASELOAD_SORT_WAITED);
  EXPECT_TRUE(CaseloadPrefix(ok));
  auto bad = ok;
  bad.agency = "";
  EXPECT_FALSE(CaseloadPrefix(bad));
  bad = ok;
  bad.agency = std::string(
      "RV\0"
      "5",
      4);
  EXPECT_FALSE(CaseloadPrefix(bad));
  bad = ok;
  bad.team = std::string(kMaxServiceCode + 1, 'T');
  EXPECT_FALSE(CaseloadPrefix(bad));
  bad = ok;
  bad.pathway = v1::PATHWAY_KIND_UNSPECIFIED;
  EXPECT_FALSE(CaseloadPrefix(bad));
  bad = ok;
  bad.list = v1::CASELOAD_LIST_UNSPECIFIED;
  EXPECT_FALSE(CaseloadPrefix(bad));
  // A team's list is not the service's, nor a longer agency code's.
  auto team = ok;
  team.team = "A";
  auto longer = ok;
  longer.agency = "RV50";
  EXPECT_FALSE(CaseloadPrefix(team)->starts_with(*CaseloadPrefix(ok)));
  EXPECT_FALSE(CaseloadPrefix(longer)->starts_with(*CaseloadPrefix(ok)));
}

TEST(CompleteEntry, WholeWeeksFromTheStartToTheDayOfTheRead) {
  v1::CaseloadEntry e;
  *e.mutable_started_on() = Day("2026-01-05");
  CompleteEntry(e, *ParseDate("2026-02-02"));
  EXPECT_EQ(e.weeks_waited(), 4u);
  CompleteEntry(e, *ParseDate("2026-02-01"));
  EXPECT_EQ(e.weeks_waited(), 3u);
  CompleteEntry(e, *ParseDate("2025-12-01"));
  EXPECT_EQ(e.weeks_waited(), 0u);
}

}  // namespace
}  // namespace pathway::workflow
