// pathwayctl export (subject access, docs/tell-it-once.md section 7) run as a
// subprocess over a data directory written by a real Engine (memory bus, real
// per-partition stores sealed under a KEK), stopped before the export.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "tests/common/commands.h"
#include "tests/common/engine_harness.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/common/two_children.h"
#include "tests/services/pathwayctl/run_ctl.h"

extern char** environ;

namespace pathway {
namespace {

using pathway::testing::Command;
using pathway::testing::Day;
using pathway::testing::EngineHarness;
using pathway::testing::Erase;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kStoryA;
using pathway::testing::kStoryB;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ReferralA;
using pathway::testing::ReferralB;
using pathway::testing::Story;
using pathway::v1::Envelope;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using pathway::testing::ReadFile;
using pathway::testing::RunResult;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

// Everything personal the commands below say about child A (the referral's too).
const std::vector<std::string> kPersonalA = {kValidNhsNumber,       "Amara", "Okafor", "SE1 7PB",
                                             "Limited eye contact", kStoryA, "1996"};
const std::vector<std::string> kPersonalB = {kOtherValidNhsNumber, "Ben",  "Hughes", "LS1 4AP",
                                             "handwriting",        kStoryB};

Envelope Consent(const std::string& id, const std::string& nhs) {
  return Command(
      id, "2025-03-10",
      [](Envelope& e) {
        e.mutable_actor()->set_id("staff-12");
        e.mutable_actor()->set_role("SEN caseworker");
        auto* c = e.mutable_consent_recorded();
        c->set_agency("RQM");
        c->set_purpose("neurodevelopmental");
        c->set_decision(pathway::v1::CONSENT_DECISION_GRANTED);
        *c->mutable_recorded_on() = Day("2025-03-10");
      },
      nhs);
}

Envelope View(const std::string& id, const std::string& nhs) {
  return Command(
      id, "2025-03-10",
      [](Envelope& e) {
        e.mutable_actor()->set_id("staff-77");
        e.mutable_actor()->set_role("clinical psychologist");
        e.mutable_record_view_requested()->set_agency("RQM");
        e.mutable_record_view_requested()->set_purpose("neurodevelopmental");
        *e.mutable_record_view_requested()->mutable_requested_on() = Day("2025-03-10");
      },
      nhs);
}

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct doc;
  auto status = google::protobuf::util::JsonStringToMessage(text, &doc);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << text;
  return doc;
}

const google::protobuf::ListValue& List(const google::protobuf::Struct& s, const std::string& k) {
  return s.fields().at(k).list_value();
}
std::string Str(const google::protobuf::Struct& s, const std::string& k) {
  auto it = s.fields().find(k);
  return it == s.fields().end() ? "<missing " + k + ">" : it->second.string_value();
}

class PathwayctlExport : public ::testing::Test {
 protected:
  // Child A (referral, a story, consent for the trust, a view by the trust) and child B
  // (referral, a story), processed by a real engine which is then stopped.
  void Build(bool a_young_adult = false, bool erase_a = false) {
    h_.Publish(ReferralA(a_young_adult));
    h_.Publish(ReferralB());
    h_.Publish(Story("story-a", kValidNhsNumber, kStoryA));
    h_.Publish(Story("story-b", kOtherValidNhsNumber, kStoryB));
    h_.Publish(Consent("consent-a", kValidNhsNumber));
    h_.Publish(View("view-a", kValidNhsNumber));
    Status s = h_.RunUntilIdle();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    if (erase_a) {
      h_.Publish(Erase("erase-a", kValidNhsNumber));
      s = h_.RunUntilIdle();
      ASSERT_TRUE(s.ok()) << s.error().ToString();
    }
    subject_a_ = h_.SubjectOf(kValidNhsNumber);
    auto history = h_.StoreFor(subject_a_).History(subject_a_);
    ASSERT_TRUE(history.ok());
    history_a_ = history->size();
    h_.Stop();
    // The engine's secrets as the engine keeps them: 64 hex digits in the data dir.
    WriteFile(h_.data_dir() + "/subject-key", HexEncode(std::string(32, 'k')) + "\n");
    WriteFile(h_.data_dir() + "/key-encryption-key", HexEncode(std::string(32, 'K')) + "\n");
  }

  RunResult Run(const std::vector<std::string>& args) { return testing::RunCtl(dir_.path(), args); }

  RunResult Export(const std::string& nhs, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"export", "--data-dir", h_.data_dir(), "--nhs-number", nhs};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  testing::TempDir dir_;
  EngineHarness h_;
  std::string subject_a_;
  size_t history_a_ = 0;
};

TEST_F(PathwayctlExport, HoldsTheRecordInClearConsentsHistoryAndWhoViewedIt) {
  Build();
  RunResult r = Export(kValidNhsNumber);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr(kValidNhsNumber)));
  google::protobuf::Struct doc = ParseJson(r.out);
  EXPECT_EQ(Str(doc, "subject_key"), subject_a_);
  EXPECT_FALSE(doc.fields().at("erased").bool_value());
  EXPECT_EQ(Str(doc, "date_of_birth"), "2019-06-14");
  EXPECT_THAT(Str(doc, "exported_at"), ::testing::MatchesRegex("20[0-9-]+T[0-9:]+Z"));
  ASSERT_EQ(List(doc, "referrals").values_size(), 1);
  EXPECT_EQ(Str(List(doc, "referrals").values(0).struct_value(), "referral_id"), "REF-ref-a");

  // The fact, opened from the sealed store, with its provenance.
  bool story_found = false;
  for (const auto& v : List(doc, "record").values()) {
    const auto& f = v.struct_value();
    if (Str(f, "content") != kStoryA) continue;
    story_found = true;
    EXPECT_EQ(Str(f, "type"), "all_about_me");
    EXPECT_EQ(Str(f, "source_agency"), "209");
    EXPECT_EQ(Str(f, "source_event_id"), "story-a");
    EXPECT_EQ(Str(f, "recorded_on"), "2025-03-10");
    EXPECT_FALSE(Str(f, "valid_until").empty());
    EXPECT_FALSE(f.fields().at("disputed").bool_value());
  }
  EXPECT_TRUE(story_found) << r.out;

  ASSERT_EQ(List(doc, "consents").values_size(), 1) << r.out;
  const auto& consent = List(doc, "consents").values(0).struct_value();
  EXPECT_EQ(Str(consent, "agency"), "RQM");
  EXPECT_EQ(Str(consent, "purpose"), "neurodevelopmental");
  EXPECT_EQ(Str(consent, "decision"), "granted");
  EXPECT_EQ(Str(consent, "on"), "2025-03-10");

  ASSERT_GE(List(doc, "pathways").values_size(), 1) << r.out;
  EXPECT_FALSE(Str(List(doc, "pathways").values(0).struct_value(), "state").empty());

  // Every event the engine holds, with its payload type and the event itself.
  ASSERT_GT(history_a_, 0u);
  ASSERT_EQ(static_cast<size_t>(List(doc, "history").values_size()), history_a_);
  bool fact_event = false;
  for (const auto& v : List(doc, "history").values()) {
    const auto& e = v.struct_value();
    EXPECT_FALSE(Str(e, "event_id").empty());
    EXPECT_FALSE(Str(e, "type").empty());
    ASSERT_TRUE(e.fields().at("event").has_struct_value());
    if (Str(e, "type") == "FactRecorded") {
      fact_event = true;
      EXPECT_EQ(
          Str(e.fields().at("event").struct_value().fields().at("fact_recorded").struct_value(),
              "content"),
          kStoryA);
    }
  }
  EXPECT_TRUE(fact_event) << r.out;

  // Who has seen the child's record.
  bool viewed = false;
  for (const auto& v : List(doc, "audit").values()) {
    const auto& a = v.struct_value();
    if (Str(a, "action") != "view") continue;
    viewed = true;
    EXPECT_EQ(Str(a, "actor_id"), "staff-77");
    EXPECT_EQ(Str(a, "actor_role"), "clinical psychologist");
    EXPECT_EQ(Str(a, "agency"), "RQM");
    EXPECT_EQ(Str(a, "purpose"), "neurodevelopmental");
    EXPECT_EQ(Str(a, "on"), "2025-03-10");
    ASSERT_GE(a.fields().at("facts").list_value().values_size(), 1) << "consent shows the story";
  }
  EXPECT_TRUE(viewed) << r.out;

  // Nothing about the other child.
  EXPECT_THAT(r.out, Not(HasSubstr(h_.SubjectOf(kOtherValidNhsNumber))));
  for (const auto& needle : kPersonalB) EXPECT_THAT(r.out, Not(HasSubstr(needle)));

  // --out: the same document, readable by the operator only.
  const std::string file = dir_.path() + "/export.json";
  RunResult to_file = Export(kValidNhsNumber, {"--out", file});
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_THAT(to_file.out, IsEmpty());
  google::protobuf::Struct from_file = ParseJson(ReadFile(file));
  EXPECT_EQ(List(from_file, "history").values_size(), List(doc, "history").values_size());
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(PathwayctlExport, AWrongKeyEncryptionKeyExitsOneSayingItDoesNotMatch) {
  Build();
  const std::string wrong = dir_.path() + "/wrong-kek";
  WriteFile(wrong, HexEncode(std::string(32, 'X')) + "\n");
  RunResult r = Export(kValidNhsNumber, {"--key-encryption-key-file", wrong});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("key-encryption key"));
  EXPECT_THAT(r.err, HasSubstr("does not match"));
  EXPECT_THAT(r.err, Not(HasSubstr(kValidNhsNumber)));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_F(PathwayctlExport, UnknownInvalidNumbersAndMissingSecretsFailWithoutNamingTheChild) {
  Build();
  const std::string unknown = testing::TestNhsNumber(7);
  RunResult r = Export(unknown);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no case for this NHS number in " + h_.data_dir()));
  EXPECT_THAT(r.err, Not(HasSubstr(unknown)));
  EXPECT_THAT(r.out, IsEmpty());

  r = Export("9434765918");  // wrong check digit
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--nhs-number"));
  EXPECT_THAT(r.err, Not(HasSubstr("9434765918")));

  // A missing secret is an error naming the file, and is never created.
  const std::string missing = dir_.path() + "/no-such-kek";
  r = Export(kValidNhsNumber, {"--key-encryption-key-file", missing});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_FALSE(std::filesystem::exists(missing));
  std::filesystem::remove(h_.data_dir() + "/subject-key");
  r = Export(kValidNhsNumber);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(h_.data_dir() + "/subject-key"));
  EXPECT_FALSE(std::filesystem::exists(h_.data_dir() + "/subject-key"));
  EXPECT_THAT(r.err, Not(HasSubstr(kValidNhsNumber)));
}

TEST_F(PathwayctlExport, AnErasedChildExportsAsErasedWithNoneOfTheirPersonalData) {
  Build(/*a_young_adult=*/true, /*erase_a=*/true);
  RunResult r = Export(kValidNhsNumber);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  EXPECT_EQ(Str(doc, "subject_key"), subject_a_);
  EXPECT_TRUE(doc.fields().at("erased").bool_value()) << r.out;
  EXPECT_EQ(List(doc, "record").values_size(), 0);
  EXPECT_EQ(static_cast<size_t>(List(doc, "history").values_size()), history_a_);
  bool completed = false;
  for (const auto& v : List(doc, "history").values()) {
    completed = completed || Str(v.struct_value(), "type") == "ErasureCompleted";
  }
  EXPECT_TRUE(completed) << r.out;
  for (const auto& needle : kPersonalA) {
    EXPECT_THAT(r.out, Not(HasSubstr(needle))) << "the export still holds '" << needle << "'";
  }
  // The other child is untouched and still exports.
  RunResult b = Export(kOtherValidNhsNumber);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.out, HasSubstr(kStoryB));
}

}  // namespace
}  // namespace pathway
