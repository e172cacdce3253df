// pathwayctl rebuild run as a subprocess over a data directory a real Engine wrote
// (memory bus, real stores sealed under a KEK), with its audit trail on an in-process
// mock Kafka: a clean store passes, a deliberately damaged case is found, named by
// field and recorded on the child's audit trail, and nothing is read unaudited.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/devbroker/mock_cluster.h"
#include "services/topics.h"
#include "tests/common/engine_harness.h"
#include "tests/common/temp_dir.h"
#include "tests/common/two_children.h"
#include "tests/services/pathwayctl/run_ctl.h"

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
    auto cluster = devbroker::MockCluster::Start(1, {{std::string(topics::kAudit), 1}});
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

  RunResult Rebuild(std::vector<std::string> extra, const std::string& stdin_path = "/dev/null") {
    std::vector<std::string> args = {
        "rebuild",     "--data-dir",          h_.data_dir(),
        "--operator",  "ops.jones",           "--reason",
        "INC-7 check", "--bootstrap-servers", cluster_->BootstrapServers()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCtl(dir_.path(), args, {}, stdin_path);
  }

  // Every record on pathway.audit.v1 (read with pathwayctl tail).
  std::vector<v1::Envelope> Audit(size_t expected) {
    RunResult tailed =
        testing::RunCtl(dir_.path(), {"tail", "--bootstrap-servers", cluster_->BootstrapServers(),
                                      "--topic", std::string(topics::kAudit), "--from-beginning",
                                      "--max", std::to_string(expected), "--timeout", "30"});
    EXPECT_EQ(tailed.exit_code, 0) << tailed.err;
    std::vector<v1::Envelope> out;
    std::stringstream lines(tailed.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      v1::Envelope e;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
      out.push_back(std::move(e));
    }
    return out;
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
  EXPECT_THAT(r.out, HasSubstr("referrals[0].received_on.day"));
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

}  // namespace
}  // namespace pathway
