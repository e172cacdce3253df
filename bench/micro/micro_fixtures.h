// Inputs shared by the micro-benchmarks: the realistic histories of the workflow tests
// (tests/workflow/histories/*.jsonl), routed as the engine's intake routes them, the
// case state as it stands before any one of their commands, the engine's step
// settings (with config/statutory_sharing.json, as scripts/run.sh starts it) and
// stores opened as the engine opens them. Built once per process, outside the timed
// loops. Targets that include this define PATHWAY_HISTORIES and PATHWAY_CONFIG.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "services/engine/subject_keyer.h"
#include "services/topics.h"
#include "state/case_store.h"
#include "tests/common/histories.h"
#include "tests/common/temp_dir.h"
#include "workflow/calendar.h"
#include "workflow/case_step.h"
#include "workflow/identity.h"
#include "workflow/sharing.h"
#include "workflow/simulator.h"

namespace pathway::bench {

// Setup that cannot fail in a checked-out tree; if it does, the numbers would mean
// nothing, so stop.
[[noreturn]] inline void Die(const std::string& what) {
  std::cerr << "pathway_micro_bench: " << what << "\n";
  std::exit(1);
}

// The engine's keyed hash, under a fixed secret.
inline const engine::SubjectKeyer& Keyer() {
  static const engine::SubjectKeyer keyer = engine::SubjectKeyer::FromSecret(std::string(32, 'k'));
  return keyer;
}
inline std::string SubjectKey(std::string_view nhs) { return Keyer().Key(nhs); }

// The statutory sharing rules scripts/run.sh starts the engine with.
inline const pathway::config::v1::StatutorySharing& Sharing() {
  static const pathway::config::v1::StatutorySharing sharing = [] {
    std::ifstream in(std::string(PATHWAY_CONFIG) + "/statutory_sharing.json");
    std::stringstream json;
    json << in.rdbuf();
    auto parsed = workflow::ParseStatutorySharing(json.str());
    if (!parsed) Die("config/statutory_sharing.json: " + parsed.error().ToString());
    return *parsed;
  }();
  return sharing;
}

// The engine's StepSettings with its defaults and the statutory sharing rules.
inline const workflow::StepSettings& Settings() {
  static const workflow::StepSettings settings = [] {
    workflow::StepSettings s;
    s.decide.sharing = &Sharing();
    return s;
  }();
  return settings;
}

// One command of a history, routed (subject_key set, as on pathway.commands.v1), with
// the case as it stands when it arrives: every earlier command decided and every timer
// due by its day fired, as the simulator (and so the engine) does.
struct Prepared {
  pathway::store::v1::CaseState state;
  std::vector<pathway::v1::Envelope> log;  // the case's kept commands (CommandsOf)
  pathway::v1::Envelope command;
  TimePoint now;
};

// The step as the engine decides it (services/engine/command_stage.cc): DecideCommand, and
// again with the case's kept commands if it asks for them (a command that sorts before
// what the case has decided, e.g. an EHC request dated the day of the referral).
inline workflow::CaseStep Decide(const Prepared& p) {
  workflow::CaseStep step = workflow::DecideCommand(p.state, p.command, p.now, Settings());
  if (step.needs_log) step = workflow::DecideCommand(p.state, p.command, p.now, Settings(), &p.log);
  return step;
}

// The commands of a history file, routed, in order.
inline const std::vector<pathway::v1::Envelope>& Routed(const std::string& history) {
  static std::map<std::string, std::vector<pathway::v1::Envelope>> cache;
  auto [it, added] = cache.try_emplace(history);
  if (!added) return it->second;
  for (auto& inbound : testing::ReadHistory(history)) {
    workflow::IntakeOutput out =
        workflow::Intake(inbound, [](std::string_view nhs) { return SubjectKey(nhs); });
    if (out.rejection || out.commands.size() != 1) Die(history + ": intake does not route a line");
    it->second.push_back(std::move(out.commands.front()));
  }
  if (it->second.empty()) Die(history + ": no commands");
  return it->second;
}

// Command `index` (0-based) of `history` and the case before it.
inline const Prepared& Before(const std::string& history, size_t index) {
  static std::map<std::pair<std::string, size_t>, Prepared> cache;
  auto [it, added] = cache.try_emplace({history, index});
  if (!added) return it->second;
  const auto inbound = testing::ReadHistory(history);
  if (index >= inbound.size()) Die(history + ": no command " + std::to_string(index));
  workflow::Simulator sim([](std::string_view nhs) { return SubjectKey(nhs); }, Settings());
  for (size_t i = 0; i < index; ++i) sim.Process(inbound[i], testing::OccurredAt(inbound[i]));
  const TimePoint now = testing::OccurredAt(inbound[index]);
  sim.AdvanceTo(workflow::LondonDate(now));
  Prepared& p = it->second;
  p.command = Routed(history)[index];
  p.now = now;
  if (auto s = sim.subjects().find(p.command.subject_key()); s != sim.subjects().end()) {
    p.state = s->second.state;
    p.log = workflow::CommandsOf(s->second.events);
  }
  return p;
}

// A 32-byte key-encryption key (the engine's --key-encryption-key-file).
inline std::string Kek() { return std::string(32, 'K'); }

// A CaseStore in a temporary directory, opened as the engine opens a partition's store
// (state/store_set.cc): mirrored to the changelog, values sealed under data keys.
struct TempStore {
  testing::TempDir dir;
  std::unique_ptr<state::CaseStore> store;
  explicit TempStore(int32_t partition = 0) {
    auto opened = state::CaseStore::Open(
        dir.path() + "/store",
        state::StoreOptions{std::string(topics::kChangelog), partition, Kek(), nullptr});
    if (!opened) Die("open store: " + opened.error().ToString());
    store = std::move(*opened);
  }
};

}  // namespace pathway::bench
