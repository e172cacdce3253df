// Deciding one already-decoded, routed command: workflow::DecideCommand, the pure step
// the engine calls between loading a case and committing it (no JSON, no protobuf
// decoding, no RocksDB, no sealing). Each benchmark decides one step of a realistic
// history against the case as it stands when that step arrives; BM_DecideEhcHistory
// decides a whole EHC needs-assessment history per child, the "decide alone" figure of
// docs/performance.md.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "bench/micro/micro_fixtures.h"

namespace pathway::bench {
namespace {

// One representative step of each pathway: (history file, 0-based command index).
struct Step {
  const char* history;
  size_t index;
};
constexpr Step kSteps[] = {
    // Referral intake.
    {"ehc_assessment.jsonl", 0},       // referral_submitted, a new child
    {"multi_pathway_child.jsonl", 1},  // referral_screened
    {"multi_pathway_child.jsonl", 2},  // referral_accepted
    // EHC needs assessment (20-week clock).
    {"ehc_assessment.jsonl", 1},   // ehc_assessment_requested
    {"ehc_assessment.jsonl", 2},   // ehc_assessment_decided (assess)
    {"ehc_assessment.jsonl", 3},   // ehc_advice_requested
    {"ehc_assessment.jsonl", 6},   // ehc_advice_received
    {"ehc_assessment.jsonl", 9},   // ehc_draft_plan_issued
    {"ehc_assessment.jsonl", 12},  // ehc_final_plan_issued (after the comment period)
    // Neurodevelopmental.
    {"neurodevelopmental.jsonl", 1},  // nd_referral_accepted
    {"neurodevelopmental.jsonl", 7},  // nd_first_appointment_attended
    {"neurodevelopmental.jsonl", 9},  // nd_outcome_recorded
    // Annual review and phase transfer.
    {"annual_review.jsonl", 0},  // annual_review_due
    {"annual_review.jsonl", 1},  // phase_transfer_due
    {"annual_review.jsonl", 2},  // annual_review_meeting_scheduled
    {"annual_review.jsonl", 4},  // annual_review_meeting_held
    {"annual_review.jsonl", 6},  // annual_review_decided
    // Preparing for adulthood (transition).
    {"preparing_for_adulthood.jsonl", 0},  // pfa_started
    {"preparing_for_adulthood.jsonl", 3},  // pfa_handover_planned
    {"preparing_for_adulthood.jsonl", 7},  // pfa_handover_completed
    // Disagreement resolution and exceptional needs grant.
    {"disagreement.jsonl", 0},             // disagreement_opened
    {"disagreement.jsonl", 3},             // mediation_held
    {"exceptional_needs_grant.jsonl", 1},  // eng_decided
    // A child in three pathways with a shared record ("tell it once").
    {"tell_it_once_three_pathways.jsonl", 7},   // fact_provided, serving open needs
    {"tell_it_once_three_pathways.jsonl", 12},  // nd_assessment_commissioned, reusing facts
    {"tell_it_once_three_pathways.jsonl", 18},  // annual_review_meeting_scheduled
};

std::string PayloadName(const pathway::v1::Envelope& e) {
  const auto* oneof = e.GetDescriptor()->FindOneofByName("payload");
  const auto* field = e.GetReflection()->GetOneofFieldDescriptor(e, oneof);
  return field ? std::string(field->name()) : "none";
}

void DecideOne(benchmark::State& bm, Step which) {
  const Prepared& p = Before(which.history, which.index);
  const workflow::StepSettings& settings = Settings();
  {
    workflow::CaseStep check = Decide(p);
    if (check.rejection || !check.new_state) {
      bm.SkipWithError("the step is refused or does not change the case");
      return;
    }
    bm.counters["events"] = static_cast<double>(check.history.size());
    bm.counters["state_bytes"] = static_cast<double>(p.state.ByteSizeLong());
    if (workflow::DecideCommand(p.state, p.command, p.now, settings).needs_log) {
      bm.SetLabel("re-decided from the case's kept commands");
    }
  }
  // As the engine does: a second DecideCommand with the kept commands if asked for.
  for (auto _ : bm) {
    workflow::CaseStep step = workflow::DecideCommand(p.state, p.command, p.now, settings);
    if (step.needs_log) step = workflow::DecideCommand(p.state, p.command, p.now, settings, &p.log);
    benchmark::DoNotOptimize(step);
  }
  bm.SetItemsProcessed(bm.iterations());
}

// A whole EHC needs-assessment history (13 commands, from the referral to the final
// plan) decided in order of arrival from an empty case, as the engine decides one
// child's commands (including the second DecideCommand, with the kept commands, for
// the commands dated before what the case has decided, 3 of 13 here). One command is
// refused, as the history means it to be (a final plan before the family's comment
// period ends) and kept. Items are commands. Timers are not fired (they are not
// commands); loading and committing are not included.
struct HistoryCounts {
  int redecided = 0;
  int refused = 0;
};
HistoryCounts DecideHistory(const std::vector<pathway::v1::Envelope>& commands,
                            const std::vector<TimePoint>& at) {
  const workflow::StepSettings& settings = Settings();
  pathway::store::v1::CaseState state;
  std::vector<pathway::v1::Envelope> history;  // what the store would hold
  HistoryCounts counts;
  for (size_t i = 0; i < commands.size(); ++i) {
    workflow::CaseStep step = workflow::DecideCommand(state, commands[i], at[i], settings);
    if (step.needs_log) {
      const std::vector<pathway::v1::Envelope> kept = workflow::CommandsOf(history);
      step = workflow::DecideCommand(state, commands[i], at[i], settings, &kept);
      ++counts.redecided;
    }
    if (step.rejection) ++counts.refused;
    if (step.new_state) state = std::move(*step.new_state);
    for (auto& e : step.history) history.push_back(std::move(e));
    benchmark::DoNotOptimize(step);
  }
  benchmark::DoNotOptimize(state);
  return counts;
}

void BM_DecideEhcHistory(benchmark::State& bm) {
  const std::vector<pathway::v1::Envelope>& commands = Routed("ehc_assessment.jsonl");
  std::vector<TimePoint> at;
  for (const auto& c : commands) at.push_back(testing::OccurredAt(c));
  const HistoryCounts counts = DecideHistory(commands, at);
  for (auto _ : bm) benchmark::DoNotOptimize(DecideHistory(commands, at));
  bm.SetItemsProcessed(bm.iterations() * static_cast<int64_t>(commands.size()));
  bm.counters["commands_per_child"] = static_cast<double>(commands.size());
  bm.counters["redecided_per_child"] = counts.redecided;
  bm.counters["refused_per_child"] = counts.refused;
}
BENCHMARK(BM_DecideEhcHistory);

const bool registered = [] {
  for (const Step& s : kSteps) {
    std::string history = s.history;
    const std::string pathway = history.substr(0, history.find('.'));
    const std::string name = "BM_DecideStep/" + pathway + "/" + std::to_string(s.index) + ":" +
                             PayloadName(Routed(s.history)[s.index]);
    benchmark::RegisterBenchmark(name.c_str(), DecideOne, s);
  }
  return true;
}();

}  // namespace
}  // namespace pathway::bench
