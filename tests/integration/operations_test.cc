// Issue 15, the destructive operations (docs/operations.md, runbooks "Bad data from a
// partner for a week", "A store may be damaged", "A lost server" and "Restore from
// backup") with pathway-engine and pathwayctl as processes, against librdkafka's mock
// cluster (label mock) or the real Apache Kafka named by PATHWAY_TEST_KAFKA_BOOTSTRAP
// (label kafka): the same test bodies. Every pathwayctl action is audited on the
// cluster the engine uses.
//
// Redrive: an engine processes replayed histories in which one partner system sent
// wrong steps; `redrive --apply` is run on part of the stores, then over all of them
// SIGKILLed once its first command is on pathway.commands.v1 (with the engine down, so
// nothing it sent is applied yet), then run again to the end: each changed child gets
// one CaseCorrected, no other child any, a rebuild is clean, and every case equals the
// case of a reference run in which the bad steps were never sent.
//
// Repair: a case damaged at rest is found by `rebuild` and `rebuild --repair` has the
// running engine correct it, once.
//
// Backup and restore: a backup taken while the engine works; more input, a young adult
// erased; the engine SIGKILLed and its data directory deleted; restore onto a new
// directory and a new engine on it goes on: the outputs and cases of an uninterrupted
// reference, each output once on the wire, and the erased child stays erased. And (real
// Kafka only) the same with the changelog lost: the engine goes on from the backup.
//
// The references run on a fresh mock cluster (engine_process.h). Nothing sleeps for
// correctness: every wait is for a condition, bounded by a deadline.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "pathway/v1/envelope.pb.h"
#include "services/engine/subject_keyer.h"
#include "services/topics.h"
#include "state/case_store.h"
#include "state/store_set.h"
#include "tests/common/fixtures.h"
#include "tests/common/state_dump.h"
#include "tests/common/two_children.h"
#include "tests/integration/engine_process.h"
#include "tests/integration/read_topic.h"
#include "tests/services/pathwayctl/run_ctl.h"
#include "workflow/case_step.h"
#include "workflow/pathway.h"
#include "workflow/personal_fields.h"

namespace pathway::testing {
namespace {
namespace v1 = pathway::v1;
namespace fs = std::filesystem;
using google::protobuf::Struct;

// The engine's fixed clock's day (kFixedClock): every command is recorded (arrives) on
// it, so it is the bad week's window, and pathwayctl decides as of it as the engine does.
constexpr const char* kDay = "2026-01-05";
constexpr const char* kBadSystem = "trust-pas";
constexpr auto kEngineDeadline = std::chrono::seconds(240);

// pathwayctl as the operations role runs it on the engine's host: the engine's keys,
// an operator, a reason, and the cluster the engine uses (the audit trail goes there).
class Operator {
 public:
  Operator(std::string dir, std::string bootstrap, std::string key_file, std::string reason)
      : dir_(std::move(dir)),
        bootstrap_(std::move(bootstrap)),
        key_file_(std::move(key_file)),
        reason_(std::move(reason)) {}

  std::vector<std::string> Args(const std::string& command,
                                const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {command,           "--operator",
                                     "ops.jones",       "--reason",
                                     reason_,           "--bootstrap-servers",
                                     bootstrap_,        "--subject-key-file",
                                     key_file_,         "--key-encryption-key-file",
                                     KekFile(key_file_)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  RunResult Run(const std::string& command, const std::vector<std::string>& extra) const {
    const auto started = Clock::now();
    RunResult r = RunCtl(dir_, Args(command, extra), {}, "/dev/null", std::chrono::seconds(180));
    std::cout << "[ops] pathwayctl " << command;
    for (const auto& a : extra) std::cout << " " << a;
    std::cout << " -> exit " << r.exit_code << " in " << Ms(Clock::now() - started) << " ms\n";
    return r;
  }

 private:
  std::string dir_, bootstrap_, key_file_, reason_;
};

template <class T>
std::vector<T> Join(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Struct ParseJson(const std::string& text) {
  Struct doc;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &doc).ok()) << text;
  return doc;
}

std::string Text(const char* prefix, size_t n, const char* suffix) {
  std::string out = prefix;
  out += std::to_string(n);
  out += suffix;
  return out;
}

// The partition number of a store directory <data-dir>/state/partition-<n>.
int32_t PartitionOf(const std::string& store_dir) {
  const std::string name = fs::path(store_dir).filename().string();
  return static_cast<int32_t>(std::stol(name.substr(name.find('-') + 1)));
}

// Calls `each` with every partition store of an engine data directory, opened read-only
// (a RocksDB secondary, as pathwayctl opens them): the engine may be running.
void ForEachStoreReadOnly(const std::string& data_dir, const std::string& kek,
                          const std::function<void(state::CaseStore&)>& each) {
  for (const std::string& dir : StateStoreDirs(data_dir)) {
    auto store = state::CaseStore::OpenReadOnly(
        dir, state::StoreOptions{"", PartitionOf(dir), kek, nullptr, {}});
    ASSERT_TRUE(store.ok()) << dir << ": " << store.error().ToString();
    each(**store);
  }
}

// Each child's case as a statute reads it (workflow::CanonicalCase: referrals, pathways,
// refusals), read while the engine runs.
std::map<std::string, std::string> CanonicalCases(const std::string& data_dir,
                                                  const std::string& kek) {
  std::map<std::string, std::string> out;
  ForEachStoreReadOnly(data_dir, kek, [&](state::CaseStore& store) {
    std::vector<std::string> subjects;
    ASSERT_TRUE(store
                    .Scan(state::ColumnFamily::kCaseState,
                          [&](std::string_view key, std::string_view) {
                            subjects.push_back(HexEncode(key));
                          })
                    .ok());
    for (const auto& subject : subjects) {
      auto loaded = store.LoadCase(subject);
      ASSERT_TRUE(loaded.ok() && loaded->has_value()) << subject;
      out[subject] = workflow::CanonicalCase(**loaded);
    }
  });
  return out;
}

std::map<std::string, std::string> CanonicalCases(const RunOutcome& outcome) {
  std::map<std::string, std::string> out;
  for (const auto& [subject, dump] : outcome.state) {
    CaseDump parsed = ParseCaseDump(dump);
    if (parsed.state) out[subject] = workflow::CanonicalCase(*parsed.state);
  }
  return out;
}

// Entries in the outboxes of a running engine (outputs and changelog records not yet
// confirmed by the broker).
size_t OutboxWhileRunning(const std::string& data_dir, const std::string& kek) {
  size_t n = 0;
  ForEachStoreReadOnly(data_dir, kek, [&](state::CaseStore& store) {
    ASSERT_TRUE(
        store.Scan(state::ColumnFamily::kOutbox, [&](std::string_view, std::string_view) { ++n; })
            .ok());
  });
  return n;
}

// Waits until the engine has consumed every command and its outboxes are empty: all it
// decided is on the wire and on the changelog, so a SIGKILL now repeats nothing.
::testing::AssertionResult Settled(KafkaProbe& probe, EngineProcess& engine,
                                   const std::string& kek) {
  std::string detail;
  if (!WaitUntilCaughtUp(probe, engine.config().group_prefix, kEngineDeadline, nullptr, &detail)) {
    return ::testing::AssertionFailure() << "the engine did not catch up (" << detail << ")\n"
                                         << engine.LogTail();
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  size_t left = 0;
  while ((left = OutboxWhileRunning(engine.config().data_dir, kek)) > 0) {
    if (Clock::now() >= deadline) {
      return ::testing::AssertionFailure()
             << left << " outbox entries still unconfirmed after 60 s\n"
             << engine.LogTail();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!engine.Running()) {
    return ::testing::AssertionFailure() << "the engine exited\n" << engine.LogTail();
  }
  return ::testing::AssertionSuccess();
}

// Starts the engine and waits until it has settled (Settled).
::testing::AssertionResult Started(KafkaProbe& probe, EngineProcess& engine,
                                   const std::string& kek) {
  engine.Start();
  return Settled(probe, engine, kek);
}

// Waits until the engine has decided the commands up to `progress` (where a reference run
// was at that point) and then until it has settled (Settled).
::testing::AssertionResult DecidedUpTo(KafkaProbe& probe, EngineProcess& engine, int64_t progress,
                                       const std::string& kek) {
  if (!WaitForProgress(probe, progress, kEngineDeadline, nullptr)) {
    return ::testing::AssertionFailure()
           << Progress(probe).value_or(-1) << " of " << progress << "\n"
           << engine.LogTail();
  }
  return Settled(probe, engine, kek);
}

// Stops the engine with SIGTERM: it must exit 0 within 40 s.
::testing::AssertionResult Stopped(EngineProcess& engine) {
  const std::optional<int> exit_code = engine.Terminate(std::chrono::seconds(40));
  if (exit_code == std::optional<int>(0)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the engine exited with " << (exit_code ? std::to_string(*exit_code) : "no status")
         << "\n"
         << engine.LogTail();
}

// `config` for the engine that goes on from the data directory `fresh` a restore wrote,
// with a log of its own in `dir`.
EngineConfig RestoredEngineConfig(EngineConfig config, const std::string& fresh,
                                  const WorkDir& dir) {
  config.data_dir = fresh;
  config.log_file = dir.Sub("restored-engine.log");
  return config;
}

int64_t CommandsOnTopic(KafkaProbe& probe) {
  return probe.Total({std::string(topics::kCommands)}).value_or(-1);
}

// ---------------------------------------------------------------------------------
// A partner's bad week.

struct BadWeek {
  InboundStream sent;         // what arrived: some steps from the bad partner
  InboundStream never;        // the same without those steps: what should have been
  std::set<std::string> ids;  // the bad steps' event ids
};

// About a third of the pathway steps of `stream` (never a family's first command,
// which opens the case) sent by kBadSystem instead, every copy of one alike (a partner's
// retry repeats the bad step). Only those: the reference run without them must be
// what the re-drive gives. (A bad step sharing its event id with another sender's
// command withdraws only itself: RedriveCommand.WithdrawsOnlyTheNamedSystemsCommand...)
BadWeek WithABadPartner(const InboundStream& stream) {
  std::set<std::string> first;  // each family's first command ("f<n>-" + its id)
  std::set<std::string> families;
  for (const InboundMessage& m : stream.messages) {
    v1::Envelope e;
    if (!e.ParseFromString(m.value) || e.event_id().empty()) continue;
    const std::string& id = e.event_id();
    if (families.insert(id.substr(0, id.find('-'))).second) first.insert(id);
  }
  BadWeek week;
  week.sent = stream;
  week.sent.messages.clear();
  week.never = week.sent;
  for (const InboundMessage& m : stream.messages) {
    v1::Envelope e;
    const bool bad = e.ParseFromString(m.value) && !e.event_id().empty() &&
                     !first.count(e.event_id()) && workflow::FindCommandRoute(e) != nullptr &&
                     static_cast<unsigned char>(Sha256(e.event_id())[0]) % 3 == 0;
    if (!bad) {
      week.sent.messages.push_back(m);
      week.never.messages.push_back(m);
      continue;
    }
    e.mutable_source()->set_system(kBadSystem);
    week.sent.messages.push_back({m.partition, m.key, e.SerializeAsString()});
    week.ids.insert(e.event_id());
  }
  return week;
}

// The operation id a pathwayctl run printed ("redrive: apply, operation <id>").
std::string OperationOf(const RunResult& r) {
  const std::string marker = ", operation ";
  const size_t at = r.err.find(marker);
  EXPECT_NE(at, std::string::npos) << r.err;
  if (at == std::string::npos) return "";
  const size_t begin = at + marker.size();
  return r.err.substr(begin, r.err.find_first_of(" \n", begin) - begin);
}

// The re-drives on pathway.commands.v1: event id -> the command.
std::map<std::string, v1::Envelope> Redrives(const std::string& bootstrap) {
  std::map<std::string, v1::Envelope> out;
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kCommands)) {
    v1::Envelope e;
    if (!e.ParseFromString(m.value) || !e.has_case_redrive_requested()) continue;
    EXPECT_EQ(m.key.value_or(""), e.subject_key()) << "keyed by the child";
    out[e.event_id()] = std::move(e);
  }
  return out;
}

// The corrections the re-drives caused (a late command's CaseCorrected is the engine's
// ordinary business, not counted): event ids per subject, and copies on the wire per id.
struct Corrections {
  std::map<std::string, std::set<std::string>> ids;  // subject -> distinct event ids
  std::map<std::string, int> copies;                 // event id -> copies
};

Corrections ReadCorrections(const std::string& bootstrap,
                            const std::map<std::string, v1::Envelope>& redrives) {
  Corrections out;
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kEvents)) {
    v1::Envelope e;
    if (!e.ParseFromString(m.value) || !e.has_case_corrected()) continue;
    auto cause = redrives.find(e.case_corrected().caused_by());
    if (cause == redrives.end()) continue;
    EXPECT_EQ(cause->second.subject_key(), e.subject_key()) << "corrected another child";
    out.ids[e.subject_key()].insert(e.event_id());
    ++out.copies[e.event_id()];
  }
  return out;
}

TEST(Operations, RedriveApplyKilledAndRunAgainCorrectsEachChangedCaseOnce) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 15);
  const auto started = Clock::now();
  WorkDir dir("ops-redrive");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  const std::string kek = ReadKek(key_file);
  const BadWeek week = WithABadPartner(
      GenerateInboundStream(seed, 400, kTestPartitions, {.invalid = false, .undecodable = false}));
  std::cout << "[redrive] " << week.sent.Summary() << "; " << week.ids.size() << " steps sent by "
            << kBadSystem << "\n";
  ASSERT_GE(week.ids.size(), 20u);

  // What should have been: a reference run in which the bad steps were never sent.
  const RunOutcome reference = ReferenceRun(week.never, key_file, dir);
  const std::map<std::string, std::string> should = CanonicalCases(reference);

  auto cluster = TestCluster::FromEnvironment(1);
  const std::string bootstrap = cluster->bootstrap();
  std::cout << "[redrive] on " << (cluster->is_real() ? "the real Kafka " : "the mock ")
            << bootstrap << "\n";
  Publish(bootstrap, week.sent);
  KafkaProbe probe(bootstrap);
  const EngineConfig config =
      NamedEngineConfig(*cluster, dir, "engine", key_file, UniqueGroupPrefix("ops-redrive"));
  const std::string& data = config.data_dir;
  EngineProcess engine(config);
  ASSERT_TRUE(Started(probe, engine, kek));

  // The children the bad steps changed: their case is not the one it should be.
  const std::map<std::string, std::string> before = CanonicalCases(data, kek);
  ASSERT_EQ(before.size(), should.size()) << "the bad steps opened or lost no case";
  std::set<std::string> changed;
  for (const auto& [subject, canonical] : before) {
    ASSERT_TRUE(should.count(subject)) << subject;
    if (should.at(subject) != canonical) changed.insert(subject);
  }
  std::cout << "[redrive] " << before.size() << " children, " << changed.size()
            << " changed by the bad steps\n";
  ASSERT_GE(changed.size(), 5u) << "not vacuous";
  ASSERT_LT(changed.size(), before.size()) << "some children are untouched";

  const Operator ops(dir.path(), bootstrap, key_file, "INC-1301: trust PAS sent wrong steps");
  const std::vector<std::string> week_flags = {
      "--data-dir", data, "--exclude-source", kBadSystem, "--from", kDay,
      "--to",       kDay, "--as-of",          kDay};

  // 2. The dry run lists the children whose case changes (and those whose bad steps
  // changed nothing, which are withdrawn all the same).
  RunResult dry =
      ops.Run("redrive", Join<std::string>(week_flags, {"--all", "--dry-run", "--json"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err << dry.out;
  const Struct plan = ParseJson(dry.out);
  EXPECT_EQ(plan.fields().at("would_change").number_value(), static_cast<double>(changed.size()));
  EXPECT_GT(plan.fields().at("commands_left_out").number_value(), 0);
  std::map<std::string, int32_t> listed;  // subject -> partition
  for (const auto& item : plan.fields().at("cases_changed").list_value().values()) {
    const auto& f = item.struct_value().fields();
    listed[f.at("subject_key").string_value()] =
        static_cast<int32_t>(f.at("partition").number_value());
    for (const auto& id : f.at("excluded_commands").list_value().values()) {
      EXPECT_TRUE(week.ids.count(id.string_value())) << id.string_value() << " was not bad";
    }
  }
  for (const auto& subject : changed) EXPECT_TRUE(listed.count(subject)) << subject;
  // Another window (the day after) leaves nothing out.
  RunResult later =
      ops.Run("redrive", {"--data-dir", data, "--all", "--dry-run", "--json", "--exclude-source",
                          kBadSystem, "--from", "2026-01-06", "--as-of", kDay});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(ParseJson(later.out).fields().at("would_change").number_value(), 0);

  // 3. A first run over one partition only: part of the children, applied by the engine.
  const int32_t first_partition = listed.at(*changed.begin());
  size_t in_first = 0;
  for (const auto& [subject, p] : listed) in_first += p == first_partition;
  ASSERT_LT(in_first, listed.size()) << "the first run must leave children for the next";
  RunResult first = ops.Run(
      "redrive",
      Join<std::string>(week_flags, {"--partition", std::to_string(first_partition), "--apply"}));
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  EXPECT_NE(first.out.find(Text("; ", in_first, " re-drive commands sent to the engine")),
            std::string::npos)
      << first.out;
  ASSERT_TRUE(Settled(probe, engine, kek));
  {
    const Corrections so_far = ReadCorrections(bootstrap, Redrives(bootstrap));
    for (const auto& subject : changed) {
      const size_t expected = listed.at(subject) == first_partition ? 1 : 0;
      EXPECT_EQ(so_far.ids.count(subject) ? so_far.ids.at(subject).size() : 0, expected) << subject;
    }
  }

  // 4. The engine goes down. A run over everything is SIGKILLed once its first command is
  // on the topic; nothing it sent is applied, so the run after it plans from the same
  // stores and sends every child not corrected yet again (under another operation id).
  engine.Kill();
  const int64_t commands_before = CommandsOnTopic(probe);
  ASSERT_GE(commands_before, 0);
  bool killed_part_way = false;
  std::string killed_operation;
  {
    CtlProcess run(dir.path(),
                   ops.Args("redrive", Join<std::string>(week_flags, {"--all", "--apply"})), {},
                   "/dev/null", "killed-");
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (CommandsOnTopic(probe) <= commands_before && run.Running()) {
      ASSERT_LT(Clock::now(), deadline) << "no re-drive command appeared";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    killed_part_way = run.Running();
    RunResult killed = run.Kill();
    ASSERT_TRUE(killed_part_way || killed.exit_code == 0) << killed.err;
    killed_operation = OperationOf(killed);
  }
  RunResult again = ops.Run("redrive", Join<std::string>(week_flags, {"--all", "--apply"}));
  ASSERT_EQ(again.exit_code, 0) << again.err << again.out;
  EXPECT_NE(
      again.out.find(Text("; ", listed.size() - in_first, " re-drive commands sent to the engine")),
      std::string::npos)
      << again.out;

  // 5. The engine back: it applies every re-drive; those sent twice change nothing twice.
  ASSERT_TRUE(Started(probe, engine, kek));
  RunResult nothing_left = ops.Run("redrive", Join<std::string>(week_flags, {"--all", "--apply"}));
  ASSERT_EQ(nothing_left.exit_code, 0) << nothing_left.err;
  EXPECT_NE(nothing_left.out.find("; 0 re-drive commands sent"), std::string::npos)
      << nothing_left.out;
  RunResult rebuilt = ops.Run("rebuild", {"--data-dir", data, "--all", "--as-of", kDay});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.err << rebuilt.out;
  EXPECT_NE(rebuilt.out.find(Text("", before.size(), " cases checked")), std::string::npos)
      << rebuilt.out;
  ASSERT_TRUE(Stopped(engine));

  // 6a. On pathway.events.v1: one CaseCorrected per changed child, once on the wire, caused
  // by a re-drive for that child that names only bad steps; none for any other child.
  const std::map<std::string, v1::Envelope> redrives = Redrives(bootstrap);
  for (const auto& [id, e] : redrives) {
    EXPECT_TRUE(listed.count(e.subject_key())) << e.subject_key();
    for (const auto& withdrawn : e.case_redrive_requested().withdraw_event_ids()) {
      EXPECT_TRUE(week.ids.count(withdrawn)) << withdrawn;
    }
  }
  // Per run: the first sent its partition's children, the killed one some of the rest
  // (what it had handed to the broker before the SIGKILL), the one after it all the rest.
  std::map<std::string, size_t> per_run;  // operation id -> re-drives
  for (const auto& [id, e] : redrives) ++per_run[e.case_redrive_requested().operation_id()];
  const size_t rest = listed.size() - in_first;
  EXPECT_EQ(per_run[OperationOf(first)], in_first);
  EXPECT_EQ(per_run[OperationOf(again)], rest);
  const size_t sent_by_killed = per_run[killed_operation];
  EXPECT_GE(sent_by_killed, 1u);
  EXPECT_LE(sent_by_killed, rest);
  EXPECT_EQ(per_run.size(), 3u);
  std::cout << "[redrive] the run over everything "
            << (killed_part_way ? "was SIGKILLed" : "had ended before the SIGKILL") << " with "
            << sent_by_killed << " of " << rest << " re-drive commands sent\n";
  const Corrections corrections = ReadCorrections(bootstrap, redrives);
  for (const auto& subject : changed) {
    ASSERT_TRUE(corrections.ids.count(subject)) << subject << " was not corrected";
    EXPECT_EQ(corrections.ids.at(subject).size(), 1u) << subject << " was corrected twice";
  }
  for (const auto& [subject, ids] : corrections.ids) {
    EXPECT_TRUE(changed.count(subject)) << subject << " was corrected but had nothing to change";
  }
  for (const auto& [id, copies] : corrections.copies) {
    EXPECT_EQ(copies, 1) << id << " is on the wire " << copies << " times";
  }

  // 6b. In the stores: every case is the case it should have been, and no bad step is
  // left among any child's kept commands.
  RunOutcome after;
  after.state = DumpCaseState(data, kek);
  const std::map<std::string, std::string> now = CanonicalCases(after);
  size_t different = 0;
  for (const auto& [subject, canonical] : should) {
    auto it = now.find(subject);
    if (it == now.end() || it->second != canonical) {
      if (++different <= 3) {
        ADD_FAILURE() << subject << " is not the case it should have been; it should be\n"
                      << ReadableCaseDump(reference.state.at(subject)) << "it is\n"
                      << ReadableCaseDump(after.state[subject]);
      }
    }
  }
  EXPECT_EQ(different, 0u);
  EXPECT_EQ(now.size(), should.size());
  for (const auto& [subject, dump] : after.state) {
    for (const auto& kept : workflow::CommandsOf(ParseCaseDump(dump).history)) {
      EXPECT_FALSE(week.ids.count(kept.event_id())) << kept.event_id() << " is still kept";
    }
  }
  EXPECT_EQ(OutboxEntries(data), 0u);

  // 6c. Audited: every run started before it read anything; all but the killed one ended.
  std::map<v1::OperationPhase, int> phases;
  int views = 0;
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kAudit)) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    if (e.has_audit_recorded()) ++views;
    if (!e.has_operation_recorded() || e.operation_recorded().operation() != "redrive") continue;
    ++phases[e.operation_recorded().phase()];
    EXPECT_EQ(e.operation_recorded().operator_id(), "ops.jones");
    EXPECT_TRUE(e.operation_recorded().reason().empty()) << "the reason travels sealed";
  }
  EXPECT_EQ(phases[v1::OPERATION_PHASE_STARTED], 6);
  // The killed run may have recorded its end before the SIGKILL reached it.
  EXPECT_GE(phases[v1::OPERATION_PHASE_FINISHED], killed_part_way ? 5 : 6);
  EXPECT_LE(phases[v1::OPERATION_PHASE_FINISHED], 6);
  EXPECT_GE(views, static_cast<int>(listed.size() * 2)) << "each child listed, on its trail";
  std::cout << "[redrive] " << redrives.size() << " re-drive commands, " << corrections.ids.size()
            << " children corrected once each, in " << Ms(Clock::now() - started) << " ms\n";
}

// Runbook "A store may be damaged": a case damaged at rest (the referral's date moved,
// in the store only: the changelog still holds what was committed) is found by
// `rebuild`, and `rebuild --repair` has the running engine re-decide it: one
// CaseCorrected for that child, and the case it was before the damage.
// docs/operations.md, "Choosing the window": an engine whose dedupe window is shorter
// than the retention of the topics Kafka re-delivers from does not start, and says
// which topic and what to set. The real Kafka's topics keep messages for a week (the
// broker's default); the mock cannot describe topics, so there the check is skipped,
// logged, and the engine starts.
TEST(Operations, ADedupeWindowShorterThanTheTopicsRetentionStopsTheStart) {
  WorkDir dir("ops-window");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), 5);
  auto cluster = TestCluster::FromEnvironment(1);
  EngineConfig config =
      NamedEngineConfig(*cluster, dir, "engine", key_file, UniqueGroupPrefix("ops-window"));
  config.extra_args.insert(config.extra_args.end(), {"--dedupe-retention-days", "1"});
  EngineProcess engine(config);
  engine.Start();
  if (cluster->is_real()) {
    const std::optional<int> exit_code = engine.WaitExit(std::chrono::seconds(60));
    ASSERT_EQ(exit_code, std::optional<int>(1)) << engine.LogTail();
    const std::string log = engine.Log();
    EXPECT_NE(log.find("event=dedupe_window_too_short topic=pathway.inbound.v1"), std::string::npos)
        << log;
    EXPECT_NE(log.find("set it to at least 7"), std::string::npos) << log;
    EXPECT_EQ(log.find("event=engine_started"), std::string::npos) << "nothing was processed";
    return;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (engine.Log().find("event=engine_started") == std::string::npos &&
         Clock::now() < deadline && engine.Running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polls the log
  }
  const std::string log = engine.Log();
  EXPECT_NE(log.find("event=topic_retention_unchecked"), std::string::npos) << log;
  EXPECT_NE(log.find("not supported"), std::string::npos) << log;
  EXPECT_NE(log.find("event=engine_started"), std::string::npos) << log;
  ASSERT_TRUE(Stopped(engine));
}

TEST(Operations, RebuildRepairHasTheEngineReDecideADamagedCaseInTheOpen) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 18);
  const auto started = Clock::now();
  WorkDir dir("ops-repair");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  const std::string kek = ReadKek(key_file);
  const InboundStream stream =
      GenerateInboundStream(seed, 200, kTestPartitions, {.invalid = false, .undecodable = false});
  auto cluster = TestCluster::FromEnvironment(1);
  const std::string bootstrap = cluster->bootstrap();
  std::cout << "[repair] " << stream.Summary() << "; on "
            << (cluster->is_real() ? "the real Kafka " : "the mock ") << bootstrap << "\n";
  Publish(bootstrap, stream);
  KafkaProbe probe(bootstrap);
  const EngineConfig config =
      NamedEngineConfig(*cluster, dir, "engine", key_file, UniqueGroupPrefix("ops-repair"));
  const std::string& data = config.data_dir;
  EngineProcess engine(config);
  ASSERT_TRUE(Started(probe, engine, kek));
  ASSERT_TRUE(Stopped(engine));
  const std::map<std::string, std::string> sound = CanonicalCases(data, kek);

  // The first child with a referral, damaged in its partition's store.
  std::string damaged;
  {
    state::StoreSet stores(data + "/state", "", kek);
    auto partitions = stores.PartitionsOnDisk();
    ASSERT_TRUE(partitions.ok());
    for (int32_t p : *partitions) {
      auto cases = stores.Open(p);
      ASSERT_TRUE(cases.ok()) << cases.error().ToString();
      for (const auto& [subject, canonical] : sound) {
        auto loaded = (*cases)->LoadCase(subject);
        ASSERT_TRUE(loaded.ok());
        if (!loaded->has_value() || (**loaded).referrals_size() == 0) continue;
        state::Batch damage;
        damage.subject_key = subject;
        damage.new_state = **loaded;
        auto* received = damage.new_state->mutable_referrals(0)->mutable_received_on();
        received->set_day(received->day() == 1 ? 2 : 1);
        ASSERT_TRUE((*cases)->Commit(damage).ok());
        damaged = subject;
        break;
      }
      if (!damaged.empty()) break;
    }
  }
  ASSERT_FALSE(damaged.empty()) << "no child with a referral";

  // The engine runs on (it keeps its store: nobody took the partition over).
  engine.Start();
  const Operator ops(dir.path(), bootstrap, key_file, "INC-1240: disk fault");
  RunResult found = ops.Run("rebuild", {"--data-dir", data, "--all", "--as-of", kDay});
  EXPECT_EQ(found.exit_code, 3) << found.err << found.out;
  EXPECT_NE(found.out.find("diverged: subject " + damaged), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("referrals[0].received_on.day"), std::string::npos) << found.out;
  RunResult repaired =
      ops.Run("rebuild", {"--data-dir", data, "--all", "--as-of", kDay, "--repair"});
  EXPECT_EQ(repaired.exit_code, 3) << repaired.err << repaired.out;
  EXPECT_NE(repaired.out.find("1 repair sent to the engine"), std::string::npos) << repaired.out;
  ASSERT_TRUE(Settled(probe, engine, kek));
  RunResult clean = ops.Run("rebuild", {"--data-dir", data, "--all", "--as-of", kDay});
  EXPECT_EQ(clean.exit_code, 0) << clean.err << clean.out;
  ASSERT_TRUE(Stopped(engine));

  const std::map<std::string, v1::Envelope> redrives = Redrives(bootstrap);
  ASSERT_EQ(redrives.size(), 1u);
  EXPECT_EQ(redrives.begin()->second.subject_key(), damaged);
  EXPECT_EQ(redrives.begin()->second.case_redrive_requested().withdraw_event_ids_size(), 0);
  const Corrections corrections = ReadCorrections(bootstrap, redrives);
  ASSERT_EQ(corrections.ids.size(), 1u);
  ASSERT_TRUE(corrections.ids.count(damaged));
  EXPECT_EQ(corrections.ids.at(damaged).size(), 1u);
  for (const auto& [id, copies] : corrections.copies) EXPECT_EQ(copies, 1) << id;
  EXPECT_EQ(CanonicalCases(data, kek), sound) << "every case as it was before the damage";
  std::cout << "[repair] " << sound.size() << " children, 1 damaged and repaired, in "
            << Ms(Clock::now() - started) << " ms\n";
}

// ---------------------------------------------------------------------------------
// Backup and restore.

// A young adult (born 1996) whose records no retention rule keeps: erased when asked.
constexpr const char* kYoungAdult = kValidNhsNumber;

InboundMessage Inbound(v1::Envelope e) {
  MoveDatesToFixedDay(e);
  return InboundMessage{0, e.event_id(), e.SerializeAsString()};
}

TEST(Operations, ALostServerRestoredFromABackupGoesOnWithEveryOutputOnceAndTheErasureKept) {
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 16);
  const auto started = Clock::now();
  WorkDir dir("ops-restore");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  const std::string kek = ReadKek(key_file);
  bool created = false;
  auto keyer = engine::SubjectKeyer::Load(key_file, dir.path(), &created);
  ASSERT_TRUE(keyer.ok());
  const std::string young_adult = keyer->Key(kYoungAdult);

  // Before the backup and until the server is lost (the young adult referred, then
  // erased after the backup), and after the restore (the young adult's family writes).
  const InboundStream stream = GenerateInboundStream(seed, 600, kTestPartitions);
  std::cout << "[restore] " << stream.Summary() << "\n";
  auto parts = SplitStream(stream, 3);
  parts[0].push_back(Inbound(ReferralA(true)));
  const std::vector<InboundMessage> erasure = {Inbound(Erase("erase-ya", kYoungAdult))};
  parts[2].push_back(Inbound(Story("story-ya", kYoungAdult, "likes the swings")));

  // The uninterrupted reference (until the loss, then after the restore).
  std::vector<int64_t> progress;
  const RunOutcome reference =
      ReferenceRun({Join(Join(parts[0], parts[1]), erasure), parts[2]}, key_file, dir, &progress);
  ExpectOneTransitionPerEvent(reference, "reference");
  ASSERT_EQ(progress.size(), 2u);
  bool erased_in_reference = false;
  for (const auto& [id, copy] : reference.outputs) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(copy.value));
    erased_in_reference =
        erased_in_reference || (e.subject_key() == young_adult && e.has_erasure_completed());
  }
  ASSERT_TRUE(erased_in_reference) << "the young adult's erasure must be carried out";

  auto cluster = TestCluster::FromEnvironment(1);
  const std::string bootstrap = cluster->bootstrap();
  std::cout << "[restore] on " << (cluster->is_real() ? "the real Kafka " : "the mock ")
            << bootstrap << "\n";
  KafkaProbe probe(bootstrap);
  const EngineConfig config =
      NamedEngineConfig(*cluster, dir, "lost", key_file, UniqueGroupPrefix("ops-restore"));
  const Operator ops(dir.path(), bootstrap, key_file, "INC-2001: server lost");
  const std::string backup = dir.Sub("backup");

  // The server: a backup taken while it decides the first part and the second arrives.
  Publish(bootstrap, parts[0]);
  EngineProcess lost(config);
  lost.Start();
  {
    const auto deadline = Clock::now() + kEngineDeadline;
    while (probe.Total({std::string(topics::kEvents)}).value_or(0) == 0) {
      ASSERT_LT(Clock::now(), deadline) << "no event out\n" << lost.LogTail();
      ASSERT_TRUE(lost.Running()) << lost.LogTail();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  {
    CtlProcess running(
        dir.path(), ops.Args("backup", {"--data-dir", config.data_dir, "--out", backup, "--json"}),
        {}, "/dev/null", "backup-");
    Publish(bootstrap, parts[1]);
    RunResult backed_up = running.Wait(std::chrono::seconds(180));
    ASSERT_EQ(backed_up.exit_code, 0) << backed_up.err << backed_up.out;
    int64_t held = 0;
    const Struct manifest = ParseJson(backed_up.out);
    for (const auto& p : manifest.fields().at("partitions").list_value().values()) {
      held +=
          static_cast<int64_t>(p.struct_value().fields().at("commands_next_offset").number_value());
    }
    std::cout << "[restore] the backup holds the decisions on " << held << " commands of "
              << CommandsOnTopic(probe) << " on the topic when it ended\n";
  }

  // After the backup: the young adult erased; all of it out and on the changelog; then
  // the server and its disk are lost.
  Publish(bootstrap, erasure);
  ASSERT_TRUE(DecidedUpTo(probe, lost, progress[0], kek));
  lost.Kill();
  fs::remove_all(config.data_dir);

  // Restore onto a new directory; a new engine on it goes on with the last part.
  const std::string fresh = dir.Sub("new-data");
  RunResult restored = ops.Run("restore", {"--from", backup, "--data-dir", fresh});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  std::cout << "[restore] restore: " << restored.out;
  EXPECT_NE(restored.out.find("1 erasures after the backup applied (1 found, 1 on the changelog"),
            std::string::npos)
      << restored.out;
  EXPECT_NE(restored.out.find("0 unreadable, 0 diverged"), std::string::npos) << restored.out;
  EXPECT_EQ(restored.out.find(kYoungAdult), std::string::npos);
  EXPECT_FALSE(fs::exists(fresh + "/state/RESTORE-INCOMPLETE"));
  EngineProcess next(RestoredEngineConfig(config, fresh, dir));
  next.Start();
  Publish(bootstrap, parts[2]);
  ASSERT_TRUE(DecidedUpTo(probe, next, progress[1], kek));
  ASSERT_TRUE(Stopped(next));
  EXPECT_FALSE(LogEvents(next.Log(), "partition_restored").empty()) << next.LogTail();

  // Every output of the reference, once on the wire; every case and history the same.
  RunOutcome actual;
  ReadOutputs(bootstrap, actual, std::chrono::seconds(60));
  actual.state = DumpCaseState(fresh, kek);
  actual.outbox_left = OutboxEntries(fresh);
  ExpectSameOutcome(reference, actual);
  EXPECT_EQ(actual.wire_duplicates, 0u) << "an output sent twice";

  // The young adult stays erased: the store keeps only the mark, and the family's
  // story after the restore is refused.
  {
    ASSERT_TRUE(actual.state.count(young_adult));
    const CaseDump dump = ParseCaseDump(actual.state.at(young_adult));
    ASSERT_TRUE(dump.state.has_value());
    EXPECT_TRUE(dump.state->erased());
    EXPECT_EQ(dump.state->pathways_size(), 0);
    ASSERT_EQ(dump.history.size(), 1u);
    EXPECT_TRUE(dump.history[0].has_erasure_completed());
    bool refused = false;
    for (const auto& [id, copy] : actual.outputs) {
      v1::Envelope e;
      ASSERT_TRUE(e.ParseFromString(copy.value));
      refused = refused || (e.has_command_rejected() &&
                            e.command_rejected().rejected_event_id() == "story-ya" &&
                            e.command_rejected().rule() == "subject_erased");
    }
    EXPECT_TRUE(refused) << "the erased child's next command is refused";
  }

  // Both actions audited, each started before it read anything (one operation's records
  // share a key, so their order on the topic is theirs).
  std::map<std::string, std::vector<std::string>> operations;  // id -> "<name> <phase>"
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kAudit)) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    if (!e.has_operation_recorded()) continue;
    const auto& op = e.operation_recorded();
    operations[op.operation_id()].push_back(op.operation() + " " +
                                            v1::OperationPhase_Name(op.phase()));
  }
  std::multiset<std::vector<std::string>> audited;
  for (const auto& [id, records] : operations) audited.insert(records);
  EXPECT_EQ(audited, (std::multiset<std::vector<std::string>>{
                         {"backup OPERATION_PHASE_STARTED", "backup OPERATION_PHASE_FINISHED"},
                         {"restore OPERATION_PHASE_STARTED", "restore OPERATION_PHASE_FINISHED"}}));
  std::cout << "[restore] " << actual.outputs.size() << " distinct outputs, "
            << actual.wire_messages << " on the wire, " << actual.state.size() << " subjects, in "
            << Ms(Clock::now() - started) << " ms\n";
}

// Runbook "Restore from backup": the changelog is lost too (its topic deleted and
// created anew, empty), and what the backup holds is gone from pathway.commands.v1
// (retention: Kafka's DeleteRecords). Only the backup gives it back; the restored engine
// decides the commands since the backup again, with the same event ids. Real Kafka only:
// librdkafka's mock cluster can delete neither a topic nor records.
TEST(Operations, WithTheChangelogLostARestoredEngineGoesOnFromTheBackup) {
  if (!TestCluster::RealRequested())
    GTEST_SKIP() << "deleting a topic and records needs a real Kafka";
  const uint64_t seed = EnvNumber("PATHWAY_TEST_SEED", 17);
  const auto started = Clock::now();
  WorkDir dir("ops-changelog-lost");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), seed);
  const std::string kek = ReadKek(key_file);
  const InboundStream stream = GenerateInboundStream(seed, 600, kTestPartitions);
  std::cout << "[changelog-lost] " << stream.Summary() << "\n";
  const auto parts = SplitStream(stream, 3);
  std::vector<int64_t> progress;
  const RunOutcome reference =
      ReferenceRun({Join(parts[0], parts[1]), parts[2]}, key_file, dir, &progress);

  auto cluster = TestCluster::Real();
  const std::string bootstrap = cluster->bootstrap();
  KafkaProbe probe(bootstrap);
  const EngineConfig config =
      NamedEngineConfig(*cluster, dir, "lost", key_file, UniqueGroupPrefix("ops-changelog"));
  const Operator ops(dir.path(), bootstrap, key_file, "INC-2002: changelog lost");
  const std::string backup = dir.Sub("backup");

  // The backup once the first part is decided; the second part after it.
  Publish(bootstrap, parts[0]);
  EngineProcess lost(config);
  ASSERT_TRUE(Started(probe, lost, kek));
  RunResult backed_up =
      ops.Run("backup", {"--data-dir", config.data_dir, "--out", backup, "--json"});
  ASSERT_EQ(backed_up.exit_code, 0) << backed_up.err << backed_up.out;
  std::vector<bus::TopicPartition> held;  // the backup's next command offset per partition
  int64_t held_total = 0;
  {
    const Struct manifest = ParseJson(backed_up.out);
    for (const auto& p : manifest.fields().at("partitions").list_value().values()) {
      const auto& f = p.struct_value().fields();
      held.push_back({std::string(topics::kCommands),
                      static_cast<int32_t>(f.at("partition").number_value()),
                      static_cast<int64_t>(f.at("commands_next_offset").number_value())});
      held_total += held.back().offset;
    }
  }
  ASSERT_EQ(held.size(), static_cast<size_t>(kTestPartitions));
  Publish(bootstrap, parts[1]);
  ASSERT_TRUE(DecidedUpTo(probe, lost, progress[0], kek));
  const int64_t since_backup = CommandsOnTopic(probe) - held_total;
  ASSERT_GT(since_backup, 0);
  lost.Kill();
  fs::remove_all(config.data_dir);

  // The changelog lost, and the commands the backup holds gone.
  RecreateTopics(bootstrap, {std::string(topics::kChangelog)}, kTestPartitions);
  {
    bus::KafkaConfig kafka;
    kafka.bootstrap_servers = bootstrap;
    auto admin = bus::NewKafkaConsumer(kafka, "");
    ASSERT_TRUE(admin.ok()) << admin.error().ToString();
    Status deleted = (*admin)->DeleteRecordsBefore(held, std::chrono::seconds(30));
    ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
    for (const auto& tp : held) {
      auto start = (*admin)->StartOffset(tp.topic, tp.partition, std::chrono::seconds(10));
      ASSERT_TRUE(start.ok());
      EXPECT_EQ(*start, tp.offset) << "partition " << tp.partition;
    }
    (*admin)->Close();
  }

  const std::string fresh = dir.Sub("new-data");
  RunResult restored = ops.Run("restore", {"--from", backup, "--data-dir", fresh, "--json"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  {
    const Struct doc = ParseJson(restored.out);
    EXPECT_FALSE(doc.fields().at("findings").bool_value()) << restored.out;
    int64_t again = 0;
    for (const auto& p : doc.fields().at("partitions").list_value().values()) {
      const auto& f = p.struct_value().fields();
      EXPECT_EQ(f.at("continues_from").string_value(), "backup") << restored.out;
      const auto& commands = f.at("commands").struct_value().fields();
      EXPECT_EQ(commands.at("missing").number_value(), 0) << restored.out;
      again += static_cast<int64_t>(commands.at("again").number_value());
    }
    EXPECT_EQ(again, since_backup) << "the commands decided since the backup, decided again";
  }

  EngineProcess next(RestoredEngineConfig(config, fresh, dir));
  next.Start();
  Publish(bootstrap, parts[2]);
  ASSERT_TRUE(DecidedUpTo(probe, next, progress[1], kek));
  ASSERT_TRUE(Stopped(next));
  EXPECT_EQ(LogEvents(next.Log(), "changelog_truncated").size(),
            static_cast<size_t>(kTestPartitions))
      << next.LogTail();

  // The outputs and cases of the uninterrupted reference; the outputs of the commands
  // decided again are repeats on the wire with the ids of the first copies.
  RunOutcome actual;
  ReadOutputs(bootstrap, actual, std::chrono::seconds(60));
  actual.state = DumpCaseState(fresh, kek);
  actual.outbox_left = OutboxEntries(fresh);
  // A repeat has the first copy's bytes, except where a personal field is sealed under
  // the data key of a child the backup did not know: that key was only on the lost
  // changelog, so the child has a new one and the repeat is sealed under it (the first
  // copy's fields no longer open for anyone; docs/operations.md, "Restore from
  // backup"). Everything else about those copies is the same.
  const std::map<std::string, std::string> known = CanonicalCases(backup, kek);
  std::map<std::string, std::string> first_copy;  // event id -> bytes
  size_t resealed = 0;
  for (auto topic : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
    for (const bus::Message& m : ReadTopic(bootstrap, topic)) {
      v1::Envelope e;
      ASSERT_TRUE(e.ParseFromString(m.value));
      auto [it, inserted] = first_copy.try_emplace(e.event_id(), m.value);
      if (inserted || it->second == m.value) continue;
      ++resealed;
      EXPECT_FALSE(e.subject_key().empty() || known.count(e.subject_key()))
          << e.event_id() << ": a repeat with other bytes for a child the backup knew";
      v1::Envelope first;
      ASSERT_TRUE(first.ParseFromString(it->second));
      workflow::MaskSealedFields(first);
      workflow::MaskSealedFields(e);
      EXPECT_EQ(first.SerializeAsString(), e.SerializeAsString())
          << e.event_id() << ": the copies differ in more than their sealed fields";
    }
  }
  EXPECT_EQ(resealed, actual.inconsistent_copies);
  actual.inconsistent_copies = 0;  // accounted for above
  ExpectSameOutcome(reference, actual);

  // The restored engine re-seeded every partition's changelog from the kept store
  // (decision 133), so another instance on an empty data directory rebuilds every
  // partition from the changelog alone, the backup's children included.
  EXPECT_EQ(LogEvents(next.Log(), "changelog_reseeded").size(),
            static_cast<size_t>(kTestPartitions))
      << next.LogTail();
  EngineConfig other_config = RestoredEngineConfig(config, dir.Sub("other-data"), dir);
  other_config.log_file = dir.Sub("other-engine.log");
  EngineProcess other(other_config);
  other.Start();
  // Its group caught up long ago: wait for it to take every partition over.
  for (const auto deadline = Clock::now() + std::chrono::seconds(120);
       LogEvents(other.Log(), "partition_restored").size() < static_cast<size_t>(kTestPartitions);
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    ASSERT_LT(Clock::now(), deadline) << "no takeover of every partition\n" << other.LogTail();
    ASSERT_TRUE(other.Running()) << other.LogTail();
  }
  ASSERT_TRUE(Settled(probe, other, kek));
  ASSERT_TRUE(Stopped(other));
  EXPECT_EQ(LogEvents(other.Log(), "partition_restored").size(),
            static_cast<size_t>(kTestPartitions))
      << other.LogTail();
  EXPECT_TRUE(LogEvents(other.Log(), "changelog_incomplete").empty()) << other.LogTail();
  EXPECT_EQ(DumpCaseState(other_config.data_dir, kek), actual.state)
      << "the other instance holds what the restored one held";
  std::cout << "[changelog-lost] " << since_backup << " commands decided again; "
            << actual.outputs.size() << " distinct outputs, " << actual.wire_duplicates
            << " repeats on the wire, " << resealed << " of them sealed under a new data key; in "
            << Ms(Clock::now() - started) << " ms\n";
}

}  // namespace
}  // namespace pathway::testing
