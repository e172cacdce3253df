// pathwayctl rebuild run as a subprocess over a data directory a real Engine wrote
// (memory bus, real stores sealed under a KEK), with its audit trail on an in-process
// mock Kafka: a clean store passes, a deliberately damaged case is found, named by
// field and recorded on the child's audit trail, and nothing is read unaudited.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/devbroker/mock_cluster.h"
#include "services/topics.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/temp_dir.h"
#include "tests/common/two_children.h"
#include "tests/services/pathwayctl/run_ctl.h"
#include "workflow/pathway.h"

extern char** environ;

namespace pathway {
namespace {
namespace v1 = pathway::v1;
using pathway::testing::EngineHarness;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kStoryA;
using pathway::testing::kValidNhsNumber;
using pathway::testing::RunResult;
using ::testing::HasSubstr;
using ::testing::Not;

class PathwayctlRebuild : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = devbroker::MockCluster::Start(1, {{std::string(topics::kAudit), 1},
                                                     {std::string(topics::kCommands), 4},
                                                     {std::string(topics::kInbound), 4}});
    ASSERT_TRUE(cluster.ok()) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
    h_.Publish(pathway::testing::ReferralA(false));
    h_.Publish(pathway::testing::ReferralB());
    h_.Publish(pathway::testing::Story("story-a", kValidNhsNumber, kStoryA));
    Status s = h_.RunUntilIdle();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    subject_a_ = h_.SubjectOf(kValidNhsNumber);
    subject_b_ = h_.SubjectOf(kOtherValidNhsNumber);
    // The engine's secrets as the engine keeps them: 64 hex digits in the data dir.
    Write(h_.data_dir() + "/subject-key", HexEncode(std::string(32, 'k')) + "\n");
    Write(h_.data_dir() + "/key-encryption-key", HexEncode(std::string(32, 'K')) + "\n");
  }

  static void Write(const std::string& path, const std::string& content) {
    std::ofstream(path) << content;
  }

  // pathwayctl `command` on this engine's data and the mock cluster, run by ops.jones for
  // `reason`: `fixed` and then `extra` follow.
  RunResult Ctl(std::string command, std::string reason, std::vector<std::string> fixed,
                const std::vector<std::string>& extra,
                const std::string& stdin_path = "/dev/null") {
    std::vector<std::string> args = {
        std::move(command), "--data-dir",          h_.data_dir(),
        "--operator",       "ops.jones",           "--reason",
        std::move(reason),  "--bootstrap-servers", cluster_->BootstrapServers()};
    args.insert(args.end(), fixed.begin(), fixed.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCtl(dir_.path(), args, {}, stdin_path);
  }

  RunResult Rebuild(const std::vector<std::string>& extra,
                    const std::string& stdin_path = "/dev/null") {
    return Ctl("rebuild", "INC-7 check", {}, extra, stdin_path);
  }

  // The first `n` commands on pathway.commands.v1 (what pathwayctl sent the engine).
  std::vector<v1::Envelope> CommandsSent(size_t n) {
    return testing::TailTopic(dir_.path(), cluster_->BootstrapServers(),
                              std::string(topics::kCommands), n);
  }

  // Hands `commands` to this engine's command stage, each on the partition its subject
  // key places it (as Kafka's producer does), and runs the engine until it is idle.
  void Deliver(const std::vector<v1::Envelope>& commands) {
    const std::string topic(topics::kCommands);
    for (const auto& c : commands) {
      h_.broker().Append(topic, h_.broker().PartitionFor(topic, c.subject_key()), c.subject_key(),
                         c.SerializeAsString());
    }
    Status s = h_.RunUntilIdle();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  // Every record on pathway.audit.v1 (read with pathwayctl tail).
  std::vector<v1::Envelope> Audit(size_t expected) {
    return testing::AuditTrail(dir_.path(), cluster_->BootstrapServers(), expected);
  }

  // Replaces child A's stored state by a damaged copy: the referral's date moved.
  void DamageA() {
    h_.Stop();
    auto store = state::StoreSet(h_.data_dir() + "/state", "", std::string(32, 'K'));
    auto partitions = store.PartitionsOnDisk();
    ASSERT_TRUE(partitions.ok());
    for (int32_t p : *partitions) {
      auto cases = store.Open(p);
      ASSERT_TRUE(cases.ok());
      auto loaded = (*cases)->LoadCase(subject_a_);
      ASSERT_TRUE(loaded.ok());
      if (!loaded->has_value()) continue;
      state::Batch damage;
      damage.subject_key = subject_a_;
      damage.new_state = **loaded;
      auto* received = damage.new_state->mutable_referrals(0)->mutable_received_on();
      received->set_day(received->day() == 1 ? 2 : 1);
      ASSERT_TRUE((*cases)->Commit(damage).ok());
      return;
    }
    FAIL() << "child A's case is in no partition";
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::MockCluster> cluster_;
  EngineHarness h_;
  std::string subject_a_, subject_b_;
};

TEST_F(PathwayctlRebuild, ACleanStoreOfARunningEngineChecksEveryCaseAuditedBeforeAndAfter) {
  // The engine is still running: its stores are open for writing.
  RunResult r = Rebuild({"--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("2 cases checked"));
  EXPECT_THAT(r.out, HasSubstr("0 diverged"));

  const auto audit = Audit(2);
  ASSERT_EQ(audit.size(), 2u);
  const v1::OperationRecorded& started = audit[0].operation_recorded();
  EXPECT_EQ(started.phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(started.operation(), "rebuild");
  EXPECT_EQ(started.operator_id(), "ops.jones");
  EXPECT_EQ(started.scope(), "all");
  EXPECT_TRUE(started.reason().empty()) << "the reason travels sealed";
  EXPECT_FALSE(started.sealed_reason().empty());
  const v1::OperationRecorded& finished = audit[1].operation_recorded();
  EXPECT_EQ(finished.phase(), v1::OPERATION_PHASE_FINISHED);
  EXPECT_EQ(finished.operation_id(), started.operation_id());
  bool counted = false;
  for (const auto& c : finished.counts()) {
    if (c.name() == "cases") counted = c.value() == 2;
  }
  EXPECT_TRUE(counted) << finished.ShortDebugString();
}

TEST_F(PathwayctlRebuild, ADamagedCaseIsFoundNamedByFieldAndRecordedOnTheChildsTrail) {
  DamageA();
  // The child named by the NHS number on stdin, never on the command line.
  const std::string nhs_file = dir_.path() + "/nhs";
  Write(nhs_file, std::string(kValidNhsNumber) + "\n");
  RunResult r = Rebuild({"--nhs-number-file", "-"}, nhs_file);
  ASSERT_EQ(r.exit_code, 3) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("diverged: subject " + subject_a_));
  EXPECT_THAT(r.out, HasSubstr("differs from its history in: referrals[0].received_on.day"));
  EXPECT_THAT(r.out, HasSubstr("would change: referrals[0].received_on.day"));
  EXPECT_THAT(r.out, Not(HasSubstr(kValidNhsNumber)));
  EXPECT_THAT(r.err, Not(HasSubstr(kValidNhsNumber)));

  // --all finds it too, and only it; as JSON.
  RunResult all = Rebuild({"--all", "--json"});
  ASSERT_EQ(all.exit_code, 3) << all.err;
  EXPECT_THAT(all.out, HasSubstr("\"subject_key\":\"" + subject_a_ + "\""));
  EXPECT_THAT(all.out, Not(HasSubstr(subject_b_)));
  EXPECT_THAT(all.out, HasSubstr("\"cases\":2"));

  // Two runs: STARTED, the child shown, FINISHED, each.
  const auto audit = Audit(6);
  ASSERT_EQ(audit.size(), 6u);
  int shown = 0;
  for (const auto& e : audit) {
    if (!e.has_audit_recorded()) continue;
    ++shown;
    EXPECT_EQ(e.subject_key(), subject_a_);
    EXPECT_EQ(e.audit_recorded().action(), v1::AUDIT_ACTION_OPERATIONS_INSPECT);
    EXPECT_EQ(e.audit_recorded().actor_id(), "ops.jones");
  }
  EXPECT_EQ(shown, 2);
}

TEST_F(PathwayctlRebuild, RepairHasTheEngineReDecideTheDamagedCaseInTheOpen) {
  DamageA();
  RunResult repaired = Rebuild({"--all", "--repair"});
  ASSERT_EQ(repaired.exit_code, 3) << repaired.err << repaired.out;
  EXPECT_THAT(repaired.out, HasSubstr("1 repair sent to the engine"));

  // The re-drive reaches the engine (restarted on the damaged data) on the child's
  // partition, and the engine corrects the case on its normal path.
  const std::vector<v1::Envelope> sent = CommandsSent(1);
  ASSERT_EQ(sent.size(), 1u);
  const v1::Envelope& redrive = sent[0];
  EXPECT_EQ(redrive.subject_key(), subject_a_);
  EXPECT_EQ(redrive.case_redrive_requested().withdraw_event_ids_size(), 0);
  h_.Restart();
  Deliver(sent);
  int corrections = 0;
  for (const auto& e : h_.Read(topics::kEvents)) corrections += e.has_case_corrected();
  EXPECT_EQ(corrections, 1);

  RunResult after = Rebuild({"--all"});
  EXPECT_EQ(after.exit_code, 0) << after.out;
}

TEST_F(PathwayctlRebuild, ResumingChecksOnlyTheCasesAfterThePlaceGiven) {
  // Places are partition, then subject key: before every case, and after every case.
  RunResult resumed = Rebuild({"--all", "--resume-after", "0:" + std::string(64, '0')});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.out, HasSubstr("2 cases checked"));
  RunResult none = Rebuild({"--all", "--resume-after", "9999:" + std::string(64, 'f')});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("0 cases checked"));
  RunResult bad = Rebuild({"--all", "--resume-after", "0:not-a-key"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(PathwayctlRebuild, NoAuditRecordMeansNothingIsRead) {
  std::vector<std::string> args = {"rebuild",     "--data-dir", h_.data_dir(),
                                   "--all",       "--operator", "ops.jones",
                                   "--reason",    "INC-7",      "--bootstrap-servers",
                                   "127.0.0.1:1", "-X",         "message.timeout.ms=1500"};
  RunResult r = testing::RunCtl(dir_.path(), args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("not recorded on pathway.audit.v1, so it did not run"));
  EXPECT_THAT(r.out, Not(HasSubstr("cases checked")));
}

TEST_F(PathwayctlRebuild, BadUsageIsRefusedWithoutEchoingAnNhsNumber) {
  RunResult no_scope = Rebuild({});
  EXPECT_EQ(no_scope.exit_code, 2);
  EXPECT_THAT(no_scope.err, HasSubstr("name one scope"));
  RunResult positional = Rebuild({"--all", kValidNhsNumber});
  EXPECT_EQ(positional.exit_code, 2);
  EXPECT_THAT(positional.err, Not(HasSubstr(kValidNhsNumber)));
  RunResult no_reason = testing::RunCtl(
      dir_.path(), {"rebuild", "--data-dir", h_.data_dir(), "--all", "--operator", "ops.jones",
                    "--bootstrap-servers", cluster_->BootstrapServers()});
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_THAT(no_reason.err, HasSubstr("--reason is required"));
  const std::string bad_nhs = dir_.path() + "/bad";
  Write(bad_nhs, "9434765918\n");
  RunResult invalid = Rebuild({"--nhs-number-file", bad_nhs});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_THAT(invalid.err, HasSubstr("not valid"));
  EXPECT_THAT(invalid.err, Not(HasSubstr("9434765918")));
}

// inspect: the same engine's data, one child at a time.
class PathwayctlInspect : public PathwayctlRebuild {
 protected:
  RunResult Inspect(const std::vector<std::string>& extra,
                    const std::string& stdin_path = "/dev/null") {
    return Ctl("inspect", "INC-8: why is this case waiting", {}, extra, stdin_path);
  }
  std::string NhsFile(const std::string& nhs) {
    const std::string path = dir_.path() + "/nhs-" + nhs;
    Write(path, nhs + "\n");
    return path;
  }
};

TEST_F(PathwayctlInspect, ShowsWhyTheCaseIsInItsStateAndItsHistoryWithoutItsPersonalData) {
  RunResult r = Inspect({"--nhs-number-file", "-"}, NhsFile(kValidNhsNumber));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("case " + subject_a_));
  // The referral started a pathway: its state, and the step and command that put it there.
  EXPECT_THAT(r.out, HasSubstr("why: step "));
  EXPECT_THAT(r.out, HasSubstr("by command ref-a (ReferralSubmitted) from "));
  // The history, with business dates and processing times; the story's provenance.
  EXPECT_THAT(r.out, HasSubstr("CommandRecorded"));
  EXPECT_THAT(r.out, HasSubstr(" 2025-03-10 | "));
  EXPECT_THAT(r.out, HasSubstr("event story-a"));
  // Never the child's personal data: the story's content is export's, not inspect's.
  EXPECT_THAT(r.out, Not(HasSubstr(kValidNhsNumber)));
  EXPECT_THAT(r.out, Not(HasSubstr(kStoryA)));

  // Recorded: the operation, and the view on child A's own trail, before it was shown.
  const auto audit = Audit(3);
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].operation_recorded().phase(), v1::OPERATION_PHASE_STARTED);
  EXPECT_EQ(audit[0].operation_recorded().operation(), "inspect");
  ASSERT_TRUE(audit[1].has_audit_recorded());
  EXPECT_EQ(audit[1].subject_key(), subject_a_);
  EXPECT_EQ(audit[1].audit_recorded().action(), v1::AUDIT_ACTION_OPERATIONS_INSPECT);
  EXPECT_EQ(audit[2].operation_recorded().phase(), v1::OPERATION_PHASE_FINISHED);
}

TEST_F(PathwayctlInspect, FindsTheCaseByItsSubjectKeyOrAnyOfItsPathwayInstancesAsJson) {
  RunResult by_key = Inspect({"--subject-key", subject_a_, "--json"});
  ASSERT_EQ(by_key.exit_code, 0) << by_key.err;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(by_key.out, &doc).ok()) << by_key.out;
  EXPECT_EQ(doc.fields().at("subject_key").string_value(), subject_a_);
  const auto& pathways = doc.fields().at("pathways").list_value();
  ASSERT_GE(pathways.values_size(), 1);
  const auto& first = pathways.values(0).struct_value();
  EXPECT_EQ(first.fields().at("caused_by").string_value(), "ref-a");
  const std::string instance =
      first.fields().at("instance").struct_value().fields().at("instance_id").string_value();
  ASSERT_FALSE(instance.empty());
  const auto& history = doc.fields().at("history").list_value();
  ASSERT_GE(history.values_size(), 2);
  const auto& kept = history.values(0).struct_value().fields();
  EXPECT_EQ(kept.at("type").string_value(), "CommandRecorded");
  EXPECT_EQ(kept.at("business_date").string_value(), "2025-03-10");
  EXPECT_FALSE(kept.at("recorded_at").string_value().empty());

  RunResult by_instance = Inspect({"--instance", instance});
  ASSERT_EQ(by_instance.exit_code, 0) << by_instance.err;
  EXPECT_THAT(by_instance.out, HasSubstr("case " + subject_a_));
  EXPECT_THAT(by_instance.out, Not(HasSubstr(subject_b_)));
}

TEST_F(PathwayctlInspect, AnUnknownChildOrInstanceExitsOneWithoutNamingTheChild) {
  RunResult unknown = Inspect({"--nhs-number-file", "-"}, NhsFile("4000000020"));
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_THAT(unknown.err, HasSubstr("no case for this child"));
  EXPECT_THAT(unknown.err, Not(HasSubstr("4000000020")));
  RunResult no_instance = Inspect({"--instance", "no-such-instance"});
  EXPECT_EQ(no_instance.exit_code, 1);
  EXPECT_THAT(no_instance.err, HasSubstr("no case holds instance"));
  RunResult two = Inspect({"--instance", "x", "--subject-key", subject_a_});
  EXPECT_EQ(two.exit_code, 2);
}

// redrive: the same engine, with a step a trust's system sent that turns out wrong.
class PathwayctlRedrive : public PathwayctlRebuild {
 protected:
  void SetUp() override {
    PathwayctlRebuild::SetUp();
    v1::Envelope accepted =
        pathway::testing::NdAccepted("nd-a", "ND-1", "2025-03-10", "RQM", "nd-team");
    accepted.mutable_source()->set_system("trust-pas");
    h_.Publish(accepted);
    Status s = h_.RunUntilIdle();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }
  RunResult Redrive(const std::vector<std::string>& extra) {
    return Ctl("redrive", "INC-9: trust PAS sent a bad week", {}, extra);
  }
};

TEST_F(PathwayctlRedrive, ADryRunWithoutAPartnersWeekListsExactlyTheChildrenItChanges) {
  RunResult r = Redrive({"--all", "--dry-run", "--exclude-source", "trust-pas", "--from",
                         "2025-03-01", "--to", "2025-03-31"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("would change: subject " + subject_a_));
  EXPECT_THAT(r.out, HasSubstr("1 command left out"));
  EXPECT_THAT(r.out, HasSubstr("withdrawn"));
  EXPECT_THAT(r.out, Not(HasSubstr(subject_b_)));
  EXPECT_THAT(r.out, HasSubstr("2 cases read, 1 would change, 1 commands left out"));
  EXPECT_THAT(r.out, HasSubstr("nothing was changed"));

  // Nothing was changed: a rebuild finds the stores as they were, A's pathway there.
  RunResult rebuilt = Rebuild({"--all"});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.out;

  // Audited: the run, the child listed, its end with the counts.
  const auto audit = Audit(5);
  ASSERT_GE(audit.size(), 3u);
  EXPECT_EQ(audit[0].operation_recorded().operation(), "redrive");
  EXPECT_TRUE(audit[0].operation_recorded().dry_run());
  EXPECT_THAT(audit[0].operation_recorded().scope(),
              HasSubstr("without trust-pas from 2025-03-01 to 2025-03-31"));
  ASSERT_TRUE(audit[1].has_audit_recorded());
  EXPECT_EQ(audit[1].subject_key(), subject_a_);
}

TEST_F(PathwayctlRedrive, OutsideTheWindowOrAnotherSystemNothingChanges) {
  RunResult later = Redrive(
      {"--all", "--dry-run", "--exclude-source", "trust-pas", "--from", "2025-04-01", "--json"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_THAT(later.out, HasSubstr("\"would_change\":0"));
  EXPECT_THAT(later.out, HasSubstr("\"commands_left_out\":0"));
  RunResult other = Redrive({"--all", "--dry-run", "--exclude-source", "school-mis", "--json"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr("\"would_change\":0"));
  // Re-deciding everything under these rules, nobody left out: the stores agree.
  RunResult all = Redrive({"--all", "--dry-run", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr("\"would_change\":0"));
}

TEST_F(PathwayctlRedrive, NamingAnInstanceLeavesOutOnlyThatPathwaysCommands) {
  auto state = h_.StoreFor(subject_a_).LoadCase(subject_a_);
  ASSERT_TRUE(state.ok() && state->has_value());
  std::string nd, intake;
  for (const auto& p : (*state)->pathways()) {
    (p.pathway() == v1::PATHWAY_KIND_NEURODEVELOPMENTAL ? nd : intake) = p.instance_id();
  }
  ASSERT_FALSE(nd.empty());
  ASSERT_FALSE(intake.empty());

  RunResult one = Redrive({"--instance", nd, "--dry-run", "--exclude-source", "trust-pas"});
  ASSERT_EQ(one.exit_code, 0) << one.err << one.out;
  EXPECT_THAT(one.out, HasSubstr("would change: subject " + subject_a_));
  EXPECT_THAT(one.out, HasSubstr("1 cases read, 1 would change, 1 commands left out"));
  const auto audit = Audit(3);  // started, the child listed, finished
  ASSERT_FALSE(audit.empty());
  EXPECT_THAT(audit[0].operation_recorded().scope(), HasSubstr("instance " + nd));

  // The referral's intake pathway: trust-pas sent none of its commands.
  RunResult other =
      Redrive({"--instance", intake, "--dry-run", "--exclude-source", "trust-pas", "--json"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr("\"commands_left_out\":0"));

  RunResult malformed = Redrive({"--instance", "ND-1", "--dry-run"});
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_THAT(malformed.err, HasSubstr("--instance must be 32 lower-case hex digits"));
  RunResult unknown = Redrive({"--instance", std::string(32, 'a'), "--dry-run"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no case holds instance"));
}

// redrive --from-inbound: the same engine's landing topic, as Kafka holds it.
class PathwayctlRedriveInbound : public PathwayctlRebuild {
 protected:
  // Appends `messages` to pathway.inbound.v1 on the mock cluster, each on its partition
  // with its key (as a partner produced it).
  void Land(const std::vector<bus::Message>& messages) {
    bus::KafkaConfig config;
    config.bootstrap_servers = cluster_->BootstrapServers();
    int failed = 0;
    auto producer =
        bus::NewKafkaProducer(config, [&](const bus::Delivery& d) { failed += d.error ? 1 : 0; });
    ASSERT_TRUE(producer.ok()) << producer.error().ToString();
    for (const auto& m : messages) {
      const std::string key = m.key.value_or("");
      bus::Outgoing out{topics::kInbound, key, m.value};
      out.partition = m.partition;
      ASSERT_TRUE((*producer)->Send(out, 0).ok());
    }
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(30)).ok());
    ASSERT_EQ(failed, 0);
  }
  RunResult FromInbound(const std::vector<std::string>& extra) {
    return Ctl("redrive", "INC-12: commands topic lost",
               {"--from-inbound", "--since", "2000-01-01T00:00:00Z"}, extra);
  }
};

TEST_F(PathwayctlRedriveInbound, OnlyWhatNeverReachedItsCaseIsSentAgainAndThenItIsDecided) {
  // What the engine decided, as Kafka holds it, and a referral it never saw.
  std::vector<bus::Message> landed = h_.broker().ReadAll(std::string(topics::kInbound));
  ASSERT_EQ(landed.size(), 3u);
  const std::string third = pathway::testing::TestNhsNumber(5);
  v1::Envelope lost = pathway::testing::ValidReferral("ref-lost", third);
  bus::Message lost_message;
  lost_message.partition = 1;
  lost_message.key = "ref-lost";
  lost_message.value = lost.SerializeAsString();
  bus::Message garbage;
  garbage.partition = 2;
  garbage.value = "not an envelope";
  landed.push_back(lost_message);
  landed.push_back(garbage);
  Land(landed);

  RunResult dry = FromInbound({"--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err << dry.out;
  EXPECT_THAT(dry.out, HasSubstr("\"processed\":3"));
  EXPECT_THAT(dry.out, HasSubstr("\"new\":1"));
  EXPECT_THAT(dry.out, HasSubstr("\"dead_lettered\":1"));
  EXPECT_THAT(dry.out, HasSubstr("\"sent_again\":0"));
  EXPECT_THAT(dry.out, HasSubstr("\"fate\":\"new\",\"payload\":\"referral_submitted\""));
  EXPECT_THAT(dry.out, Not(HasSubstr(third)));

  RunResult applied = FromInbound({"--apply"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  EXPECT_THAT(applied.out, HasSubstr("1 new"));
  EXPECT_THAT(applied.out, HasSubstr("1 sent to pathway.inbound.v1 again"));

  // The copy is the partner's bytes on the partner's partition; the engine decides it.
  RunResult tailed =
      testing::RunCtl(dir_.path(), {"tail", "--bootstrap-servers", cluster_->BootstrapServers(),
                                    "--topic", std::string(topics::kInbound), "--from-beginning",
                                    "--max", "6", "--timeout", "30"});
  ASSERT_EQ(tailed.exit_code, 0) << tailed.err;
  size_t copies = 0;
  for (size_t at = tailed.out.find("ref-lost"); at != std::string::npos;
       at = tailed.out.find("ref-lost", at + 1)) {
    ++copies;
  }
  EXPECT_EQ(copies, 4u) << "event id and referral id, twice: " << tailed.out;
  h_.Publish(lost, 1);
  ASSERT_TRUE(h_.RunUntilIdle().ok());
  RunResult after = FromInbound({"--dry-run", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("\"processed\":5")) << after.out;
  EXPECT_THAT(after.out, HasSubstr("\"new\":0"));

  // Audited before reading: three runs, each started and finished.
  const auto audit = Audit(8);
  size_t started = 0;
  for (const auto& e : audit) {
    started +=
        e.has_operation_recorded() && e.operation_recorded().phase() == v1::OPERATION_PHASE_STARTED;
  }
  EXPECT_EQ(started, 3u);
}

TEST_F(PathwayctlRedriveInbound, WhereToStartAndAModeAreRequired) {
  RunResult none =
      testing::RunCtl(dir_.path(), {"redrive", "--from-inbound", "--data-dir", h_.data_dir(),
                                    "--operator", "o", "--reason", "r", "--dry-run",
                                    "--bootstrap-servers", cluster_->BootstrapServers()});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("--since TIME or --offsets"));
  EXPECT_EQ(FromInbound({}).exit_code, 2);
  EXPECT_EQ(FromInbound({"--dry-run", "--until", "1999-01-01T00:00:00Z"}).exit_code, 2);
  RunResult bad = FromInbound({"--dry-run", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(PathwayctlRedrive, AModeIsRequiredAndBadWindowsAreRefused) {
  RunResult none = Redrive({"--all", "--exclude-source", "trust-pas"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("--dry-run"));
  EXPECT_THAT(none.err, HasSubstr("--apply"));
  RunResult both = Redrive({"--all", "--dry-run", "--apply"});
  EXPECT_EQ(both.exit_code, 2);
  RunResult backwards = Redrive({"--all", "--dry-run", "--exclude-source", "trust-pas", "--from",
                                 "2025-04-01", "--to", "2025-03-01"});
  EXPECT_EQ(backwards.exit_code, 2);
  RunResult no_system = Redrive({"--all", "--dry-run", "--from", "2025-04-01"});
  EXPECT_EQ(no_system.exit_code, 2);
}

TEST_F(PathwayctlRedrive, ApplyGoesThroughTheEngineWhichCorrectsOnceAndNothingIsSentTwice) {
  RunResult applied = Redrive({"--all", "--apply", "--exclude-source", "trust-pas"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  EXPECT_THAT(applied.out, HasSubstr("1 re-drive commands sent to the engine"));

  // What pathwayctl sent to pathway.commands.v1 reaches this engine's command stage, on
  // the partition its key places it (the memory bus places keys as Kafka's producer).
  const std::vector<v1::Envelope> sent = CommandsSent(1);
  ASSERT_EQ(sent.size(), 1u);
  const v1::Envelope& redrive = sent[0];
  ASSERT_TRUE(redrive.has_case_redrive_requested());
  EXPECT_EQ(redrive.subject_key(), subject_a_);
  ASSERT_EQ(redrive.case_redrive_requested().withdraw_event_ids_size(), 1);
  EXPECT_EQ(redrive.case_redrive_requested().withdraw_event_ids(0), "nd-a");
  EXPECT_EQ(redrive.actor().id(), "ops.jones");
  Deliver(sent);

  // Partners see one correction: the accepted step withdrawn, caused by the re-drive.
  const auto corrections = [&] {
    int n = 0;
    for (const auto& e : h_.Read(topics::kEvents)) {
      if (!e.has_case_corrected()) continue;
      ++n;
      EXPECT_EQ(e.case_corrected().caused_by(), redrive.event_id());
      EXPECT_TRUE(e.case_corrected().state().empty());
    }
    return n;
  };
  EXPECT_EQ(corrections(), 1);
  auto loaded = h_.StoreFor(subject_a_).LoadCase(subject_a_);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  for (const auto& p : (*loaded)->pathways()) {
    EXPECT_NE(p.pathway(), v1::PATHWAY_KIND_NEURODEVELOPMENTAL) << "the accepted step stands";
  }

  // Delivered again (a producer's retry): a repeat, nothing new.
  Deliver(sent);
  EXPECT_EQ(corrections(), 1);
  // Run again (a run killed after sending): nothing left to change, nothing sent.
  RunResult again = Redrive({"--all", "--apply", "--exclude-source", "trust-pas"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 re-drive commands sent"));
  // And the stores still say what their histories say.
  RunResult rebuilt = Rebuild({"--all"});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
}

// pathwayctl migrate (docs/operations.md, "migrate"): child A's ADHD-only assessment and
// child B's autism assessment started on neurodevelopmental version 1; version 2 changes
// only the ADHD-only first appointment (18 weeks instead of 13).
class PathwayctlMigrate : public PathwayctlRebuild {
 protected:
  void SetUp() override {
    PathwayctlRebuild::SetUp();
    h_.options().start_versions = {{v1::PATHWAY_KIND_NEURODEVELOPMENTAL, 1}};
    h_.Restart();
    v1::Envelope adhd =
        pathway::testing::NdAccepted("nd-a", "ND-1", "2025-03-10", "RQM", "nd-team");
    adhd.mutable_nd_referral_accepted()->set_assessment(v1::ND_ASSESSMENT_TYPE_ADHD);
    h_.Publish(adhd);
    h_.Publish(pathway::testing::NdAccepted("nd-b", "ND-2", "2025-03-10", "RQM", "nd-team",
                                            kOtherValidNhsNumber));
    Status s = h_.RunUntilIdle();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    // Rolled forward: new instances on version 2, the running ones still on 1.
    h_.options().start_versions.clear();
    h_.Restart();
    mapping_ = dir_.path() + "/nd-v1-v2.json";
    std::string json = "{";
    for (auto st : workflow::FindDefinition(v1::PATHWAY_KIND_NEURODEVELOPMENTAL, 1)->states) {
      if (json.size() > 1) json += ", ";
      // Appended piece by piece: GCC 12 at -O3 warns falsely on "literal" + std::string.
      json += '"';
      json += st;
      json += "\": \"";
      json += st;
      json += '"';
    }
    Write(mapping_, json + "}");
  }
  RunResult Migrate(const std::vector<std::string>& extra) {
    return Ctl("migrate", "CHG-2210: ADHD under 18 weeks RTT",
               {"--pathway", "neurodevelopmental", "--from", "1", "--to", "2"}, extra);
  }
  std::string mapping_;
};

TEST_F(PathwayctlMigrate, ADryRunListsEveryVersion1InstanceAndExactlyTheChildItChanges) {
  RunResult r = Migrate({"--all", "--dry-run", "--mapping", mapping_});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("subject " + subject_a_ + " (partition"));
  EXPECT_THAT(r.out, HasSubstr("deadline first_appointment"));
  EXPECT_THAT(r.out, HasSubstr("2 cases read, 2 instances to move (1 cases would change)"));
  EXPECT_THAT(r.out, HasSubstr("nothing was changed"));
  // B's autism assessment moves and changes nothing; only A's deadline is listed.
  const size_t b = r.out.find("subject " + subject_b_);
  ASSERT_NE(b, std::string::npos);
  EXPECT_THAT(r.out.substr(b), Not(HasSubstr("deadline")));

  // A state left out of the mapping: listed, not moved.
  Write(mapping_, "{\"assessing\": \"assessing\"}");
  RunResult unmapped = Migrate({"--all", "--dry-run", "--mapping", mapping_, "--json"});
  ASSERT_EQ(unmapped.exit_code, 0) << unmapped.err;
  EXPECT_THAT(unmapped.out, HasSubstr("\"instances_moved\":0"));
  EXPECT_THAT(unmapped.out, HasSubstr("its state 'waiting' is not in the mapping"));
  // A state neither version has: refused before anything is read.
  Write(mapping_, "{\"waitng\": \"waiting\"}");
  RunResult bad = Migrate({"--all", "--dry-run", "--mapping", mapping_});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("'waitng' is not a state of version 1"));
}

TEST_F(PathwayctlMigrate, ApplyGoesThroughTheEngineWhichCorrectsOnceAndNothingIsSentTwice) {
  RunResult applied = Migrate({"--all", "--apply", "--mapping", mapping_});
  ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
  EXPECT_THAT(applied.out, HasSubstr("2 migration commands sent to the engine"));
  const std::vector<v1::Envelope> migrations = CommandsSent(2);
  ASSERT_EQ(migrations.size(), 2u);
  for (const auto& m : migrations) {
    ASSERT_TRUE(m.has_case_migrate_requested());
  }
  Deliver(migrations);
  const auto corrections = [&] {
    int n = 0;
    for (const auto& e : h_.Read(topics::kEvents)) {
      if (!e.has_case_corrected()) continue;
      ++n;
      EXPECT_EQ(e.subject_key(), subject_a_);
    }
    return n;
  };
  EXPECT_EQ(corrections(), 1);
  for (const auto& subject : {subject_a_, subject_b_}) {
    auto loaded = h_.StoreFor(subject).LoadCase(subject);
    ASSERT_TRUE(loaded.ok() && loaded->has_value());
    for (const auto& p : (*loaded)->pathways()) {
      if (p.pathway() == v1::PATHWAY_KIND_NEURODEVELOPMENTAL) {
        EXPECT_EQ(p.version(), 2u);
      }
    }
  }
  // Delivered again, then run again: nothing new, nothing left to send.
  Deliver(migrations);
  EXPECT_EQ(corrections(), 1);
  RunResult again = Migrate({"--all", "--apply", "--mapping", mapping_});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 migration commands sent"));
  RunResult rebuilt = Rebuild({"--all"});
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
}

}  // namespace
}  // namespace pathway
