// pathwayctl backup and restore run as subprocesses (docs/operations.md, "Backup and
// restore", and the runbook entries "A lost server" and "Restore from backup"): a real
// Engine writes its stores over the memory bus; backup copies them while it runs; what
// the engine published (changelog, events, commands) is copied onto an in-process mock
// Kafka, where restore reads it and the audit trail goes; a new Engine on the restored
// directory and a copy of the engine's topics goes on.
//
// "No loss or duplication" is checked against a reference engine that took the same
// input without interruption: every child's case and history are the same, and the
// output event ids are the same set (outputs repeat on the wire only where the engine
// decides commands again, always with the same id: docs/guarantees.md).
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/bus/kafka_bus.h"
#include "services/devbroker/mock_cluster.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/common/two_children.h"
#include "tests/services/pathwayctl/run_ctl.h"

extern char** environ;

namespace pathway {
namespace {
namespace v1 = pathway::v1;
using pathway::testing::EngineHarness;
using pathway::testing::Erase;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kStoryA;
using pathway::testing::kStoryB;
using pathway::testing::kValidNhsNumber;
using pathway::testing::RunResult;
using pathway::testing::Story;
using pathway::testing::TestNhsNumber;
using pathway::testing::ValidReferral;
using ::testing::HasSubstr;
using ::testing::Not;

void Write(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

// The engine's secrets as the engine keeps them (EngineHarness's): 64 hex digits.
void WriteSecrets(const std::string& dir) {
  std::filesystem::create_directories(dir);
  Write(dir + "/subject-key", HexEncode(std::string(32, 'k')) + "\n");
  Write(dir + "/key-encryption-key", HexEncode(std::string(32, 'K')) + "\n");
}

// What partners send before the backup, between the backup and the loss, and to the
// new instance afterwards. A (a young adult) may be erased.
std::vector<v1::Envelope> Before() {
  std::vector<v1::Envelope> out = {pathway::testing::ReferralA(true), pathway::testing::ReferralB(),
                                   Story("story-a", kValidNhsNumber, kStoryA)};
  for (int i = 0; i < 8; ++i)
    out.push_back(ValidReferral("ref-" + std::to_string(i), TestNhsNumber(i)));
  return out;
}
std::vector<v1::Envelope> Between() {
  std::vector<v1::Envelope> out = {Story("story-b", kOtherValidNhsNumber, kStoryB)};
  for (int i = 0; i < 4; ++i) {
    out.push_back(Story("story-" + std::to_string(i), TestNhsNumber(i), "likes the swings"));
  }
  for (int i = 8; i < 12; ++i)
    out.push_back(ValidReferral("ref-" + std::to_string(i), TestNhsNumber(i)));
  return out;
}
std::vector<v1::Envelope> After() {
  std::vector<v1::Envelope> out;
  for (int i = 4; i < 8; ++i) {
    out.push_back(Story("story-" + std::to_string(i), TestNhsNumber(i), "walks to school"));
  }
  for (int i = 12; i < 16; ++i)
    out.push_back(ValidReferral("ref-" + std::to_string(i), TestNhsNumber(i)));
  return out;
}

void Feed(EngineHarness& h, const std::vector<v1::Envelope>& commands) {
  for (const auto& c : commands) h.Publish(c);
  Status s = h.RunUntilIdle();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
}

// How many times each output event id is on the engine's output topics.
std::map<std::string, int> OutputIds(const EngineHarness& h) {
  std::map<std::string, int> out;
  for (auto topic : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
    for (const auto& e : h.Read(topic)) ++out[e.event_id()];
  }
  return out;
}
// The children whose case or history differ between two engines (empty: none).
std::vector<std::string> Differences(EngineHarness& a, EngineHarness& b) {
  std::map<std::string, std::string> x = a.Cases(), y = b.Cases();
  std::vector<std::string> out;
  for (const auto& [subject, value] : x) {
    auto it = y.find(subject);
    if (it == y.end()) {
      out.push_back(subject + " only in the first");
    } else if (it->second != value) {
      out.push_back(subject + " differs");
    }
  }
  for (const auto& [subject, value] : y) {
    if (!x.count(subject)) out.push_back(subject + " only in the second");
  }
  return out;
}

std::set<std::string> Distinct(const std::map<std::string, int>& ids) {
  std::set<std::string> out;
  for (const auto& [id, n] : ids) out.insert(id);
  return out;
}

class PathwayctlBackupRestore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = devbroker::MockCluster::Start(1, {{std::string(topics::kAudit), 1},
                                                     {std::string(topics::kChangelog), 4},
                                                     {std::string(topics::kEvents), 4},
                                                     {std::string(topics::kCommands), 4}});
    ASSERT_TRUE(cluster.ok()) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
    WriteSecrets(h_.data_dir());
    backup_ = dir_.path() + "/backup";
    target_ = dir_.path() + "/new-data";
    WriteSecrets(target_);
  }

  RunResult Ctl(const std::string& command, std::vector<std::string> extra) {
    std::vector<std::string> args = {command,
                                     "--operator",
                                     "ops.jones",
                                     "--reason",
                                     "INC-9 lost server",
                                     "--bootstrap-servers",
                                     cluster_->BootstrapServers()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCtl(dir_.path(), args);
  }
  RunResult Backup(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--data-dir", h_.data_dir(), "--out", backup_});
    return Ctl("backup", extra);
  }
  RunResult Restore(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--from", backup_, "--data-dir", target_});
    return Ctl("restore", extra);
  }

  // Copies `topic` of `broker` onto the mock cluster, offset for offset (a record
  // deleted below the log start is copied as an empty placeholder: the mock cannot
  // delete records).
  void CopyToCluster(bus::MemoryBroker& broker, std::string_view topic) {
    bus::KafkaConfig config;
    config.bootstrap_servers = cluster_->BootstrapServers();
    int failed = 0;
    auto producer = bus::NewKafkaProducer(config, [&](const bus::Delivery& d) {
      if (d.error) ++failed;
    });
    ASSERT_TRUE(producer.ok()) << producer.error().ToString();
    const std::string name(topic);
    for (int32_t p = 0; p < broker.PartitionCount(name); ++p) {
      const auto& log = broker.Log(name, p);
      const int64_t start = broker.LogStart(name, p);
      for (size_t i = 0; i < log.size(); ++i) {
        const bus::Message& m = log[i];
        const std::string key = m.key.value_or("");
        bus::Outgoing out{name, key, m.value};
        out.tombstone = m.tombstone || static_cast<int64_t>(i) < start;
        out.partition = p;
        Status s;
        while (!(s = (*producer)->Send(out, i)).ok()) {
          ASSERT_EQ(s.error().code, bus::make_error_code(bus::errc::kQueueFull));
          (*producer)->Poll(std::chrono::milliseconds(50));
        }
      }
    }
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(30)).ok());
    ASSERT_EQ(failed, 0);
  }

  // Every record on pathway.audit.v1 (read with pathwayctl tail).
  std::vector<v1::Envelope> Audit(size_t expected) {
    return testing::AuditTrail(dir_.path(), cluster_->BootstrapServers(), expected);
  }

  // The restored store of the partition that holds `subject`, read-only.
  std::unique_ptr<state::CaseStore> RestoredStoreOf(const std::string& subject) {
    const int32_t p = h_.broker().PartitionFor(std::string(topics::kCommands), subject);
    auto store =
        state::CaseStore::OpenReadOnly(target_ + "/state/partition-" + std::to_string(p),
                                       state::StoreOptions{"", p, std::string(32, 'K'), nullptr});
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return std::move(*store);
  }

  // The backup's consumed offset of each partition, from its manifest.
  std::map<int32_t, int64_t> BackupOffsets() {
    google::protobuf::Struct manifest;
    std::string text = testing::ReadFile(backup_ + "/manifest.json");
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &manifest).ok()) << text;
    std::map<int32_t, int64_t> out;
    for (const auto& p : manifest.fields().at("partitions").list_value().values()) {
      const auto& f = p.struct_value().fields();
      const int32_t partition =
          f.count("partition") ? static_cast<int32_t>(f.at("partition").number_value()) : 0;
      out[partition] = std::stoll(f.at("commands_next_offset").string_value());
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::MockCluster> cluster_;
  EngineHarness h_;
  std::string backup_, target_;
};

// Runbook "A lost server": the server's disk is gone, Kafka (and the changelog) is not.
TEST_F(PathwayctlBackupRestore, ALostServerRestoredOnAFreshDirectoryGoesOnWithNoLossOrDuplication) {
  Feed(h_, Before());
  // The engine is running: its stores are open for writing while they are copied.
  RunResult backup = Backup();
  ASSERT_EQ(backup.exit_code, 0) << backup.err << backup.out;
  EXPECT_THAT(backup.out, HasSubstr("4 partitions"));
  EXPECT_THAT(backup.out, HasSubstr("the backup does not hold them"));
  EXPECT_TRUE(std::filesystem::exists(backup_ + "/manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(backup_ + "/BACKUP-INCOMPLETE"));
  EXPECT_FALSE(std::filesystem::exists(backup_ + "/key-encryption-key"));
  EXPECT_THAT(testing::ReadFile(backup_ + "/manifest.json"),
              Not(HasSubstr(HexEncode(std::string(32, 'K')))));
  // A backup has a data directory's layout: rebuild checks it, given the keys.
  RunResult checked =
      Ctl("rebuild", {"--data-dir", backup_, "--subject-key-file", h_.data_dir() + "/subject-key",
                      "--key-encryption-key-file", h_.data_dir() + "/key-encryption-key", "--all"});
  EXPECT_EQ(checked.exit_code, 0) << checked.err << checked.out;
  EXPECT_THAT(checked.out, HasSubstr("10 cases checked"));

  // After the backup: more work, and A erased. Then the server is lost.
  Feed(h_, Between());
  Feed(h_, {Erase("erase-a", kValidNhsNumber)});
  h_.Stop();
  for (auto topic : {topics::kChangelog, topics::kEvents, topics::kCommands}) {
    CopyToCluster(h_.broker(), topic);
  }

  RunResult restored = Restore();
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  EXPECT_THAT(restored.out, HasSubstr("the engine will rebuild it from the changelog"));
  EXPECT_THAT(restored.out, HasSubstr("1 erasures after the backup applied (1 found, 1 on the "
                                      "changelog"));
  EXPECT_THAT(restored.out, HasSubstr("0 unreadable, 0 diverged"));
  EXPECT_FALSE(std::filesystem::exists(target_ + "/state/RESTORE-INCOMPLETE"));
  // Erasure marks win: the restored store no longer holds A, whatever the engine does.
  {
    auto store = RestoredStoreOf(h_.SubjectOf(kValidNhsNumber));
    auto erased = store->Erased(h_.SubjectOf(kValidNhsNumber));
    ASSERT_TRUE(erased.ok());
    EXPECT_TRUE(*erased);
  }

  // The new instance: its changelog holds more than the backup, so it rebuilds from it.
  EngineHarness next(h_.broker(), target_);
  Feed(next, After());
  EngineHarness reference;
  Feed(reference, Before());
  Feed(reference, Between());
  Feed(reference, {Erase("erase-a", kValidNhsNumber)});
  Feed(reference, After());
  EXPECT_THAT(Differences(next, reference), ::testing::IsEmpty());
  EXPECT_EQ(next.Cases().size(), reference.Cases().size());
  const auto ids = OutputIds(next);
  EXPECT_EQ(Distinct(ids), Distinct(OutputIds(reference)));
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id << " is on the wire " << n << " times";

  // Both actions audited, each before it read anything.
  const auto audit = Audit(6);
  ASSERT_EQ(audit.size(), 6u);
  EXPECT_EQ(audit[0].operation_recorded().operation(), "backup");
  EXPECT_EQ(audit[0].operation_recorded().phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(audit[1].operation_recorded().phase(), v1::OPERATION_PHASE_FINISHED);
  EXPECT_EQ(audit[2].operation_recorded().operation(), "rebuild");
  EXPECT_EQ(audit[4].operation_recorded().operation(), "restore");
  EXPECT_THAT(audit[4].operation_recorded().scope(), HasSubstr("backup "));
  const auto& finished = audit[5].operation_recorded();
  EXPECT_EQ(finished.phase(), v1::OPERATION_PHASE_FINISHED);
  std::map<std::string, uint64_t> counts;
  for (const auto& c : finished.counts()) counts[c.name()] = c.value();
  EXPECT_EQ(counts["partitions"], 4u);
  EXPECT_EQ(counts["erasures_applied"], 1u);
  EXPECT_EQ(counts["diverged"], 0u);
}

// Runbook "Restore from backup": the changelog is lost too (emptied, recreated), and
// what the backup holds is gone from pathway.commands.v1 (retention): only the backup
// can give it back.
TEST_F(PathwayctlBackupRestore, WithTheChangelogLostTheEngineGoesOnFromTheBackup) {
  Feed(h_, Before());
  RunResult backup = Backup({"--json"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err << backup.out;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(backup.out, &doc).ok()) << backup.out;
  EXPECT_EQ(doc.fields().at("partitions").list_value().values_size(), 4);
  EXPECT_FALSE(doc.fields().at("backup_id").string_value().empty());
  Feed(h_, Between());
  h_.Stop();

  bus::MemoryBroker broker = h_.broker();
  for (int32_t p = 0; p < 4; ++p) broker.Truncate(std::string(topics::kChangelog), p, 0);
  for (const auto& [p, next] : BackupOffsets()) {
    ASSERT_TRUE(broker.DeleteRecordsBefore(std::string(topics::kCommands), p, next).ok());
  }
  for (auto topic : {topics::kEvents, topics::kCommands}) CopyToCluster(broker, topic);

  RunResult restored = Restore({"--json"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(restored.out, &doc).ok()) << restored.out;
  const auto& partitions = doc.fields().at("partitions").list_value().values();
  ASSERT_EQ(partitions.size(), 4);
  int64_t again = 0;
  for (const auto& p : partitions) {
    const auto& f = p.struct_value().fields();
    EXPECT_EQ(f.at("continues_from").string_value(), "backup");
    again +=
        static_cast<int64_t>(f.at("commands").struct_value().fields().at("again").number_value());
  }
  EXPECT_EQ(again, static_cast<int64_t>(Between().size()));
  EXPECT_FALSE(doc.fields().at("findings").bool_value());

  EngineHarness next(broker, target_);
  Feed(next, After());
  EngineHarness reference;
  Feed(reference, Before());
  Feed(reference, Between());
  Feed(reference, After());
  EXPECT_THAT(Differences(next, reference), ::testing::IsEmpty());
  EXPECT_EQ(next.Cases().size(), reference.Cases().size());
  EXPECT_EQ(Distinct(OutputIds(next)), Distinct(OutputIds(reference)));

  // The kept store re-seeded the changelog (decision 133), so another instance taking
  // every partition over rebuilds what the backup held from the changelog alone.
  EXPECT_GT(next.engine().stats().reseeded_records, 0u);
  next.Stop();
  EngineHarness other(next.broker());
  ASSERT_TRUE(other.RunUntilIdle().ok());
  EXPECT_EQ(other.engine().stats().restores, 4u);
  EXPECT_THAT(Differences(other, reference), ::testing::IsEmpty());
  EXPECT_EQ(other.Cases().size(), reference.Cases().size());
}

// An erased child stays erased: with the changelog lost, the ErasureCompleted on
// pathway.events.v1 is what tells restore.
TEST_F(PathwayctlBackupRestore, AChildErasedAfterTheBackupStaysErasedAfterTheRestore) {
  Feed(h_, Before());
  ASSERT_EQ(Backup().exit_code, 0);
  Feed(h_, {Erase("erase-a", kValidNhsNumber)});
  h_.Stop();
  bus::MemoryBroker broker = h_.broker();
  for (int32_t p = 0; p < 4; ++p) broker.Truncate(std::string(topics::kChangelog), p, 0);
  for (auto topic : {topics::kEvents, topics::kCommands}) CopyToCluster(broker, topic);

  RunResult restored = Restore();
  ASSERT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  EXPECT_THAT(restored.out, HasSubstr("1 erasures after the backup applied (1 found, 0 on the "
                                      "changelog"));
  EXPECT_THAT(restored.out, Not(HasSubstr(kValidNhsNumber)));
  const std::string a = h_.SubjectOf(kValidNhsNumber);
  {
    auto store = RestoredStoreOf(a);
    auto erased = store->Erased(a);
    ASSERT_TRUE(erased.ok());
    EXPECT_TRUE(*erased);
    auto state = store->LoadCase(a);
    ASSERT_TRUE(state.ok() && state->has_value());
    EXPECT_TRUE((*state)->erased());
    EXPECT_EQ((*state)->pathways_size(), 0);
    auto history = store->History(a);
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), 1u);
    EXPECT_TRUE((*history)[0].has_erasure_completed());
    bool timer = false;
    ASSERT_TRUE(store
                    ->Scan(state::ColumnFamily::kTimers,
                           [&](std::string_view, std::string_view value) {
                             pathway::store::v1::Timer t;
                             timer = timer || (t.ParseFromArray(value.data(),
                                                                static_cast<int>(value.size())) &&
                                               t.subject_key() == a);
                           })
                    .ok());
    EXPECT_FALSE(timer) << "an erased child's deadlines are gone";
  }

  // The new instance keeps the restored store; A's next command is refused.
  const size_t published = broker.ReadAll(std::string(topics::kEvents)).size();
  EngineHarness next(broker, target_);
  Feed(next, {Story("story-a-2", kValidNhsNumber, kStoryA),
              Story("story-b", kOtherValidNhsNumber, kStoryB)});
  auto erased = next.StoreFor(a).Erased(a);
  ASSERT_TRUE(erased.ok());
  EXPECT_TRUE(*erased);
  bool refused = false;
  for (const auto& r : next.Read(topics::kRejections)) {
    refused = refused || (r.subject_key() == a && r.command_rejected().rule() == "subject_erased");
  }
  EXPECT_TRUE(refused);
  const auto events = next.Read(topics::kEvents);
  ASSERT_GT(events.size(), published) << "B's story is recorded";
  for (size_t i = published; i < events.size(); ++i) {
    EXPECT_NE(events[i].subject_key(), a) << "nothing more is recorded about an erased child";
  }
}

TEST_F(PathwayctlBackupRestore, AnInterruptedBackupIsNoBackupAndTheSameCommandFinishesIt) {
  Feed(h_, Before());
  ASSERT_EQ(Backup().exit_code, 0);
  // What an interruption after partition 0 leaves: no manifest, partition 0 recorded as
  // copied, partition 1 half copied.
  google::protobuf::Struct manifest;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  testing::ReadFile(backup_ + "/manifest.json"), &manifest)
                  .ok());
  const std::string id = manifest.fields().at("backup_id").string_value();
  std::string first;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                  manifest.fields().at("partitions").list_value().values(0).struct_value(), &first)
                  .ok());
  Write(backup_ + "/partition-0.json", first);
  manifest.mutable_fields()->erase("partitions");
  std::string incomplete;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(manifest, &incomplete).ok());
  Write(backup_ + "/BACKUP-INCOMPLETE", incomplete);
  std::filesystem::remove(backup_ + "/manifest.json");
  std::filesystem::remove_all(backup_ + "/state/partition-1/CURRENT");

  RunResult refused = Restore();
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("did not finish"));
  EXPECT_FALSE(std::filesystem::exists(target_ + "/state")) << "nothing written";

  RunResult resumed = Backup();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_THAT(resumed.err, HasSubstr("going on with " + id + " (1 of 4 partitions copied before)"));
  RunResult restored = Restore();
  EXPECT_EQ(restored.exit_code, 0) << restored.err << restored.out;
  EXPECT_THAT(restored.out, HasSubstr("backup " + id + " restored"));
}

TEST_F(PathwayctlBackupRestore,
       AnInterruptedRestoreIsRefusedByTheEngineAndTheSameCommandFinishesIt) {
  Feed(h_, Before());
  ASSERT_EQ(Backup().exit_code, 0);
  h_.Stop();
  CopyToCluster(h_.broker(), topics::kChangelog);
  CopyToCluster(h_.broker(), topics::kCommands);
  google::protobuf::Struct manifest;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  testing::ReadFile(backup_ + "/manifest.json"), &manifest)
                  .ok());
  const std::string id = manifest.fields().at("backup_id").string_value();
  // What an interruption while copying partition 1 leaves: partition 0 done, partition
  // 1 half written, the mark still there.
  std::filesystem::create_directories(target_ + "/state");
  std::filesystem::copy(backup_ + "/state/partition-0", target_ + "/state/partition-0");
  std::filesystem::copy(backup_ + "/state/partition-1", target_ + "/state/partition-1");
  std::filesystem::remove(target_ + "/state/partition-1/CURRENT");
  Write(target_ + "/state/RESTORE-INCOMPLETE", "backup " + id + "\ndone 0\n");
  bool refused = false;
  try {
    EngineHarness early(h_.broker(), target_);
    refused = !early.RunUntilIdle().ok();
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("restore") != std::string::npos;
  }
  EXPECT_TRUE(refused);

  RunResult resumed = Restore();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
  EXPECT_THAT(resumed.err, HasSubstr("going on (1 of 4 partitions restored before)"));
  EXPECT_THAT(resumed.out, HasSubstr("0 unreadable, 0 diverged"));
  EXPECT_FALSE(std::filesystem::exists(target_ + "/state/RESTORE-INCOMPLETE"));
  EngineHarness next(h_.broker(), target_);
  Feed(next, After());
  EngineHarness reference;
  Feed(reference, Before());
  Feed(reference, After());
  EXPECT_THAT(Differences(next, reference), ::testing::IsEmpty());
}

TEST_F(PathwayctlBackupRestore, ADamagedBackupIsRefusedAndTheEngineRefusesTheHalfRestore) {
  Feed(h_, Before());
  ASSERT_EQ(Backup().exit_code, 0);
  h_.Stop();
  CopyToCluster(h_.broker(), topics::kCommands);
  // One digest changed in the manifest: the store no longer matches it.
  std::string text = testing::ReadFile(backup_ + "/manifest.json");
  const size_t at = text.find("\"digest\": \"") + 11;
  text[at] = text[at] == '0' ? '1' : '0';
  Write(backup_ + "/manifest.json", text);
  RunResult damaged = Restore();
  EXPECT_EQ(damaged.exit_code, 1) << damaged.err << damaged.out;
  EXPECT_THAT(damaged.err, HasSubstr("does not match the backup's manifest"));
  EXPECT_THAT(damaged.err, HasSubstr("the backup is damaged"));
  EXPECT_TRUE(std::filesystem::exists(target_ + "/state/RESTORE-INCOMPLETE"));
  // An engine started on it stops instead of running on half a restore.
  bool refused = false;
  try {
    EngineHarness early(h_.broker(), target_);
    refused = !early.RunUntilIdle().ok();
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("restore") != std::string::npos;
  }
  EXPECT_TRUE(refused);

  // Not a backup at all.
  RunResult nothing = Ctl("restore", {"--from", dir_.path(), "--data-dir", target_});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_THAT(nothing.err, HasSubstr("holds no backup"));
}

TEST_F(PathwayctlBackupRestore, RestoreWritesOnlyIntoANewDirectoryWithTheBackupsKeys) {
  Feed(h_, Before());
  ASSERT_EQ(Backup().exit_code, 0);
  RunResult again = Backup();
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("holds a finished backup"));

  // Another key-encryption key: refused before anything is read or written.
  Write(target_ + "/key-encryption-key", HexEncode(std::string(32, 'X')) + "\n");
  RunResult wrong_key = Restore();
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_THAT(wrong_key.err, HasSubstr("is not the one the backup's stores were sealed under"));
  WriteSecrets(target_);
  // A directory that holds anything but the keys.
  Write(target_ + "/notes.txt", "x");
  RunResult not_empty = Restore();
  EXPECT_EQ(not_empty.exit_code, 1);
  EXPECT_THAT(not_empty.err, HasSubstr("is not empty (it holds notes.txt)"));
  std::filesystem::remove(target_ + "/notes.txt");
  // The engine's own data directory is not a new one.
  RunResult own = Ctl("restore", {"--from", backup_, "--data-dir", h_.data_dir()});
  EXPECT_EQ(own.exit_code, 1);
  EXPECT_THAT(own.err, HasSubstr("is not empty"));

  // Without --reason nothing runs.
  RunResult no_reason = testing::RunCtl(
      dir_.path(), {"restore", "--from", backup_, "--data-dir", target_, "--operator", "ops.jones",
                    "--bootstrap-servers", cluster_->BootstrapServers()});
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_THAT(no_reason.err, HasSubstr("--reason is required"));
}

}  // namespace
}  // namespace pathway
