// A synthetic population for pathway-loadgen: realistic histories
// (tests/workflow/histories) replayed for many children, each with a fresh synthetic
// NHS number, moved to recent past days, interleaved in the order partners would send
// them, and keyed as `pathwayctl publish` keys them (services/pathwayctl/inbound_key.h).
//
// Deterministic: the same options (seed, children, today, run tag) give the same bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"

namespace pathway::loadgen {

enum class Scenario {
  kMixed,  // every history in tests/workflow/histories: every pathway, consent, facts
  kEhc,    // ehc_assessment.jsonl only: the 13 messages of an EHC needs assessment
};

struct PopulationOptions {
  Scenario scenario = Scenario::kMixed;
  int children = 100;
  uint64_t seed = 1;
  // Where the *.jsonl histories are.
  std::string histories_dir;
  // In every event id ("lg-<tag>-<child>-<n>"), so that outputs left on a cluster by
  // an earlier run never count for this one.
  std::string run_tag = "0";
  // Each child's history ends on a day in [today - spread_days, today - 1], so every
  // business date and occurred_at is in the past, and each command's dates keep their
  // distance from its occurred_at (a step is never dated after its message).
  workflow::CivilDate today;
  int spread_days = 365;
};

struct Command {
  std::string event_id;
  std::string key;    // ctl::InboundKey: "subject-bucket:" and three letters
  std::string value;  // a serialized pathway.v1.Envelope
};

struct Population {
  std::vector<Command> commands;  // in publishing order
  // Histories used, by file name, and how many children follow each.
  std::map<std::string, int> children_per_history;
  size_t bytes = 0;  // keys and values
  // The London day of the earliest occurred_at.
  workflow::CivilDate first_day;
};

// Reads one history: one Envelope per non-blank line, protobuf JSON mapping.
Result<std::vector<pathway::v1::Envelope>> ReadHistoryFile(const std::string& path);

// Builds the population. Each child follows one history (in the mixed scenario the
// first children take every history once, then a seeded choice); its commands keep
// their history's order, and children are interleaved by occurred_at.
Result<Population> BuildPopulation(const PopulationOptions& options);

}  // namespace pathway::loadgen
