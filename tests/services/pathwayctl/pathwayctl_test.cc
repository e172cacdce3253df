// pathwayctl run as a subprocess against an in-process mock cluster (label: mock).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "services/devbroker/mock_cluster.h"
#include "tests/common/fixtures.h"
#include "tests/common/temp_dir.h"
#include "tests/services/pathwayctl/run_ctl.h"

extern char** environ;

namespace pathway {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kInbound = "pathway.inbound.v1";

using pathway::testing::ReadFile;
using pathway::testing::RunResult;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

class PathwayctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = devbroker::MockCluster::Start(
        1, {{kInbound, 8}, {"malformed", 2}, {"raw", 1}, {"stdin", 2}});
    ASSERT_TRUE(cluster.ok()) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
  }

  std::string Bootstrap() const { return cluster_->BootstrapServers(); }

  // Runs pathwayctl with `args`, stdin from `stdin_path` (or /dev/null), stdout and
  // stderr captured in files; kills it if it runs longer than `limit`.
  RunResult Run(const std::vector<std::string>& args,
                const std::vector<std::string>& extra_env = {},
                const std::string& stdin_path = "/dev/null",
                milliseconds limit = milliseconds(60000)) {
    return pathway::testing::RunCtl(dir_.path(), args, extra_env, stdin_path, limit);
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  static std::string JsonLine(const v1::Envelope& envelope) {
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(envelope, &json).ok());
    return json + "\n";
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::MockCluster> cluster_;
};

TEST_F(PathwayctlTest, PublishThenTailRoundTrips) {
  const std::string file =
      WriteFile("referrals.jsonl",
                JsonLine(testing::ValidReferral("evt-1")) + "\n   \n" +
                    JsonLine(testing::ValidReferral("evt-2", testing::kOtherValidNhsNumber)));
  RunResult published = Run({"publish", "--bootstrap-servers", Bootstrap(), "--topic", kInbound,
                             "-X", "linger.ms=1", file});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_THAT(published.err, HasSubstr("published 2 messages to pathway.inbound.v1"));

  // The bootstrap servers come from the environment this time.
  RunResult tailed = Run({"tail", "--topic", kInbound, "--max", "2", "--timeout", "30"},
                         {"PATHWAY_KAFKA_BOOTSTRAP=" + Bootstrap()});
  ASSERT_EQ(tailed.exit_code, 0) << tailed.err;
  std::vector<std::string> lines = Lines(tailed.out);
  ASSERT_EQ(lines.size(), 2u) << tailed.out;
  std::set<std::string> ids;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, HasSubstr("\"eventId\":"));  // lowerCamel JSON names
    v1::Envelope envelope;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &envelope).ok()) << line;
    ids.insert(envelope.event_id());
    EXPECT_EQ(envelope.referral_submitted().referral_id(), "REF-" + envelope.event_id());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"evt-1", "evt-2"}));
}

TEST_F(PathwayctlTest, MalformedLinePublishesNothingAndNamesTheLine) {
  const std::string file = WriteFile(
      "bad.jsonl", JsonLine(testing::ValidReferral("evt-ok")) + "{\"eventId\": \"evt-bad\",\n");
  RunResult published =
      Run({"publish", "--bootstrap-servers", Bootstrap(), "--topic", "malformed", file});
  EXPECT_EQ(published.exit_code, 2);
  EXPECT_THAT(published.err, HasSubstr(file + ":2:"));

  // Nothing arrives within the timeout: without --max that is success, with --max not.
  RunResult tailed =
      Run({"tail", "--bootstrap-servers", Bootstrap(), "--topic", "malformed", "--timeout", "2"});
  EXPECT_EQ(tailed.exit_code, 0) << tailed.err;
  EXPECT_THAT(tailed.out, IsEmpty());
  RunResult waited = Run({"tail", "--bootstrap-servers", Bootstrap(), "--topic", "malformed",
                          "--max", "1", "--timeout", "1.5"});
  EXPECT_EQ(waited.exit_code, 1);
  EXPECT_THAT(waited.out, IsEmpty());
  EXPECT_THAT(waited.err, HasSubstr("0 of 1"));
}

TEST_F(PathwayctlTest, RawLinesAreUndecodableForTail) {
  const std::string file = WriteFile("raw.txt", "not a protobuf\n");
  RunResult published =
      Run({"publish", "--bootstrap-servers", Bootstrap(), "--topic", "raw", "--raw", file});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  RunResult tailed = Run({"tail", "--bootstrap-servers", Bootstrap(), "--topic", "raw", "--max",
                          "1", "--timeout", "30"});
  ASSERT_EQ(tailed.exit_code, 0) << tailed.err;
  EXPECT_EQ(tailed.out, "{\"undecodable\":true,\"partition\":0,\"offset\":0,\"bytes\":14}\n");
}

TEST_F(PathwayctlTest, PublishReadsStdin) {
  const std::string file = WriteFile("stdin.jsonl", JsonLine(testing::ValidReferral("evt-stdin")));
  RunResult published =
      Run({"publish", "--bootstrap-servers", Bootstrap(), "--topic", "stdin", "-"}, {}, file);
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_THAT(published.err, HasSubstr("published 1 messages to stdin"));
}

TEST_F(PathwayctlTest, UsageErrors) {
  RunResult help = Run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("publish"));
  EXPECT_THAT(help.out, HasSubstr("tail"));
  EXPECT_EQ(Run({"publish", "--help"}).exit_code, 0);
  EXPECT_EQ(Run({}).exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);

  RunResult no_bootstrap = Run({"tail", "--topic", "raw"});
  EXPECT_EQ(no_bootstrap.exit_code, 2);
  EXPECT_THAT(no_bootstrap.err, HasSubstr("PATHWAY_KAFKA_BOOTSTRAP"));

  RunResult bad_setting = Run(
      {"tail", "--bootstrap-servers", Bootstrap(), "--topic", "raw", "-X", "no.such.setting=1"});
  EXPECT_EQ(bad_setting.exit_code, 2);
  EXPECT_THAT(bad_setting.err, HasSubstr("no.such.setting"));

  RunResult bad_max =
      Run({"tail", "--bootstrap-servers", Bootstrap(), "--topic", "raw", "--max", "x"});
  EXPECT_EQ(bad_max.exit_code, 2);
  EXPECT_THAT(bad_max.err, HasSubstr("--max"));

  RunResult missing = Run({"publish", "--bootstrap-servers", Bootstrap(), "--topic", "raw",
                           dir_.path() + "/missing.jsonl"});
  EXPECT_EQ(missing.exit_code, 2);
}

// --- simulate and describe (no broker involved) -------------------------------

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct doc;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &doc).ok()) << text;
  return doc;
}

const google::protobuf::Value& Get(const google::protobuf::Struct& s, const std::string& key) {
  static const google::protobuf::Value kMissing;
  auto it = s.fields().find(key);
  EXPECT_NE(it, s.fields().end()) << "missing " << key;
  return it == s.fields().end() ? kMissing : it->second;
}

TEST_F(PathwayctlTest, SimulateJsonShowsALateRequestCorrectingWhatWasEmitted) {
  // The decision to assess (3 Feb) reaches pathway before its request (6 Jan), which a
  // partner published a week late: the decision is refused at first, then the request
  // is folded in where it belongs and the correction names it.
  const std::string jsonl =
      R"({"eventId":"dec","occurredAt":"2025-02-03T10:00:00Z","source":{"agency":"209",)"
      R"("system":"sen"},"subject":{"nhsNumber":"9434765919"},"ehcAssessmentDecided":)"
      R"({"requestId":"EHC-9","decision":"ASSESSMENT_DECISION_ASSESS",)"
      R"("decidedOn":{"year":2025,"month":2,"day":3}}})"
      "\n"
      R"({"eventId":"req","occurredAt":"2025-02-10T10:00:00Z","source":{"agency":"209",)"
      R"("system":"sen"},"subject":{"nhsNumber":"9434765919"},"ehcAssessmentRequested":)"
      R"({"requestId":"EHC-9","requestedBy":"EHC_REQUESTER_PARENT",)"
      R"("receivedOn":{"year":2025,"month":1,"day":6}}})"
      "\n";
  const std::string path = dir_.path() + "/late_request.jsonl";
  std::ofstream(path) << jsonl;
  RunResult r = Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  const auto& child = Get(doc, "subjects").list_value().values(0).struct_value();
  const auto& corrections = Get(child, "corrections").list_value();
  ASSERT_EQ(corrections.values_size(), 1) << r.out;
  const auto& c = corrections.values(0).struct_value();
  EXPECT_EQ(Get(c, "caused_by").string_value(), "req");
  EXPECT_EQ(Get(c, "caused_by_on").string_value(), "2025-01-06");
  const auto& refusals = Get(c, "rejections").list_value();
  ASSERT_EQ(refusals.values_size(), 1);
  EXPECT_EQ(Get(refusals.values(0).struct_value(), "event_id").string_value(), "dec");
  EXPECT_TRUE(Get(refusals.values(0).struct_value(), "withdrawn").bool_value());
  bool met = false;
  for (const auto& d : Get(c, "deadlines").list_value().values()) {
    met |= Get(d.struct_value(), "name").string_value() == "decision_to_assess" &&
           Get(d.struct_value(), "status").string_value() == "met";
  }
  EXPECT_TRUE(met) << r.out;
  const auto& pathway = Get(child, "pathways").list_value().values(0).struct_value();
  EXPECT_EQ(Get(pathway, "state").string_value(), "assessing");
}

TEST_F(PathwayctlTest, SimulateJsonReportsWhatTheFamilyWasAskedAndWhatWasReused) {
  // The EHC decision to assess needs the family's views (reg 6(1)(a)); the family gives
  // them once and the record serves the need; a fact without a type is rejected.
  std::ifstream history(PATHWAY_HISTORIES "/ehc_assessment.jsonl");
  std::string line;
  std::string jsonl;
  for (int i = 0; i < 3 && std::getline(history, line); ++i) jsonl += line + "\n";
  jsonl += R"({"eventId":"fact-01","occurredAt":"2025-02-12T09:00:00Z","source":{"agency":"209",)"
           R"("system":"family-portal"},"subject":{"nhsNumber":"9434765919"},"factProvided":)"
           R"({"type":"FACT_TYPE_FAMILY_VIEWS","content":"We want her to stay at Oak Primary",)"
           R"("providedOn":{"year":2025,"month":2,"day":12}}})"
           "\n"
           R"({"eventId":"fact-02","occurredAt":"2025-02-12T09:05:00Z","source":{"agency":"209",)"
           R"("system":"family-portal"},"subject":{"nhsNumber":"9434765919"},"factProvided":)"
           R"({"content":"no type"}})"
           "\n";
  const std::string path = dir_.path() + "/tell_it_once.jsonl";
  std::ofstream(path) << jsonl;
  RunResult r = Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  const auto& child = Get(doc, "subjects").list_value().values(0).struct_value();
  // What the decision to assess needs from the family (reg 6(1)(a), 6(4), 7), once each.
  const auto& requests = Get(child, "information_requests").list_value();
  ASSERT_EQ(requests.values_size(), 5);
  EXPECT_EQ(Get(requests.values(0).struct_value(), "fact").string_value(), "family_views");
  EXPECT_EQ(Get(requests.values(0).struct_value(), "asked").string_value(), "family");
  const auto& reused = Get(child, "facts_reused").list_value();
  ASSERT_EQ(reused.values_size(), 1);
  const auto& use = reused.values(0).struct_value();
  EXPECT_EQ(Get(use, "fact").string_value(), "family_views");
  EXPECT_EQ(Get(use, "agency").string_value(), "209");
  EXPECT_EQ(Get(use, "purpose").string_value(), "ehc_needs_assessment");
  EXPECT_EQ(Get(use, "source_event_id").string_value(), "fact-01");
  const auto& audit = Get(child, "audit").list_value();
  ASSERT_EQ(audit.values_size(), 1) << "the reuse is audited";
  EXPECT_EQ(Get(audit.values(0).struct_value(), "action").string_value(), "reuse");
  EXPECT_EQ(Get(audit.values(0).struct_value(), "agency").string_value(), "209");
  EXPECT_EQ(Get(audit.values(0).struct_value(), "purpose").string_value(), "ehc_needs_assessment");
  const auto& rejections = Get(child, "rejections").list_value();
  ASSERT_EQ(rejections.values_size(), 1);
  EXPECT_EQ(Get(rejections.values(0).struct_value(), "field").string_value(), "fact_provided.type");
  EXPECT_EQ(r.out.find("Oak Primary"), std::string::npos) << "the report holds no fact content";
}

// The demo that scripts/run.sh shows stays what its README says.
TEST_F(PathwayctlTest, TheTellItOnceDemoServesThreePathwaysWithOneAnswerAndAuditsEveryView) {
  RunResult r = Run({"simulate", "--events", PATHWAY_DEMO "/tell_it_once.jsonl", "--as-of",
                     "2025-12-31", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  const auto& child = Get(doc, "subjects").list_value().values(0).struct_value();
  EXPECT_EQ(Get(child, "rejections").list_value().values_size(), 0);
  // Three pathways' needs, each fact asked for once.
  std::multiset<std::string> asked;
  for (const auto& v : Get(child, "information_requests").list_value().values()) {
    asked.insert(Get(v.struct_value(), "fact").string_value() + " of " +
                 Get(v.struct_value(), "asked").string_value());
  }
  EXPECT_EQ(asked,
            (std::multiset<std::string>{
                "developmental_history of family", "school_observations of current_setting",
                "all_about_me of family", "aspirations of young_person", "family_views of family",
                "diagnoses of family", "current_setting of family", "existing_advice of family"}));
  // The family's one answer serves the three pathways at once.
  std::multiset<std::string> served;
  for (const auto& v : Get(child, "facts_reused").list_value().values()) {
    EXPECT_EQ(Get(v.struct_value(), "fact").string_value(), "all_about_me");
    EXPECT_EQ(Get(v.struct_value(), "source_event_id").string_value(), "tio-08");
    served.insert(Get(v.struct_value(), "purpose").string_value());
  }
  EXPECT_EQ(served, (std::multiset<std::string>{"ehc_needs_assessment", "neurodevelopmental",
                                                "preparing_for_adulthood"}));
  const auto& audit = Get(child, "audit").list_value();
  ASSERT_EQ(audit.values_size(), 5) << "three reuses, two views";
  EXPECT_EQ(Get(audit.values(3).struct_value(), "action").string_value(), "view");
  EXPECT_EQ(Get(audit.values(3).struct_value(), "facts").list_value().values_size(), 1)
      << "consented: the story shown";
  EXPECT_EQ(Get(audit.values(4).struct_value(), "facts").list_value().values_size(), 0)
      << "after the withdrawal: nothing shown";
  // The school named the child by UPN only: held until the council linked it.
  EXPECT_EQ(Get(child, "identifiers").list_value().values_size(), 1);
  const auto& aliases = Get(doc, "aliases").list_value();
  ASSERT_EQ(aliases.values_size(), 1);
  const auto& upn = aliases.values(0).struct_value();
  EXPECT_EQ(Get(upn, "kind").string_value(), "upn");
  EXPECT_EQ(Get(upn, "linked_subject_key").string_value(),
            Get(child, "subject_key").string_value());
  EXPECT_EQ(Get(upn, "held").list_value().values_size(), 0);
  EXPECT_EQ(Get(upn, "released").list_value().values_size(), 1);
  EXPECT_EQ(r.out.find("B801200005001"), std::string::npos) << "no identifier in clear";
}

TEST_F(PathwayctlTest, SimulateJsonReportsPathwaysDeadlinesRequestsRejectionsAndWarnings) {
  RunResult r = Run({"simulate", "--events", PATHWAY_HISTORIES "/ehc_assessment.jsonl", "--as-of",
                     "2025-06-30", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  EXPECT_EQ(Get(doc, "as_of").string_value(), "2025-06-30");
  const auto& subjects = Get(doc, "subjects").list_value();
  ASSERT_EQ(subjects.values_size(), 1);
  const auto& child = subjects.values(0).struct_value();
  const auto& pathways = Get(child, "pathways").list_value();
  ASSERT_EQ(pathways.values_size(), 2);
  const auto& ehc = pathways.values(1).struct_value();
  EXPECT_EQ(Get(ehc, "pathway").string_value(), "ehc_needs_assessment");
  EXPECT_EQ(Get(ehc, "version").number_value(), 1);
  EXPECT_EQ(Get(ehc, "state").string_value(), "plan_issued");
  const auto& final_plan = Get(ehc, "deadlines").list_value().values(2).struct_value();
  EXPECT_EQ(Get(final_plan, "name").string_value(), "final_plan");
  EXPECT_EQ(Get(final_plan, "due").string_value(), "2025-05-26");
  EXPECT_EQ(Get(final_plan, "status").string_value(), "met");
  EXPECT_EQ(Get(final_plan, "met_on").string_value(), "2025-05-19");
  EXPECT_EQ(Get(child, "information_requests").list_value().values_size(), 5);
  const auto& rejections = Get(child, "rejections").list_value();
  ASSERT_EQ(rejections.values_size(), 1);
  EXPECT_EQ(Get(rejections.values(0).struct_value(), "rule").string_value(),
            "final_plan.comment_period");
  EXPECT_EQ(Get(child, "warnings").list_value().values_size(), 6);

  // The warning lead is configurable: a week ahead, the issue_decision warning would
  // fall after the draft plan met it.
  RunResult week = Run({"simulate", "--events", PATHWAY_HISTORIES "/ehc_assessment.jsonl",
                        "--as-of", "2025-06-30", "--json", "--warning-lead-days", "7"});
  ASSERT_EQ(week.exit_code, 0) << week.err;
  google::protobuf::Struct week_doc = ParseJson(week.out);
  const auto& week_child = Get(week_doc, "subjects").list_value().values(0);
  EXPECT_EQ(Get(week_child.struct_value(), "warnings").list_value().values_size(), 5);
}

TEST_F(PathwayctlTest, SimulateDefaultsToTheLastEventsDateAndExplainsBadInput) {
  RunResult r = Run({"simulate", "--events", PATHWAY_HISTORIES "/ehc_assessment.jsonl", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Get(ParseJson(r.out), "as_of").string_value(), "2025-05-19");

  std::string no_time = WriteFile("no_time.jsonl", "{\"eventId\":\"a\"}\n");
  RunResult missing = Run({"simulate", "--events", no_time});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no_time.jsonl:1: occurredAt is required"));
  RunResult bad_date = Run({"simulate", "--events", no_time, "--as-of", "2025-02-30"});
  EXPECT_EQ(bad_date.exit_code, 2);
  EXPECT_THAT(bad_date.err, HasSubstr("--as-of"));
}

// The same input limits as the engine's intake (workflow/input_limits.h): hostile
// values are rejected naming field and rule, an out-of-range time neither moves the
// clock nor breaks the ordering, and the next line is simulated as usual.
TEST_F(PathwayctlTest, SimulateRejectsHostileValuesAtIntakeAndGoesOn) {
  std::ifstream history(PATHWAY_HISTORIES "/ehc_assessment.jsonl");
  std::string first;
  ASSERT_TRUE(std::getline(history, first));
  const std::string hostile =
      R"({"eventId":"far","occurredAt":"2500-01-01T00:00:00Z","subject":{"nhsNumber":"9434765919"},)"
      R"("factProvided":{"type":"FACT_TYPE_FAMILY_VIEWS","content":"x"}})"
      "\n"
      R"({"eventId":"esc","occurredAt":"2025-02-12T09:00:00Z","subject":{"nhsNumber":"9434765919"},)"
      R"("factProvided":{"type":"FACT_TYPE_FAMILY_VIEWS","content":"\u001b[2J"}})"
      "\n"
      R"({"eventId":"enum","occurredAt":"2025-02-12T09:01:00Z","subject":{"nhsNumber":"9434765919"},)"
      R"("factProvided":{"type":77,"content":"x"}})"
      "\n";
  std::string path = WriteFile("hostile.jsonl", first + "\n" + hostile);
  RunResult r = Run({"simulate", "--events", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc = ParseJson(r.out);
  EXPECT_EQ(Get(doc, "as_of").string_value(), "2025-02-12");
  const auto& unrouted = Get(doc, "unrouted_rejections").list_value();
  ASSERT_EQ(unrouted.values_size(), 3);
  const std::pair<const char*, const char*> expected[] = {
      {"occurred_at", "timestamp.out_of_range"},
      {"fact_provided.content", "string.control_character"},
      {"fact_provided.type", "enum.unknown_value"},
  };
  for (int i = 0; i < 3; ++i) {
    const auto& rejection = unrouted.values(i).struct_value();
    EXPECT_EQ(Get(rejection, "field").string_value(), expected[i].first) << i;
    EXPECT_EQ(Get(rejection, "rule").string_value(), expected[i].second) << i;
  }
  // The first line (before the hostile ones) made the child's case.
  EXPECT_EQ(Get(doc, "subjects").list_value().values_size(), 1);
}

TEST_F(PathwayctlTest, DescribePrintsTheStateDiagramFromTheDefinition) {
  RunResult r = Run({"describe", "ehc_needs_assessment", "--format", "mermaid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stateDiagram-v2"));
  EXPECT_THAT(r.out, HasSubstr("draft_plan_issued --> plan_issued : final plan issued"));
  RunResult unknown = Run({"describe", "nonesuch"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown pathway 'nonesuch'"));
  RunResult help = Run({"describe", "--help"});
  EXPECT_THAT(help.out, HasSubstr("referral_intake"));
  EXPECT_THAT(help.out, HasSubstr("--format mermaid|needs"));
  RunResult bad = Run({"describe", "ehc_needs_assessment", "--format", "dot"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--format must be mermaid or needs"));
}

TEST_F(PathwayctlTest, DescribeListsWhatEachStepNeedsFromTheDefinition) {
  RunResult r = Run({"describe", "annual_review", "--format", "needs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("| step | fact | asked of"));
  EXPECT_THAT(r.out, HasSubstr("| `meeting_scheduled` | `family_views` | the family | 365 days |"));
  EXPECT_THAT(r.out, HasSubstr("| `meeting_scheduled` | `school_observations` | the current "
                               "setting | 182 days |"));
  RunResult none = Run({"describe", "disagreement", "--format", "needs"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "No step needs facts from the family or another agency.\n");
}

// Statutory sharing (docs/tell-it-once.md section 3): the rules are printed from the
// file, and simulate applies the same file the engine would, naming each basis.
constexpr const char* kDefaultSharing = PATHWAY_CONFIG "/statutory_sharing.json";

TEST_F(PathwayctlTest, DescribeSharingPrintsEveryRuleAndItsLegalBasis) {
  RunResult r = Run({"describe-sharing", "--statutory-sharing", kDefaultSharing});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("statutory sharing: 2 rules from"));
  EXPECT_THAT(r.out, HasSubstr("rule la-ehc-needs-assessment-advice\n"
                               "  agency       209\n"
                               "  purpose      ehc_needs_assessment\n"
                               "  fact types   existing_advice, diagnoses, needs, "
                               "communication_needs, professionals, current_setting\n"
                               "  legal basis  Children and Families Act 2014"));
  EXPECT_THAT(r.out, HasSubstr("reg 6(1)"));
  EXPECT_THAT(r.out, HasSubstr("rule la-safeguarding-enquiry\n"));
  EXPECT_THAT(r.out, HasSubstr("Children Act 1989 s.47"));
  EXPECT_THAT(r.out, HasSubstr("the partnership must confirm"));

  RunResult none = Run({"describe-sharing"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("nothing is shared without the family's consent"));
  RunResult empty = Run({"describe-sharing", "--statutory-sharing", WriteFile("empty.json", "{}")});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_THAT(empty.out, HasSubstr("0 rules"));
  EXPECT_THAT(empty.out, HasSubstr("nothing is shared without the family's consent"));

  const std::string bad = WriteFile(
      "bad.json",
      R"({"rules":[{"id":"a","agency":"209","purpose":"p","factTypes":["FACT_TYPE_NEEDS"],)"
      R"("legalBasis":"x"},{"id":"b","agency":"209","purpose":"q","factTypes":["FACT_TYPE_NEEDS"]}]})");
  RunResult rejected = Run({"describe-sharing", "--statutory-sharing", bad});
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_THAT(rejected.err, HasSubstr("bad.json: rules[1] (\"b\").legal_basis: required"));
  EXPECT_EQ(rejected.out, "") << "nothing described from a bad file";
  RunResult missing =
      Run({"describe-sharing", "--statutory-sharing", dir_.path() + "/missing.json"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("missing.json"));
  EXPECT_THAT(Run({"--help"}).out, HasSubstr("describe-sharing"));
  EXPECT_THAT(Run({"describe-sharing", "--help"}).out, HasSubstr("--statutory-sharing FILE"));
}

TEST_F(PathwayctlTest, SimulateWithStatutorySharingServesWithoutConsentAndNamesTheBasis) {
  // The school's record of the child's views and setting is in before the council
  // decides to assess (which needs the family's views); a council social worker views
  // the record for a safeguarding enquiry. Nobody has consented to anything.
  std::ifstream history(PATHWAY_HISTORIES "/ehc_assessment.jsonl");
  std::vector<std::string> lines;
  for (std::string line; lines.size() < 3 && std::getline(history, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  const std::string school =
      R"("source":{"agency":"100001","system":"school-mis"},"actor":{"id":"staff-2002",)"
      R"("role":"SENCO"},"subject":{"nhsNumber":"9434765919"},)";
  std::string jsonl = lines[0] + "\n" + lines[1] + "\n";
  jsonl += R"({"eventId":"school-01","occurredAt":"2025-01-20T09:00:00Z",)" + school +
           R"("factProvided":{"type":"FACT_TYPE_FAMILY_VIEWS","content":"Wants to stay at Oak"}})"
           "\n";
  jsonl += R"({"eventId":"school-02","occurredAt":"2025-01-20T09:05:00Z",)" + school +
           R"("factProvided":{"type":"FACT_TYPE_CURRENT_SETTING","content":"Year 3, Oak Primary"}})"
           "\n";
  jsonl += R"({"eventId":"view-01","occurredAt":"2025-01-21T10:00:00Z",)"
           R"("source":{"agency":"209","system":"social-care"},"actor":{"id":"staff-4004",)"
           R"("role":"social worker"},"subject":{"nhsNumber":"9434765919"},)"
           R"("recordViewRequested":{"agency":"209","purpose":"safeguarding_enquiry"}})"
           "\n";
  jsonl += lines[2] + "\n";  // the decision to assess: needs the family's views
  const std::string path = WriteFile("statutory.jsonl", jsonl);
  auto child_of = [](const google::protobuf::Struct& doc) -> const google::protobuf::Struct& {
    return Get(doc, "subjects").list_value().values(0).struct_value();
  };

  // Without a file: nothing without consent; the family's views and the setting wait
  // (and, being in the record, are not asked for again); the decision's other three
  // needs are asked for.
  RunResult none = Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  google::protobuf::Struct none_doc = ParseJson(none.out);
  const auto& none_child = child_of(none_doc);
  EXPECT_EQ(Get(none_child, "facts_reused").list_value().values_size(), 0);
  EXPECT_EQ(Get(none_child, "information_requests").list_value().values_size(), 3);
  const auto& none_audit = Get(none_child, "audit").list_value();
  ASSERT_EQ(none_audit.values_size(), 1) << "the view";
  EXPECT_EQ(Get(none_audit.values(0).struct_value(), "facts").list_value().values_size(), 0);
  EXPECT_EQ(Get(none_audit.values(0).struct_value(), "legal_bases").list_value().values_size(), 0);

  // The default file: the safeguarding view shows the setting, citing the Children Act;
  // the decision's need for the setting is served under reg 6 and 8; the family's views
  // are not statutory there, so that need still waits.
  RunResult deflt = Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--json",
                         "--statutory-sharing", kDefaultSharing});
  ASSERT_EQ(deflt.exit_code, 0) << deflt.err;
  google::protobuf::Struct deflt_doc = ParseJson(deflt.out);
  const auto& deflt_child = child_of(deflt_doc);
  const auto& deflt_reused = Get(deflt_child, "facts_reused").list_value();
  ASSERT_EQ(deflt_reused.values_size(), 1);
  EXPECT_EQ(Get(deflt_reused.values(0).struct_value(), "fact").string_value(), "current_setting");
  EXPECT_THAT(Get(deflt_reused.values(0).struct_value(), "legal_basis").string_value(),
              HasSubstr("reg 8"));
  const auto& view = Get(deflt_child, "audit").list_value().values(0).struct_value();
  EXPECT_EQ(Get(view, "action").string_value(), "view");
  ASSERT_EQ(Get(view, "facts").list_value().values_size(), 1);
  EXPECT_EQ(Get(view, "facts").list_value().values(0).string_value(), "current_setting");
  ASSERT_EQ(Get(view, "legal_bases").list_value().values_size(), 1);
  EXPECT_THAT(Get(view, "legal_bases").list_value().values(0).string_value(),
              HasSubstr("Children Act 1989 s.47"));
  EXPECT_EQ(deflt.out.find("Oak"), std::string::npos) << "the report holds no fact content";

  // A rule for the family's views (a test's, not the default): the decision's need is
  // served from the school's record, and the reuse and its audit name the basis.
  const std::string rules =
      WriteFile("views.json",
                R"({"rules":[{"id":"test-views","agency":"209","purpose":"ehc_needs_assessment",)"
                R"("factTypes":["FACT_TYPE_FAMILY_VIEWS"],"legalBasis":"test basis 1"}]})");
  RunResult views = Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--json",
                         "--statutory-sharing", rules});
  ASSERT_EQ(views.exit_code, 0) << views.err;
  google::protobuf::Struct views_doc = ParseJson(views.out);
  const auto& views_child = child_of(views_doc);
  const auto& reused = Get(views_child, "facts_reused").list_value();
  ASSERT_EQ(reused.values_size(), 1);
  EXPECT_EQ(Get(reused.values(0).struct_value(), "fact").string_value(), "family_views");
  EXPECT_EQ(Get(reused.values(0).struct_value(), "source_event_id").string_value(), "school-01");
  EXPECT_EQ(Get(reused.values(0).struct_value(), "legal_basis").string_value(), "test basis 1");
  const auto& audit = Get(views_child, "audit").list_value();
  ASSERT_EQ(audit.values_size(), 2) << "the view, the reuse";
  const auto& reuse = audit.values(1).struct_value();
  EXPECT_EQ(Get(reuse, "action").string_value(), "reuse");
  ASSERT_EQ(Get(reuse, "legal_bases").list_value().values_size(), 1);
  EXPECT_EQ(Get(reuse, "legal_bases").list_value().values(0).string_value(), "test basis 1");
  RunResult text =
      Run({"simulate", "--events", path, "--as-of", "2025-02-20", "--statutory-sharing", rules});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("family_views, without consent under test basis 1"));

  // A bad file stops the simulation before it starts, naming the rule and field.
  const std::string bad = WriteFile(
      "bad.json", R"({"rules":[{"id":"any","agency":"*","purpose":"ehc_needs_assessment",)"
                  R"("factTypes":["FACT_TYPE_FAMILY_VIEWS"],"legalBasis":"x"}]})");
  RunResult rejected = Run({"simulate", "--events", path, "--statutory-sharing", bad});
  EXPECT_EQ(rejected.exit_code, 2);
  EXPECT_THAT(rejected.err, HasSubstr("bad.json: rules[0] (\"any\").agency: no wildcards"));
  EXPECT_EQ(rejected.out, "");
}

}  // namespace
}  // namespace pathway
