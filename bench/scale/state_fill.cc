// pathway-statefill: writes the state of C children straight into an engine's data
// directory, as the engine would have left it after deciding their first commands,
// so that "1,000,000 children in state" can be measured (bench/scale.sh) without
// first pushing millions of commands through a broker.
//
//   pathway-statefill --data-dir DIR --children C [--partitions P] [--commands K]
//                     [--threads T] [--touch-file F --touch N] [--seed S]
//
// Each child sends the first K (default 3: referral, EHC request, decision to assess)
// commands of the realistic EHC history (tests/workflow/histories/ehc_assessment.jsonl)
// re-addressed to a synthetic NHS number (the 999 test range). They are routed and
// decided with the engine's own functions (workflow::Intake, workflow::DecideCommand)
// and committed with its GroupCommit into the store of the partition Kafka's default
// partitioner gives the subject key (murmur2, as pathway.commands.v1 is keyed), under
// the subject key and KEK that pathway-engine will find in DIR (made here if absent).
// Outputs are not written: they count as delivered. Each store gets a local fence, so
// the engine keeps it on start instead of restoring it from an empty changelog.
//
// --touch-file writes N more commands (the history's next command, for N children
// drawn with the seed) as JSON lines for `pathwayctl publish`, to measure the engine
// working on a full store. Prints one JSON line: children, commands, seconds, bytes.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "services/bus/key_partition.h"
#include "services/engine/group_commit.h"
#include "services/engine/subject_keyer.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/histories.h"
#include "workflow/case_step.h"
#include "workflow/event_identity.h"
#include "workflow/identity.h"

namespace {
using pathway::v1::Envelope;
namespace state = pathway::state;
namespace workflow = pathway::workflow;

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "pathway-statefill: " << why << "\n";
  std::exit(1);
}

// The i-th valid NHS number of the 999 test range.
std::string NhsNumber(long i) {
  for (long n = i;; ++n) {
    char digits[16];
    std::snprintf(digits, sizeof digits, "999%07ld", n % 10000000);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[k] - '0') * (10 - k);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    digits[9] = static_cast<char>('0' + check);
    digits[10] = '\0';
    return digits;
  }
}

Envelope ForChild(Envelope e, const std::string& nhs, long child) {
  if (e.has_referral_submitted()) {
    e.mutable_referral_submitted()->mutable_child()->set_nhs_number(nhs);
  }
  if (e.has_subject()) e.mutable_subject()->set_nhs_number(nhs);
  e.set_event_id(e.event_id() + "-" + std::to_string(child));
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, touch_file;
  long children = 0, touch = 0;
  int32_t partitions = 8;
  size_t commands = 3;
  uint32_t seed = 1;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data-dir") {
      data_dir = next();
    } else if (a == "--children") {
      children = std::atol(next().c_str());
    } else if (a == "--partitions") {
      partitions = static_cast<int32_t>(std::atoi(next().c_str()));
    } else if (a == "--commands") {
      commands = static_cast<size_t>(std::atol(next().c_str()));
    } else if (a == "--touch-file") {
      touch_file = next();
    } else if (a == "--touch") {
      touch = std::atol(next().c_str());
    } else if (a == "--threads") {
      threads = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--seed") {
      seed = static_cast<uint32_t>(std::atol(next().c_str()));
    } else {
      Die("usage: pathway-statefill --data-dir DIR --children C [--partitions P] "
          "[--commands K] [--threads T] [--touch-file F --touch N] [--seed S]");
    }
  }
  if (data_dir.empty() || children <= 0 || partitions <= 0) Die("--data-dir and --children");
  pathway::log::SetLevel(pathway::log::Level::kWarn);
  const std::vector<Envelope> history = pathway::testing::ReadHistory("ehc_assessment.jsonl");
  if (history.size() <= commands) Die("the EHC history is shorter than --commands");

  std::filesystem::create_directories(data_dir);
  bool created = false;
  auto keyer = pathway::engine::SubjectKeyer::Load("", data_dir, &created);
  if (!keyer) Die(keyer.error().ToString());
  auto kek = pathway::engine::LoadSecret("", data_dir, "key-encryption-key", &created);
  if (!kek) Die(kek.error().ToString());
  // No changelog: the engine would have sent and deleted the mirrors long ago.
  state::StoreSet stores(data_dir + "/state", "", *kek);
  for (int32_t p = 0; p < partitions; ++p) {
    if (auto store = stores.Open(p); !store) Die(store.error().ToString());
  }
  const workflow::StepSettings settings;
  auto key = [&](std::string_view nhs) { return keyer->Key(nhs); };
  const auto started = std::chrono::steady_clock::now();
  // Each thread fills every T-th child through group commits of its own: children
  // (so subjects) never overlap between threads, and the stores are thread-safe.
  std::atomic<long> decided{0};
  std::mutex failure_mu;
  std::string failure;
  auto fill = [&](int t) {
    std::map<int32_t, pathway::engine::GroupCommit> groups;
    for (int32_t p = 0; p < partitions; ++p) {
      groups.emplace(p, pathway::engine::GroupCommit(*stores.Find(p)));
    }
    auto fail = [&](const std::string& why) {
      std::lock_guard<std::mutex> lock(failure_mu);
      if (failure.empty()) failure = why;
    };
    for (long c = t; c < children; c += threads) {
      const std::string nhs = NhsNumber(c * 3 + 7);
      for (size_t k = 0; k < commands; ++k) {
        workflow::IntakeOutput routed = workflow::Intake(ForChild(history[k], nhs, c), key);
        if (routed.rejection) return fail("intake refused: " + routed.rejection->rule);
        for (const Envelope& command : routed.commands) {
          const int32_t p = pathway::bus::KeyPartition(command.subject_key(), partitions);
          pathway::engine::GroupCommit& group = groups.at(p);
          auto loaded = group.LoadCase(command.subject_key());
          if (!loaded) return fail(loaded.error().ToString());
          const auto state = loaded->value_or(pathway::store::v1::CaseState());
          const auto now = pathway::testing::OccurredAt(command);
          workflow::CaseStep step = workflow::DecideCommand(state, command, now, settings);
          if (step.needs_log) {
            auto kept_history = group.History(command.subject_key());
            if (!kept_history) return fail(kept_history.error().ToString());
            const auto kept = workflow::CommandsOf(*kept_history);
            step = workflow::DecideCommand(state, command, now, settings, &kept);
          }
          if (!step.new_state) return fail("command " + command.event_id() + " refused");
          state::Batch batch;
          batch.partition = p;
          batch.dedupe_event_id = workflow::CommandIdentity(command);
          batch.dedupe_digest = workflow::ContentDigest(command);
          batch.subject_key = command.subject_key();
          batch.history_start = step.new_state->history_length() - step.history.size();
          batch.history = std::move(step.history);
          batch.new_state = std::move(*step.new_state);
          batch.timers_add = std::move(step.timers.add);
          batch.timers_remove = std::move(step.timers.remove);
          if (auto s = group.Add(std::move(batch)); !s) return fail(s.error().ToString());
          if (group.size() >= 512) {
            if (auto s = group.Flush(); !s) return fail(s.error().ToString());
          }
          ++decided;
        }
      }
      if (t == 0 && c % 100000 < static_cast<long>(threads) && c > 0) {
        std::cerr << "pathway-statefill: " << c << " children\n";
      }
    }
    for (auto& [p, group] : groups) {
      if (auto s = group.Flush(); !s) return fail(s.error().ToString());
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(fill, t);
  for (auto& w : workers) w.join();
  if (!failure.empty()) Die(failure);
  for (int32_t p = 0; p < partitions; ++p) {
    // Kept on start: nobody else owned the partition since this "owner".
    if (auto s = stores.Find(p)->SaveLocalFence({"pathway-statefill", 0}); !s) {
      Die(s.error().ToString());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!touch_file.empty() && touch > 0) {
    std::ofstream out(touch_file);
    std::mt19937 rng(seed);
    const Envelope& next = history[commands];
    for (long t = 0; t < touch; ++t) {
      const long c = static_cast<long>(rng() % static_cast<uint32_t>(children));
      Envelope e = ForChild(next, NhsNumber(c * 3 + 7), c);
      e.set_event_id(e.event_id() + "-touch" + std::to_string(t));
      std::string json;
      if (!google::protobuf::util::MessageToJsonString(e, &json).ok()) Die("json");
      out << json << "\n";
    }
  }
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir + "/state")) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  std::printf(
      "{\"children\":%ld,\"commands\":%ld,\"seconds\":%.1f,\"commands_per_s\":%.0f,"
      "\"state_bytes\":%llu}\n",
      children, decided.load(), seconds, static_cast<double>(decided.load()) / seconds,
      static_cast<unsigned long long>(bytes));
  return 0;
}
