// What a pathway-engine data directory holds, read back for comparison: each subject's
// stored CaseState and history, as a deterministic string. Two engine runs over the
// same input (same subject key, same --fixed-clock) must leave byte-identical dumps,
// whatever crashes and restarts happened in between.
//
// Only call these on a data directory no engine process has open (RocksDB locks it).
//
// All knowledge of the engine's on-disk layout is in StateStoreDirs(): today one
// CaseStore at <data-dir>/state; with per-partition stores one CaseStore per
// <data-dir>/state/partition-<n>. Keep it that way when the layout moves again.
#pragma once

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "state/case_store.h"

namespace pathway::testing {

// The CaseStore directories of an engine data directory, in a fixed order. Throws if
// there are none.
inline std::vector<std::string> StateStoreDirs(const std::string& engine_data_dir) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(engine_data_dir) / "state";
  if (!fs::is_directory(root)) {
    throw std::runtime_error("no engine state in " + engine_data_dir + " (no " + root.string() +
                             ")");
  }
  std::vector<std::pair<long, std::string>> partitions;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    constexpr std::string_view kPrefix = "partition-";
    if (!entry.is_directory() || !name.starts_with(kPrefix)) continue;
    partitions.emplace_back(std::stol(name.substr(kPrefix.size())), entry.path().string());
  }
  if (partitions.empty()) return {root.string()};  // one store for every partition
  std::sort(partitions.begin(), partitions.end());
  std::vector<std::string> dirs;
  for (auto& [n, dir] : partitions) dirs.push_back(std::move(dir));
  return dirs;
}

namespace state_dump_internal {

inline std::unique_ptr<state::CaseStore> OpenStore(const std::string& dir,
                                                   const std::string& kek = {}) {
  auto store = state::CaseStore::Open(dir, state::StoreOptions{{}, 0, kek, nullptr});
  if (!store.ok()) {
    throw std::runtime_error("cannot open " + dir + ": " + store.error().ToString());
  }
  return std::move(*store);
}

inline void Scan(state::CaseStore& store, state::ColumnFamily family, const std::string& dir,
                 const std::function<void(std::string_view, std::string_view)>& fn) {
  if (auto s = store.Scan(family, fn); !s.ok()) {
    throw std::runtime_error("cannot scan " + dir + ": " + s.error().ToString());
  }
}

}  // namespace state_dump_internal

// subject key (64 hex digits) -> its dump:
//   "case_state <hex of the CaseState bytes>\n"            (or "case_state none\n")
//   "history <hex of the u64 sequence> <hex of the Envelope bytes>\n"   per event,
// in sequence order, as the store reads them back (opened with `kek`, the engines'
// key-encryption key, so that runs compare equal although each seals with fresh
// nonces). A subject found in two stores (which would be a bug: a subject belongs to
// one partition) gets a line "ALSO IN <dir>" and the second copy appended, so that
// comparisons fail loudly.
inline std::map<std::string, std::string> DumpCaseState(const std::string& engine_data_dir,
                                                        const std::string& kek) {
  namespace internal = state_dump_internal;
  std::map<std::string, std::string> out;
  for (const std::string& dir : StateStoreDirs(engine_data_dir)) {
    auto store = internal::OpenStore(dir, kek);
    std::map<std::string, std::string> states;
    std::map<std::string, std::vector<std::string>> sequences;
    internal::Scan(*store, state::ColumnFamily::kCaseState, dir,
                   [&](std::string_view key, std::string_view) { states[HexEncode(key)]; });
    internal::Scan(*store, state::ColumnFamily::kHistory, dir,
                   [&](std::string_view key, std::string_view) {
                     // subject key (32 bytes) + big-endian u64 sequence
                     sequences[HexEncode(key.substr(0, 32))].push_back(HexEncode(key.substr(32)));
                   });
    std::map<std::string, std::string> histories;
    for (auto& [subject, state] : states) {
      auto loaded = store->LoadCase(subject);
      if (!loaded.ok() || !loaded->has_value()) {
        throw std::runtime_error("cannot read a case in " + dir);
      }
      state = HexEncode((*loaded)->SerializeAsString());
    }
    for (const auto& [subject, keys] : sequences) {
      auto events = store->History(subject);
      if (!events.ok() || events->size() != keys.size()) {
        throw std::runtime_error("cannot read a history in " + dir);
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        histories[subject] +=
            "history " + keys[i] + " " + HexEncode((*events)[i].SerializeAsString()) + "\n";
      }
    }
    for (auto& [subject, state] : states) histories.try_emplace(subject);
    for (auto& [subject, history] : histories) {
      auto it = states.find(subject);
      std::string dump =
          "case_state " + (it == states.end() ? std::string("none") : it->second) + "\n" + history;
      auto [slot, inserted] = out.try_emplace(subject, dump);
      if (!inserted) slot->second += "ALSO IN " + dir + "\n" + dump;
    }
  }
  return out;
}

// Outbox entries left in the data directory (0 after a drained, graceful exit).
inline size_t OutboxEntries(const std::string& engine_data_dir) {
  size_t n = 0;
  for (const std::string& dir : StateStoreDirs(engine_data_dir)) {
    auto store = state_dump_internal::OpenStore(dir);
    state_dump_internal::Scan(*store, state::ColumnFamily::kOutbox, dir,
                              [&](std::string_view, std::string_view) { ++n; });
  }
  return n;
}

// One subject's dump decoded again (for checks and readable failure messages).
struct CaseDump {
  std::optional<pathway::store::v1::CaseState> state;
  std::vector<pathway::v1::Envelope> history;
};

inline CaseDump ParseCaseDump(const std::string& dump) {
  CaseDump out;
  std::istringstream lines(dump);
  std::string word;
  while (lines >> word) {
    std::string hex;
    std::string bytes;
    if (word == "case_state") {
      lines >> hex;
      if (hex == "none") continue;
      pathway::store::v1::CaseState state;
      if (!HexDecode(hex, &bytes) || !state.ParseFromString(bytes)) {
        throw std::runtime_error("case state does not decode");
      }
      out.state = std::move(state);
    } else if (word == "history") {
      std::string sequence;
      lines >> sequence >> hex;
      pathway::v1::Envelope e;
      if (!HexDecode(hex, &bytes) || !e.ParseFromString(bytes)) {
        throw std::runtime_error("history event does not decode");
      }
      out.history.push_back(std::move(e));
    } else if (word == "ALSO") {
      std::string in, dir;
      lines >> in >> dir;
    }
  }
  return out;
}

// A dump in protobuf text format, for people.
inline std::string ReadableCaseDump(const std::string& dump) {
  std::string out;
  CaseDump parsed = ParseCaseDump(dump);
  std::string text;
  if (parsed.state) {
    google::protobuf::TextFormat::PrintToString(*parsed.state, &text);
    out += "case_state {\n" + text + "}\n";
  } else {
    out += "case_state none\n";
  }
  for (const auto& e : parsed.history) {
    google::protobuf::TextFormat::PrintToString(e, &text);
    out += "history {\n" + text + "}\n";
  }
  if (dump.find("ALSO IN") != std::string::npos) out += "(stored in more than one partition)\n";
  return out;
}

}  // namespace pathway::testing
