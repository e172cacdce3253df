// Issue 15, dead letters: the runbook "A poison message" (docs/operations.md) run as
// written, with pathway-engine and pathwayctl as processes against the mock broker
// (label mock).
//
// Two messages are dead-lettered by an engine whose record limit an operator lowered
// (-X message.max.bytes=65536, so inbound values over 32 KiB are refused):
//   - a poison message: bytes that are no Envelope, which nothing can fix;
//   - a valid referral of about 40 KiB (a partner's newer schema carries an
//     attachment field this engine does not know, 9001): dead-lettered only for its
//     size.
// The fix is the engine restarted with its default limit. Then the poison is
// discarded (not without a reason), and the referral resubmitted: processed once,
// though resubmit is run twice and the copy is once more produced behind pathwayctl's
// back (a resubmit whose disposition was lost in a crash). Every show, discard and
// resubmit is on pathway.audit.v1; the show of the referral is also on the child's
// own audit trail.
#include "services/pathwayctl/deadletters.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "pathway/v1/envelope.pb.h"
#include "services/bus/kafka_bus.h"
#include "services/engine/subject_keyer.h"
#include "services/pathwayctl/operation.h"
#include "services/topics.h"
#include "tests/common/fixtures.h"
#include "tests/integration/engine_process.h"
#include "tests/integration/read_topic.h"
#include "tests/services/pathwayctl/run_ctl.h"

extern char** environ;

namespace pathway::testing {
namespace {
namespace v1 = pathway::v1;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr const char* kReferralId = "evt-fixable-0001";
// A newer partner schema's field this engine does not know.
constexpr int kAttachmentField = 9001;

Struct ParseJson(const std::string& text) {
  Struct doc;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &doc).ok()) << text;
  return doc;
}

const Value& Get(const Struct& s, const std::string& key) {
  static const Value kMissing;
  auto it = s.fields().find(key);
  EXPECT_NE(it, s.fields().end()) << "missing " << key;
  return it == s.fields().end() ? kMissing : it->second;
}

// The referral: valid, dated the engine's fixed day, about 40 KiB with its attachment.
std::string FixableReferral() {
  v1::Envelope e = ValidReferral(kReferralId);
  e.mutable_occurred_at()->set_seconds(1767600000);  // 2026-01-05T08:00:00Z
  e.mutable_referral_submitted()->mutable_received_on()->set_year(2026);
  e.mutable_referral_submitted()->mutable_received_on()->set_month(1);
  e.mutable_referral_submitted()->mutable_received_on()->set_day(5);
  // Field 9001, length-delimited (wire type 2): tag 72010 as a varint, then the length.
  std::string attachment(40'000, 'a');
  std::string field = "\xca\xb2\x04";
  for (uint32_t n = static_cast<uint32_t>(attachment.size());; n >>= 7) {
    if (n < 0x80) {
      field.push_back(static_cast<char>(n));
      break;
    }
    field.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  return e.SerializeAsString() + field + attachment;
}

// How the engine answered the referral: ReferralReceived copies on pathway.events.v1,
// and rejections of it.
struct Answers {
  int received = 0;
  int rejected = 0;
};
Answers AnswersTo(const std::string& bootstrap) {
  Answers a;
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kEvents)) {
    v1::Envelope e;
    if (e.ParseFromString(m.value) && e.has_referral_received() &&
        e.referral_received().inbound_event_id() == kReferralId) {
      ++a.received;
    }
  }
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kRejections)) {
    v1::Envelope e;
    if (e.ParseFromString(m.value) && e.causation_id() == kReferralId) ++a.rejected;
  }
  return a;
}

TEST(DeadLetters, APoisonMessageIsDiscardedAndAFixedOneIsProcessedOnce) {
  WorkDir dir("deadletters");
  const std::string key_file = WriteKeyFile(dir.Sub("subject-key"), 15);
  auto cluster = TestCluster::Mock(1);
  const std::string bootstrap = cluster->bootstrap();
  KafkaProbe probe(bootstrap);
  const std::string group = UniqueGroupPrefix("deadletters");
  EngineConfig config = NamedEngineConfig(*cluster, dir, "engine", key_file, group);
  // The runbook names the keys' files (deploy/README.md keeps them out of the data
  // directory); an engine whose keys are in its data directory is served by --data-dir,
  // so they are copied there too.
  const std::string kek_file = KekFile(key_file);
  std::filesystem::create_directories(config.data_dir);
  std::filesystem::copy_file(key_file, config.data_dir + "/subject-key");
  std::filesystem::copy_file(KekFile(key_file), config.data_dir + "/key-encryption-key");
  const std::string data_dir = config.data_dir;

  // As the runbook: the broker and the operator from the environment.
  auto ctl = [&](std::vector<std::string> args) {
    const std::vector<std::string> env = {"PATHWAY_KAFKA_BOOTSTRAP=" + bootstrap,
                                          "PATHWAY_OPERATOR=ops.jones"};
    RunResult r = RunCtl(dir.path(), args, env);
    std::cout << "[deadletters] pathwayctl";
    for (const auto& a : args) std::cout << " " << a;
    std::cout << " -> " << r.exit_code << "\n";
    return r;
  };
  const std::vector<std::string> kek = {"--key-encryption-key-file", kek_file};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  // --- Dead-lettered by an engine with a lowered limit.
  EngineConfig limited = config;
  limited.kafka["message.max.bytes"] = "65536";
  {
    EngineProcess engine(limited);
    engine.Start();
    const std::string raw = dir.Sub("poison.txt");
    std::ofstream(raw) << "not a protobuf envelope\n";
    RunResult published = ctl({"publish", "--raw", "--topic", "pathway.inbound.v1", raw});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    Publish(bootstrap, {InboundMessage{1, "subject-bucket:fix", FixableReferral()}});
    std::string detail;
    ASSERT_TRUE(WaitUntilCaughtUp(probe, group, std::chrono::seconds(120), nullptr, &detail))
        << detail << "\n"
        << engine.LogTail();
    ASSERT_EQ(engine.Terminate(std::chrono::seconds(30)), 0) << engine.LogTail();
  }
  EXPECT_EQ(AnswersTo(bootstrap).received, 0);

  // --- 1. What is open.
  RunResult listed = ctl({"deadletters", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("2 dead letters: 2 open"), std::string::npos) << listed.out;
  RunResult listed_json = ctl({"deadletters", "list", "--json"});
  ASSERT_EQ(listed_json.exit_code, 0) << listed_json.err;
  std::string poison, fixable;
  const Struct listed_doc = ParseJson(listed_json.out);
  for (const Value& v : Get(listed_doc, "dead_letters").list_value().values()) {
    const Struct& entry = v.struct_value();
    const std::string reason = Get(entry, "reason").string_value();
    if (reason.find("does not decode") != std::string::npos)
      poison = Get(entry, "place").string_value();
    if (reason.find("exceeds the 32768-byte limit") != std::string::npos) {
      fixable = Get(entry, "place").string_value();
    }
    EXPECT_EQ(Get(entry, "disposition").string_value(), "open");
    EXPECT_EQ(Get(Get(entry, "original").struct_value(), "written_by").string_value(), "intake");
  }
  ASSERT_FALSE(poison.empty()) << listed_json.out;
  ASSERT_FALSE(fixable.empty()) << listed_json.out;

  // --- 2. Without the keys the content is sealed, and nothing personal is printed.
  RunResult sealed = ctl({"deadletters", "show", fixable});
  ASSERT_EQ(sealed.exit_code, 0) << sealed.err;
  EXPECT_NE(sealed.out.find("content      sealed"), std::string::npos) << sealed.out;
  for (const RunResult* r : {&listed, &listed_json, &sealed}) {
    for (const char* personal : {kValidNhsNumber, "Okafor", "Amara", "SE1 7PB", "not a protobuf"}) {
      EXPECT_EQ(r->out.find(personal), std::string::npos) << personal;
    }
  }

  // --- 3. With the keys, audited: the poison's bytes; the referral as JSON (an engine
  // host's --data-dir form) and as text.
  const std::vector<std::string> open_keys = with(
      kek,
      {"--subject-key-file", key_file, "--reason", "INC-7: dead letters after the limit change"});
  RunResult shown = ctl(with({"deadletters", "show", poison}, open_keys));
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("|not a protobuf e|"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("its SHA-256 matches"), std::string::npos) << shown.out;
  RunResult shown_text = ctl(with({"deadletters", "show", fixable}, open_keys));
  ASSERT_EQ(shown_text.exit_code, 0) << shown_text.err;
  EXPECT_NE(shown_text.out.find("decodes as   a pathway.v1.Envelope (referral_submitted); "
                                "unknown fields 9001"),
            std::string::npos)
      << shown_text.out.substr(0, 2000);
  EXPECT_NE(shown_text.out.find("recorded on the audit trail of 1 child"), std::string::npos);
  EXPECT_NE(shown_text.out.find("\"familyName\": \"Okafor\""), std::string::npos);
  RunResult shown_json =
      ctl({"deadletters", "show", fixable, "--json", "--data-dir", data_dir, "--operator",
           "ops.jones", "--reason", "INC-7: dead letters after the limit change"});
  ASSERT_EQ(shown_json.exit_code, 0) << shown_json.err;
  const Struct shown_doc = ParseJson(shown_json.out);
  const Struct& content = Get(shown_doc, "content").struct_value();
  EXPECT_EQ(Get(content, "source").string_value(), "original");
  EXPECT_TRUE(Get(content, "sha256_verified").bool_value());
  EXPECT_EQ(Get(content, "payload").string_value(), "referral_submitted");
  ASSERT_EQ(Get(content, "unknown_fields").list_value().values_size(), 1);
  EXPECT_EQ(Get(content, "unknown_fields").list_value().values(0).number_value(), kAttachmentField);
  EXPECT_EQ(Get(Get(Get(content, "envelope").struct_value(), "referralSubmitted").struct_value(),
                "referralId")
                .string_value(),
            std::string("REF-") + kReferralId);
  const std::string show_operation = Get(shown_doc, "operation_id").string_value();

  // --- 4a. The poison: discarded, with a reason (without one nothing happens).
  RunResult no_reason = ctl(with({"deadletters", "discard", poison}, kek));
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_NE(no_reason.err.find("--reason is required"), std::string::npos) << no_reason.err;
  // Nor with another deployment's key, under which the reason could not be opened.
  const std::string other_kek = WriteKeyFile(dir.Sub("other-subject-key"), 16) + ".kek";
  RunResult wrong_key = ctl({"deadletters", "discard", poison, "--key-encryption-key-file",
                             other_kek, "--reason", "INC-7"});
  EXPECT_EQ(wrong_key.exit_code, 2);
  EXPECT_NE(wrong_key.err.find("not this deployment's"), std::string::npos) << wrong_key.err;
  RunResult discarded = ctl(
      with({"deadletters", "discard", poison},
           with(kek, {"--reason", "INC-7: not an Envelope; RQM asked to resend the referral"})));
  ASSERT_EQ(discarded.exit_code, 0) << discarded.err;
  EXPECT_NE(discarded.out.find("discarded dead letter " + poison), std::string::npos);

  // --- The fix: the engine runs with its default limit again.
  EngineProcess engine(config);
  engine.Start();

  // --- 4b. The referral: resubmitted once; a second resubmit is refused.
  const std::vector<std::string> resubmit =
      with({"deadletters", "resubmit", fixable},
           with(kek, {"--reason", "INC-7: limit restored to 1 MB"}));
  RunResult resubmitted = ctl(resubmit);
  ASSERT_EQ(resubmitted.exit_code, 0) << resubmitted.err;
  EXPECT_NE(resubmitted.out.find("resubmitted dead letter " + fixable), std::string::npos)
      << resubmitted.out;
  RunResult again = ctl(resubmit);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("was resubmitted already, by ops.jones"), std::string::npos)
      << again.err;

  // Processed: its ReferralReceived is out.
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (AnswersTo(bootstrap).received == 0) {
    ASSERT_LT(Clock::now(), until) << "the resubmitted referral was not processed\n"
                                   << engine.LogTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  // A crash between the copy and its disposition would leave the dead letter open, and
  // a second resubmit would produce the copy again: the engine drops it by its event id.
  {
    const std::string referral = FixableReferral();
    std::optional<bus::Message> copy;  // the latest record holding the referral
    for (bus::Message& m : ReadTopic(bootstrap, topics::kInbound)) {
      if (m.value == referral && (!copy || m.offset > copy->offset)) copy = std::move(m);
    }
    ASSERT_TRUE(copy.has_value());
    EXPECT_GT(copy->offset, 0) << "the copy is the original's partition's second record";
    Publish(bootstrap, {InboundMessage{copy->partition, copy->key.value_or(""), copy->value}});
  }
  std::string detail;
  ASSERT_TRUE(WaitUntilCaughtUp(probe, group, std::chrono::seconds(120), nullptr, &detail))
      << detail << "\n"
      << engine.LogTail();
  ASSERT_EQ(engine.Terminate(std::chrono::seconds(30)), 0) << engine.LogTail();
  const Answers answers = AnswersTo(bootstrap);
  EXPECT_EQ(answers.received, 1);
  EXPECT_EQ(answers.rejected, 0);
  auto stopped = LogEvents(engine.Log(), "engine_stopped");
  ASSERT_FALSE(stopped.empty()) << engine.LogTail();
  EXPECT_EQ(stopped.back()["inbound"], "2");  // the copy and the copy again
  EXPECT_EQ(stopped.back()["duplicates"], "1");
  EXPECT_EQ(stopped.back()["dead_letters"], "0");

  // --- 5. Both closed; nothing was dead-lettered again.
  RunResult closed = ctl({"deadletters", "list", "--all"});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_NE(closed.out.find("2 dead letters: 0 open, 1 resubmitted, 1 discarded"),
            std::string::npos)
      << closed.out;

  // --- The audit trail: every show, discard and resubmit, started and finished, with
  // the operator, the scope, the counts and the reason sealed; the referral's show on
  // the child's own key.
  const std::string kek_bytes = ReadKek(key_file);
  std::map<std::string, std::vector<v1::OperationRecorded>> by_operation;
  std::vector<v1::AuditRecorded> child_views;
  std::vector<std::string> child_keys;
  for (const bus::Message& m : ReadTopic(bootstrap, topics::kAudit)) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.value));
    if (e.has_operation_recorded()) {
      by_operation[e.operation_recorded().operation()].push_back(e.operation_recorded());
    } else if (e.has_audit_recorded() &&
               e.audit_recorded().action() == v1::AUDIT_ACTION_OPERATIONS_INSPECT) {
      child_views.push_back(e.audit_recorded());
      child_keys.push_back(m.key.value_or(""));
    }
  }
  auto phases = [&](const std::string& operation) {
    std::vector<v1::OperationPhase> out;
    for (const auto& op : by_operation[operation]) out.push_back(op.phase());
    return out;
  };
  const std::vector<v1::OperationPhase> started_finished = {v1::OPERATION_PHASE_STARTED,
                                                            v1::OPERATION_PHASE_FINISHED};
  EXPECT_EQ(phases("deadletters show").size(), 6u);  // three shows
  EXPECT_EQ(phases("deadletters discard"), started_finished);
  EXPECT_EQ(phases("deadletters resubmit"), started_finished);  // the refused one did nothing
  for (const auto& [operation, records] : by_operation) {
    for (const auto& op : records) {
      EXPECT_EQ(op.operator_id(), "ops.jones");
      EXPECT_EQ(op.operator_role(), "operations");
      EXPECT_TRUE(op.reason().empty());
      EXPECT_TRUE(op.scope().starts_with("dead letter "));
    }
  }
  const v1::OperationRecorded& resubmit_done = by_operation["deadletters resubmit"].back();
  EXPECT_EQ(resubmit_done.scope(), "dead letter " + fixable);
  ASSERT_GE(resubmit_done.counts_size(), 1);
  EXPECT_EQ(resubmit_done.counts(0).name(), "resubmitted");
  EXPECT_EQ(resubmit_done.counts(0).value(), 1u);
  auto reason = ctl::OpenReason(kek_bytes, resubmit_done);
  ASSERT_TRUE(reason.ok());
  EXPECT_EQ(*reason, "INC-7: limit restored to 1 MB");
  EXPECT_EQ(by_operation["deadletters discard"].back().scope(), "dead letter " + poison);

  std::string hex = ReadFile(key_file);
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  std::string secret;
  ASSERT_TRUE(HexDecode(hex, &secret));
  const std::string child = engine::SubjectKeyer::FromSecret(secret).Key(kValidNhsNumber);
  // The referral was shown twice, the poison (no child) once.
  ASSERT_EQ(child_views.size(), 2u);
  for (size_t i = 0; i < child_views.size(); ++i) {
    EXPECT_EQ(child_keys[i], child);
    EXPECT_EQ(child_views[i].actor_id(), "ops.jones");
  }
  EXPECT_TRUE(child_views[0].cause_event_id() == show_operation ||
              child_views[1].cause_event_id() == show_operation);
}

}  // namespace
}  // namespace pathway::testing
