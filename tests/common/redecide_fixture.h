// What the workflow tests of re-deciding a case (rebuild, redrive, migrate, history
// retention) share: the realistic histories, the order they may arrive in, and a run of
// the simulator over them. Targets that include this define PATHWAY_HISTORIES and link
// the workflow library.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/history_edit.h"
#include "common/crypto.h"
#include "common/time_source.h"
#include "pathway/v1/envelope.pb.h"
#include "tests/common/histories.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"
#include "workflow/simulator.h"

namespace pathway::testing {

// A child's subject key in these tests: a plain hash of the NHS number (the engine's is
// keyed with its secret).
inline std::string TestKey(std::string_view nhs) {
  std::string text = "test|";
  text += nhs;
  return HexEncode(Sha256(text));
}

// Every realistic history (tests/workflow/histories), one child in each.
inline constexpr const auto& kHistories = loadgen::kHistoryFiles;

// The latest instant any of `commands` says it happened; the epoch if none.
inline TimePoint LatestSent(const std::vector<pathway::v1::Envelope>& commands) {
  TimePoint latest{};
  for (const auto& c : commands) latest = std::max(latest, OccurredAt(c));
  return latest;
}

// `full` as it may arrive: as it is with seed 1; with any other seed, some messages
// (never the first) left out as if never sent and the rest shuffled.
inline std::vector<pathway::v1::Envelope> ArrivalOf(const std::vector<pathway::v1::Envelope>& full,
                                                    uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<pathway::v1::Envelope> arrival;
  for (size_t i = 0; i < full.size(); ++i) {
    if (i > 0 && seed > 1 && rng() % 6 == 0) continue;  // a message that never came
    arrival.push_back(full[i]);
  }
  if (seed > 1) std::shuffle(arrival.begin(), arrival.end(), rng);
  return arrival;
}

// Runs `commands` in the order given (each at the latest time sent so far) with
// `settings`, then the calendar on to `end`.
inline workflow::Simulator Simulate(const std::vector<pathway::v1::Envelope>& commands,
                                    TimePoint end, workflow::StepSettings settings = {}) {
  workflow::Simulator sim(TestKey, std::move(settings));
  TimePoint now{};
  for (const auto& c : commands) {
    now = std::max(now, OccurredAt(c));
    sim.Process(c, now);
  }
  sim.AdvanceTo(workflow::LondonDate(end));
  return sim;
}

}  // namespace pathway::testing
