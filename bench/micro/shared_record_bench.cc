// The shared record's lookups ("tell it once", workflow/shared_record.h) on the case of
// a child in three pathways (tests/workflow/histories/tell_it_once_three_pathways.jsonl,
// its first 12 commands decided: four facts, consents granted and withdrawn, open needs):
//  - DecideNeed, what a pathway step calls for each fact it needs: a fact the agency may
//    reuse (FactReused), and a fact the record lacks (FactNeeded + a request);
//  - a RecordViewRequested decided (DecideRecordCommand): every fact type checked
//    against consent and the statutory sharing rules.
// Items are lookups (one need, or one view).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/micro/micro_fixtures.h"
#include "workflow/shared_record.h"

namespace pathway::bench {
namespace {
namespace v1 = pathway::v1;

const Prepared& ThreePathwayCase() {
  // The case on 2026-03-09, when the ICB commissions the neurodevelopmental assessment:
  // the family's and the school's answers recorded and valid, RQM's consent granted
  // and QKK's withdrawn, the EHC needs assessment under way.
  return Before("tell_it_once_three_pathways.jsonl", 12);
}

// (fact type, agency, purpose): whether DecideNeed reuses or asks.
struct Need {
  v1::FactType type;
  const char* agency;
  const char* purpose;
};
constexpr Need kNeeds[] = {
    // The family's "all about me", consented to RQM for the neurodevelopmental pathway.
    {v1::FACT_TYPE_ALL_ABOUT_ME, "RQM", "neurodevelopmental"},
    // Diagnoses: not in the record, so a need and a request to the family.
    {v1::FACT_TYPE_DIAGNOSES, "RQM", "neurodevelopmental"},
};

void BM_SharedRecordNeed(benchmark::State& bm) {
  const Prepared& p = ThreePathwayCase();
  const Need& need = kNeeds[bm.range(0)];
  const std::string agency = need.agency, purpose = need.purpose;
  const std::string instance_id = p.state.pathways(0).instance_id();
  const workflow::CivilDate on = workflow::LondonDate(p.now);
  const workflow::DecideOptions& options = Settings().decide;
  std::vector<v1::Envelope> events;
  auto next = [&]() -> v1::Envelope& { return events.emplace_back(); };
  workflow::DecideNeed(p.state, need.type, v1::RESPONDENT_FAMILY, instance_id, agency, purpose, on,
                       options, next);
  bm.SetLabel(events.empty() ? "nothing" : events.front().has_fact_reused() ? "reused" : "asked");
  for (auto _ : bm) {
    events.clear();
    workflow::DecideNeed(p.state, need.type, v1::RESPONDENT_FAMILY, instance_id, agency, purpose,
                         on, options, next);
    benchmark::DoNotOptimize(events);
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.counters["facts_held"] = static_cast<double>(p.state.record_facts_size());
}
BENCHMARK(BM_SharedRecordNeed)->Arg(0)->Arg(1);

// A view for the SENCO of school 100001 (consent for preparing_for_adulthood) and for
// the council under the statutory rule for an EHC needs assessment.
void BM_SharedRecordView(benchmark::State& bm) {
  const Prepared& p = ThreePathwayCase();
  v1::Envelope command = p.command;
  command.set_event_id("micro-view-1");
  auto* view = command.mutable_record_view_requested();
  if (bm.range(0) == 0) {
    view->set_agency("100001");
    view->set_purpose("preparing_for_adulthood");
  } else {
    view->set_agency("209");
    view->set_purpose("ehc_needs_assessment");
  }
  command.mutable_actor()->set_id("staff-2002");
  const workflow::DecideOptions& options = Settings().decide;
  {
    workflow::Decision d = workflow::DecideRecordCommand(p.state, command, p.now, options);
    if (d.rejection || d.events.empty()) {
      bm.SkipWithError("the view is refused");
      return;
    }
    bm.SetLabel(view->agency() + " " + view->purpose() + ": " +
                std::to_string(d.events.front().record_viewed().disclosed_size()) + " disclosed");
  }
  for (auto _ : bm) {
    workflow::Decision d = workflow::DecideRecordCommand(p.state, command, p.now, options);
    benchmark::DoNotOptimize(d);
  }
  bm.SetItemsProcessed(bm.iterations());
}
BENCHMARK(BM_SharedRecordView)->Arg(0)->Arg(1);

}  // namespace
}  // namespace pathway::bench
