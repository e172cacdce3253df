// Any arrival order, one answer (issue 12): a case, its deadlines and what its outputs
// say depend only on its commands and their business dates, never on the order the
// commands arrive in. Driven through workflow::Simulator, the path `pathwayctl
// simulate` and the engine share (workflow/case_step.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "tests/common/commands.h"
#include "tests/common/histories.h"
#include "workflow/case_step.h"
#include "workflow/simulator.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
using pathway::testing::At;
using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::OccurredAt;
using pathway::testing::ReadHistory;

std::string Key(std::string_view nhs) { return HexEncode(Sha256("test|" + std::string(nhs))); }

struct Outcome {
  std::map<std::string, std::string> cases;  // subject -> CanonicalCase
  std::map<std::string, OutputView> views;   // subject -> its outputs, folded
  int corrections = 0;
};

// Each command arrives, in the order given, at the latest time any command so far was
// sent (nothing arrives before it is sent); then the calendar runs on to `as_of`.
Outcome Arrive(const std::vector<v1::Envelope>& commands, CivilDate as_of) {
  Simulator sim(Key);
  TimePoint now{};
  for (const auto& c : commands) {
    now = std::max(now, OccurredAt(c));
    sim.Process(c, now);
  }
  sim.AdvanceTo(as_of);
  Outcome run;
  for (const auto& [key, subject] : sim.subjects()) {
    run.cases[key] = CanonicalCase(subject.state);
    OutputView& view = run.views[key];
    for (const auto& out : subject.outputs) {
      FoldOutput(view, out);
      if (out.has_case_corrected()) ++run.corrections;
    }
  }
  return run;
}

std::vector<v1::Envelope> InBusinessDateOrder(std::vector<v1::Envelope> commands) {
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return CommandOrder(a) < CommandOrder(b); });
  return commands;
}

// The histories' commands that the arrival-order promise covers: pathway commands and
// the shared record (identity links wait on the processing clock, on purpose).
std::vector<v1::Envelope> History(const std::string& name) {
  std::vector<v1::Envelope> out;
  for (auto& e : ReadHistory(name)) {
    if (e.has_identifier_linked()) continue;
    if (!e.has_referral_submitted() && e.subject().nhs_number().empty()) continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::string Describe(const std::vector<v1::Envelope>& commands) {
  std::string out;
  for (const auto& c : commands) out += c.event_id() + " ";
  return out;
}

void ExpectSame(const Outcome& expected, const Outcome& actual, const std::string& what) {
  ASSERT_EQ(expected.cases.size(), actual.cases.size()) << what;
  for (const auto& [key, canonical] : expected.cases) {
    ASSERT_TRUE(actual.cases.count(key)) << what;
    EXPECT_EQ(actual.cases.at(key), canonical) << "case state differs: " << what;
    const OutputView& e = expected.views.at(key);
    const OutputView& a = actual.views.at(key);
    EXPECT_EQ(a.deadlines, e.deadlines) << "deadline table differs: " << what;
    EXPECT_EQ(a.steps, e.steps) << "steps differ: " << what;
    EXPECT_EQ(a.rejected, e.rejected) << "refusals differ: " << what;
  }
}

constexpr const char* kHistories[] = {
    "ehc_assessment.jsonl",      "annual_review.jsonl",
    "neurodevelopmental.jsonl",  "preparing_for_adulthood.jsonl",
    "disagreement.jsonl",        "exceptional_needs_grant.jsonl",
    "multi_pathway_child.jsonl", "tell_it_once_three_pathways.jsonl"};

TEST(ArrivalOrder, EveryPermutationOfEveryPathwaysHistoryEndsAsInBusinessDateOrder) {
  // For random histories over every pathway (each realistic history with messages
  // dropped at random, so implied steps are exercised too), random arrival orders end
  // in the same case and the same folded outputs as arrival in business-date order.
  int corrections = 0;
  int checked = 0;
  for (const char* name : kHistories) {
    const std::vector<v1::Envelope> full = History(name);
    ASSERT_GE(full.size(), 3u) << name;
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      std::mt19937 rng(seed);
      std::vector<v1::Envelope> history;
      for (size_t i = 0; i < full.size(); ++i) {
        if (i > 0 && seed > 1 && rng() % 6 == 0) continue;  // a message that never came
        history.push_back(full[i]);
      }
      CivilDate as_of{};
      for (const auto& c : history) as_of = std::max(as_of, LondonDate(OccurredAt(c)));
      as_of = AddDays(as_of, 400);  // every clock has run out
      const Outcome expected = Arrive(InBusinessDateOrder(history), as_of);
      for (int shuffle = 0; shuffle < 6; ++shuffle) {
        std::vector<v1::Envelope> arrival = history;
        std::shuffle(arrival.begin(), arrival.end(), rng);
        const Outcome actual = Arrive(arrival, as_of);
        ExpectSame(
            expected, actual,
            std::string(name) + " seed " + std::to_string(seed) + " arrival " + Describe(arrival));
        corrections += actual.corrections;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 8 * 12 * 6);
  // Not vacuous: late arrivals did re-decide cases.
  EXPECT_GT(corrections, 100);
}

TEST(ArrivalOrder, ADecisionBeforeItsRequestIsAcceptedOnceTheRequestArrives) {
  // The example: both valid, the later-dated one first.
  auto request = Command("req", "2025-01-06", [](v1::Envelope& e) {
    auto* r = e.mutable_ehc_assessment_requested();
    r->set_request_id("EHC-1");
    r->set_requested_by(v1::EHC_REQUESTER_PARENT);
    *r->mutable_received_on() = Day("2025-01-06");
  });
  auto decision = Command("dec", "2025-02-03", [](v1::Envelope& e) {
    auto* d = e.mutable_ehc_assessment_decided();
    d->set_request_id("EHC-1");
    d->set_decision(v1::ASSESSMENT_DECISION_ASSESS);
    *d->mutable_decided_on() = Day("2025-02-03");
  });
  Simulator sim(Key);
  sim.Process(decision, At("2025-02-03"));
  const auto& subject = sim.subjects().at(Key(pathway::testing::kValidNhsNumber));
  ASSERT_EQ(subject.rejections.size(), 1u) << "no request yet: refused, and kept";
  EXPECT_EQ(subject.rejections[0].command_rejected().rule(), "pathway.unknown_reference");

  sim.Process(request, At("2025-02-10"));  // published a week late
  const auto& after = sim.subjects().at(Key(pathway::testing::kValidNhsNumber));
  ASSERT_EQ(after.state.pathways_size(), 1);
  EXPECT_EQ(after.state.pathways(0).state(), "assessing");
  EXPECT_EQ(after.state.rejected_size(), 0);
  auto corrected = std::find_if(after.outputs.begin(), after.outputs.end(),
                                [](const v1::Envelope& e) { return e.has_case_corrected(); });
  ASSERT_NE(corrected, after.outputs.end());
  const v1::Envelope& last = *corrected;
  EXPECT_EQ(last.case_corrected().caused_by(), "req");
  bool withdrawn = false;
  for (const auto& r : last.case_corrected().rejections()) {
    withdrawn |= r.rejected_event_id() == "dec" && r.withdrawn();
  }
  EXPECT_TRUE(withdrawn) << "the refusal of the decision is withdrawn, naming it";
  // Clocks from the request's own date: 6 weeks to decide (met on 3 Feb), 20 to issue.
  std::map<std::string, std::string> due;
  for (const auto& d : after.state.pathways(0).deadlines()) {
    due[d.name()] = FormatDate(StoredDate(d.due())) + " " + v1::DeadlineStatus_Name(d.status());
  }
  EXPECT_EQ(due["decision_to_assess"], "2025-02-17 DEADLINE_STATUS_MET");
  EXPECT_EQ(due["final_plan"], "2025-05-26 DEADLINE_STATUS_PENDING");
}

TEST(ArrivalOrder, ADecisionRecordedTwiceOnOneDayTheEarlierStandsWhicheverArrivesFirst) {
  // A caseworker records the decision to assess at 10:00 and, by mistake, again at
  // 15:00 the same day (new event ids: the gateway makes one per submission). Whatever
  // order they reach the engine in, and whatever their ids, the 10:00 one is the
  // decision and the 15:00 one the refused repeat.
  auto request = Command("req", "2025-01-06", [](v1::Envelope& e) {
    auto* r = e.mutable_ehc_assessment_requested();
    r->set_request_id("EHC-1");
    r->set_requested_by(v1::EHC_REQUESTER_PARENT);
    *r->mutable_received_on() = Day("2025-01-06");
  });
  auto decided = [](const std::string& id, int hour) {
    auto d = Command(id, "2025-02-03", [](v1::Envelope& e) {
      auto* c = e.mutable_ehc_assessment_decided();
      c->set_request_id("EHC-1");
      c->set_decision(v1::ASSESSMENT_DECISION_ASSESS);
      *c->mutable_decided_on() = Day("2025-02-03");
    });
    d.mutable_occurred_at()->set_seconds(d.occurred_at().seconds() + (hour - 10) * 3600);
    return d;
  };
  for (const auto& [first_id, second_id] :
       std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"b", "a"}, {"z", "0"}}) {
    const auto morning = decided(first_id, 10);
    const auto afternoon = decided(second_id, 15);
    for (bool afternoon_first : {false, true}) {
      Simulator sim(Key);
      sim.Process(request, At("2025-01-06"));
      sim.Process(afternoon_first ? afternoon : morning, At("2025-02-04"));
      sim.Process(afternoon_first ? morning : afternoon, At("2025-02-05"));
      const auto& subject = sim.subjects().at(Key(pathway::testing::kValidNhsNumber));
      ASSERT_EQ(subject.state.rejected_size(), 1)
          << first_id << second_id << " afternoon first: " << afternoon_first;
      EXPECT_EQ(subject.state.rejected(0).event_id(), second_id)
          << "the repeat is the later one, " << first_id << second_id
          << " afternoon first: " << afternoon_first;
      EXPECT_EQ(subject.state.pathways(0).state(), "assessing");
    }
  }
}

TEST(ArrivalOrder, ALateMessageMeetsADeadlineItMetInRealityAndTheBreachIsCorrected) {
  // The decision to assess was made on time (17 Feb) but sent after the deadline
  // (due 17 Feb) had been reported breached: re-decided, it is met, and the
  // correction says so.
  auto request = Command("req", "2025-01-06", [](v1::Envelope& e) {
    auto* r = e.mutable_ehc_assessment_requested();
    r->set_request_id("EHC-2");
    r->set_requested_by(v1::EHC_REQUESTER_PARENT);
    *r->mutable_received_on() = Day("2025-01-06");
  });
  auto decision = Command("dec", "2025-03-03", [](v1::Envelope& e) {
    auto* d = e.mutable_ehc_assessment_decided();
    d->set_request_id("EHC-2");
    d->set_decision(v1::ASSESSMENT_DECISION_ASSESS);
    *d->mutable_decided_on() = Day("2025-02-14");
  });
  Simulator sim(Key);
  sim.Process(request, At("2025-01-06"));
  sim.AdvanceTo(*ParseDate("2025-03-01"));
  const auto key = Key(pathway::testing::kValidNhsNumber);
  EXPECT_EQ(sim.subjects().at(key).state.pathways(0).deadlines(0).status(),
            v1::DEADLINE_STATUS_BREACHED);
  sim.Process(decision, At("2025-03-03"));
  const auto& s = sim.subjects().at(key);
  // The correction, then what the decision's needs asked of the family.
  auto corrected = std::find_if(s.outputs.begin(), s.outputs.end(),
                                [](const v1::Envelope& e) { return e.has_case_corrected(); });
  ASSERT_NE(corrected, s.outputs.end());
  const v1::Envelope& last = *corrected;
  bool met = false;
  for (const auto& d : last.case_corrected().deadlines()) {
    if (d.name() != "decision_to_assess") continue;
    met = d.status_before() == v1::DEADLINE_STATUS_BREACHED &&
          d.status() == v1::DEADLINE_STATUS_MET &&
          FormatDate(StoredDate(d.met_on())) == "2025-02-14";
  }
  EXPECT_TRUE(met) << last.DebugString();
  OutputView view;
  for (const auto& out : s.outputs) FoldOutput(view, out);
  EXPECT_EQ(view.deadlines.at(s.state.pathways(0).instance_id() + "|decision_to_assess"),
            "2025-02-17 DEADLINE_STATUS_MET 2025-02-14");
}

}  // namespace
}  // namespace pathway::workflow
