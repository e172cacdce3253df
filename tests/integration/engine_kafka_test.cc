// The walking skeleton end to end on a real Kafka protocol: the engine (in-process,
// over the Kafka bus) against either librdkafka's mock cluster (started here) or a
// real Apache Kafka (PATHWAY_TEST_KAFKA_BOOTSTRAP, started by scripts/kafka.sh via
// the ctest fixture). The same test, unchanged, for both: code must not care which
// broker it talks to.
//
// Loops are bounded by deadlines; nothing sleeps for correctness.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "common/crypto.h"
#include "services/bus/kafka_admin.h"
#include "services/bus/kafka_bus.h"
#include "services/devbroker/mock_cluster.h"
#include "services/engine/engine.h"
#include "services/topics.h"
#include "state/case_store.h"
#include "state/store_set.h"
#include "tests/common/commands.h"
#include "tests/common/fixtures.h"
#include "tests/common/histories.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/kafka_engine.h"
#include "workflow/event_identity.h"
#include "workflow/simulator.h"

namespace pathway {
namespace {
using pathway::testing::ReadHistory;
using namespace std::chrono_literals;
using pathway::testing::kOtherValidNhsNumber;
using pathway::testing::kValidNhsNumber;
using pathway::testing::ValidReferral;
using pathway::v1::Envelope;

constexpr auto kDeadline = 120s;
constexpr int kPartitions = 4;

class Broker {
 public:
  Broker() {
    const char* real = std::getenv("PATHWAY_TEST_KAFKA_BOOTSTRAP");
    if (real && *real) {
      config_.bootstrap_servers = real;
      is_real_ = true;
    } else {
      std::vector<devbroker::TopicSpec> specs;
      for (auto t : topics::kAll) specs.push_back({std::string(t), kPartitions});
      auto cluster = devbroker::MockCluster::Start(1, specs);
      if (!cluster.ok()) throw std::runtime_error(cluster.error().ToString());
      mock_ = std::move(*cluster);
      config_.bootstrap_servers = mock_->BootstrapServers();
    }
    // Short group timings: joins are the slow part on both brokers.
    config_.settings["topic.metadata.refresh.interval.ms"] = "1000";
  }

  Status CreateTopics() {
    if (!is_real_) return {};  // the mock cluster was started with them
    std::vector<bus::TopicSpec> specs;
    for (auto t : topics::kAll) {
      std::map<std::string, std::string> configs;
      if (topics::IsCompacted(t)) configs["cleanup.policy"] = "compact";
      specs.push_back({std::string(t), kPartitions, 1, configs});
    }
    return bus::CreateTopics(config_, specs, 30s);
  }

  const bus::KafkaConfig& config() const { return config_; }
  bus::KafkaConfig consumer_config() const {
    bus::KafkaConfig c = config_;
    c.settings["session.timeout.ms"] = "6000";
    c.settings["heartbeat.interval.ms"] = "500";
    return c;
  }
  bool is_real() const { return is_real_; }

 private:
  bus::KafkaConfig config_;
  std::unique_ptr<devbroker::MockCluster> mock_;
  bool is_real_ = false;
};

// One engine "process": its own store, producer and consumers.
class EngineProcess {
 public:
  EngineProcess(const Broker& broker, const std::string& data_dir, const TimeSource& time,
                const engine::SubjectKeyer& keyer)
      : instance_(Config(broker, data_dir), time, keyer) {}

  engine::Engine& engine() { return instance_.engine(); }
  // The store (of the owned partitions) that holds `subject_key`, or the first one.
  state::CaseStore& StoreFor(const std::string& subject_key) {
    state::CaseStore* found = nullptr;
    for (int32_t p : instance_.stores().OpenPartitions()) {
      auto* store = instance_.stores().Find(p);
      auto state = store->LoadCase(subject_key);
      if (!found || (state.ok() && state->has_value())) found = store;
      if (state.ok() && state->has_value()) break;
    }
    if (!found) throw std::runtime_error("no partition owned");
    return *found;
  }

 private:
  static pathway::testing::KafkaEngineConfig Config(const Broker& broker,
                                                    const std::string& data_dir) {
    pathway::testing::KafkaEngineConfig config;
    config.producer = broker.config();
    config.consumers = broker.consumer_config();
    config.data_dir = data_dir;
    config.group_prefix = "it-engine";
    return config;
  }

  pathway::testing::KafkaEngine instance_;
};

// Reads every partition of the output topics from the beginning.
class Observer {
 public:
  explicit Observer(const Broker& broker) {
    auto c = bus::NewKafkaConsumer(broker.config(), "");
    if (!c.ok()) throw std::runtime_error(c.error().ToString());
    consumer_ = std::move(*c);
    std::vector<bus::TopicPartition> parts;
    for (auto t : {topics::kEvents, topics::kRejections, topics::kDeadLetter}) {
      for (int32_t p = 0; p < kPartitions; ++p)
        parts.push_back({std::string(t), p, bus::kOffsetBeginning});
    }
    if (!consumer_->Assign(parts).ok()) throw std::runtime_error("assign");
  }

  void Drain() {
    for (int i = 0; i < 1000; ++i) {
      auto m = consumer_->Poll(i == 0 ? 100ms : 0ms);
      if (!m.ok() || !m->has_value()) return;
      Envelope e;
      ASSERT_TRUE(e.ParseFromString((*m)->value)) << "every output is an Envelope";
      seen_[(*m)->topic].push_back({(*m)->key.value_or(""), e});
    }
  }

  size_t Count(std::string_view topic) { return seen_[std::string(topic)].size(); }
  // Whether the engine has answered inbound event `id` (an event or a rejection).
  bool Answered(const std::string& id) {
    for (auto topic : {topics::kEvents, topics::kRejections}) {
      for (const auto& [key, e] : seen_[std::string(topic)]) {
        if (e.causation_id() == id) return true;
      }
    }
    return false;
  }
  // Ids of the pathway events (steps, deadlines, warnings, breaches) of `subject`.
  std::vector<std::string> PathwayEventIds(const std::string& subject) {
    std::vector<std::string> ids;
    for (const auto& [key, e] : seen_[std::string(topics::kEvents)]) {
      if (key == subject && IsPathwayEvent(e)) ids.push_back(e.event_id());
    }
    return ids;
  }
  static bool IsPathwayEvent(const Envelope& e) {
    return e.has_pathway_step_recorded() || e.has_deadline_set() || e.has_deadline_met() ||
           e.has_deadline_cancelled() || e.has_deadline_warning() || e.has_deadline_breached();
  }
  size_t Received() {
    size_t n = 0;
    for (const auto& [key, e] : seen_[std::string(topics::kEvents)]) n += e.has_referral_received();
    return n;
  }
  const std::vector<std::pair<std::string, Envelope>>& Of(std::string_view topic) {
    return seen_[std::string(topic)];
  }

 private:
  std::unique_ptr<bus::Consumer> consumer_;
  std::map<std::string, std::vector<std::pair<std::string, Envelope>>> seen_;
};

void PublishInbound(const Broker& broker, const std::vector<std::string>& values) {
  int failures = 0;
  auto producer = bus::NewKafkaProducer(
      broker.config(), [&](const bus::Delivery& d) { failures += d.error ? 1 : 0; });
  ASSERT_TRUE(producer.ok());
  uint64_t i = 0;
  for (const auto& v : values) {
    // Partners key as they like: here, by a partner-side message number.
    ASSERT_TRUE(
        (*producer)->Produce(topics::kInbound, "partner-msg-" + std::to_string(i), v, i).ok());
    ++i;
  }
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  ASSERT_EQ(failures, 0);
}

// Steps the engine until `done` or the deadline.
template <class Done>
bool RunUntil(EngineProcess& p, Observer& o, Done done) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    Status s = p.engine().Step(100ms);
    if (!s.ok()) {
      ADD_FAILURE() << s.error().ToString();
      return false;
    }
    o.Drain();
    if (done()) return true;
  }
  return false;
}

TEST(EngineOnKafka, ReferralsRoundTripAndRestartEmitsNothingTwice) {
  Broker broker;
  ASSERT_TRUE(broker.CreateTopics().ok());
  pathway::testing::TempDir dir;
  SimulatedTimeSource time(pathway::testing::March10th2025());
  auto keyer = engine::SubjectKeyer::FromSecret(std::string(32, 's'));

  Envelope invalid_nhs = ValidReferral("evt-c");
  invalid_nhs.mutable_referral_submitted()->mutable_child()->set_nhs_number("9434765918");
  Envelope future_dob = ValidReferral("evt-d", "4000000020");
  future_dob.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(2031);
  PublishInbound(broker, {ValidReferral("evt-a").SerializeAsString(),
                          ValidReferral("evt-b", kOtherValidNhsNumber).SerializeAsString(),
                          invalid_nhs.SerializeAsString(), future_dob.SerializeAsString(),
                          ValidReferral("evt-a").SerializeAsString(),  // partner retry
                          std::string("\x0a\xff\xff not an envelope")});

  Observer observer(broker);
  std::string subject_a = keyer.Key(kValidNhsNumber);
  std::string subject_b = keyer.Key(kOtherValidNhsNumber);
  {
    EngineProcess engine(broker, dir.path() + "/state", time, keyer);
    ASSERT_TRUE(RunUntil(engine, observer,
                         [&] {
                           return observer.Received() >= 2 &&
                                  observer.Count(topics::kRejections) >= 2 &&
                                  observer.Count(topics::kDeadLetter) >= 1 &&
                                  engine.engine().stats().duplicates >= 1;
                         }))
        << "events=" << observer.Count(topics::kEvents)
        << " rejections=" << observer.Count(topics::kRejections)
        << " dead=" << observer.Count(topics::kDeadLetter);

    // pathway.events.v1: one ReferralReceived per child, keyed by subject key.
    std::set<std::string> subjects;
    for (const auto& [key, e] : observer.Of(topics::kEvents)) {
      EXPECT_EQ(key, e.subject_key());
      if (e.has_referral_received()) subjects.insert(key);
    }
    EXPECT_EQ(observer.Received(), 2u);
    EXPECT_EQ(subjects, (std::set<std::string>{subject_a, subject_b}));

    // pathway.rejections.v1: the field and the rule, for each invalid command.
    std::map<std::string, std::string> rules;
    for (const auto& [key, e] : observer.Of(topics::kRejections)) {
      rules[e.command_rejected().rejected_event_id()] =
          e.command_rejected().field() + " " + e.command_rejected().rule();
    }
    EXPECT_EQ(rules["evt-c"], "referral_submitted.child.nhs_number nhs_number.modulus11");
    EXPECT_EQ(rules["evt-d"], "referral_submitted.child.date_of_birth date_of_birth.not_in_future");

    // pathway.deadletter.v1: the reason and the original bytes.
    const Envelope& dead = observer.Of(topics::kDeadLetter).at(0).second;
    EXPECT_EQ(dead.dead_lettered().topic(), topics::kInbound);
    EXPECT_EQ(dead.dead_lettered().original_sha256(),
              Sha256(std::string("\x0a\xff\xff not an envelope")));
    EXPECT_FALSE(dead.dead_lettered().reason().empty());

    // RocksDB: each child's case with its history; the retry changed nothing.
    for (const auto& subject : {subject_a, subject_b}) {
      auto state = engine.StoreFor(subject).LoadCase(subject);
      ASSERT_TRUE(state.ok() && state->has_value());
      EXPECT_EQ((*state)->referrals_size(), 1);
      // The referral kept (for re-deciding in date order), then its two events.
      EXPECT_EQ(engine.StoreFor(subject).History(subject)->size(), 3u);
    }
    Envelope routed = ValidReferral("evt-a");
    routed.set_subject_key(subject_a);
    auto seen = engine.StoreFor(subject_a).SeenEvent(workflow::CommandIdentity(routed));
    ASSERT_TRUE(seen.ok());
    EXPECT_TRUE(seen->has_value()) << "remembered under its source, id and child";
  }

  // Restart on the same data directory; one more referral arrives.
  PublishInbound(broker, {ValidReferral("evt-e", "4000000020").SerializeAsString()});
  {
    EngineProcess engine(broker, dir.path() + "/state", time, keyer);
    ASSERT_TRUE(RunUntil(engine, observer, [&] { return observer.Received() >= 3; }));
    // Give any (wrong) re-emission a chance to show up before counting.
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(engine.engine().Step(100ms).ok());
      observer.Drain();
    }
    EXPECT_EQ(engine.engine().stats().duplicates, 0u) << "resumed after stored offsets";
  }
  std::set<std::string> ids;
  for (const auto& [key, e] : observer.Of(topics::kEvents)) ids.insert(e.event_id());
  // Each referral: ReferralReceived and the intake pathway's first step.
  EXPECT_EQ(observer.Count(topics::kEvents), 6u) << "nothing emitted twice";
  EXPECT_EQ(ids.size(), 6u) << "nothing lost";
  EXPECT_EQ(observer.Received(), 3u);
  EXPECT_EQ(observer.Count(topics::kRejections), 2u);
  EXPECT_EQ(observer.Count(topics::kDeadLetter), 1u);
}

TEST(EngineOnKafka, HostileShapesAreRefusedAndTheEngineGoesOn) {
  // Issue 11: each of these once made a produce fail (and the engine exit on it at every
  // restart) or passed as something it was not. Over a real client and broker each is
  // rejected or dead-lettered, and the valid referral after them is processed.
  Broker broker;
  ASSERT_TRUE(broker.CreateTopics().ok());
  pathway::testing::TempDir dir;
  SimulatedTimeSource time(pathway::testing::March10th2025());
  auto keyer = engine::SubjectKeyer::FromSecret(std::string(32, 's'));
  std::vector<std::string> hostile;
  hostile.push_back(ValidReferral(std::string(400 * 1024, 'e'), "4000000020").SerializeAsString());
  Envelope huge = ValidReferral("hostile-huge", "4000000039");
  huge.mutable_referral_submitted()->set_concerns(std::string(990'000, 'c'));
  hostile.push_back(huge.SerializeAsString());
  for (int i = 0; i < 3; ++i) {
    hostile.push_back(pathway::testing::Command("hostile-fact-" + std::to_string(i), "2025-03-10",
                                                [](Envelope& e) {
                                                  e.mutable_fact_provided()->set_type(
                                                      pathway::v1::FACT_TYPE_FAMILY_VIEWS);
                                                  e.mutable_fact_provided()->set_content(
                                                      std::string(400 * 1024, 'f'));
                                                })
                          .SerializeAsString());
  }
  Envelope unknown_enum = ValidReferral("hostile-enum", "4000000047");
  unknown_enum.mutable_referral_submitted()->set_reason(
      static_cast<pathway::v1::ReferralReason>(977));
  hostile.push_back(unknown_enum.SerializeAsString());
  Envelope year = ValidReferral("hostile-year", "4000000055");
  year.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(67561);
  hostile.push_back(year.SerializeAsString());
  Envelope control = ValidReferral("hostile-esc", "4000000063");
  control.mutable_referral_submitted()->mutable_child()->set_given_name("Amara\x1b[2J");
  hostile.push_back(control.SerializeAsString());
  std::vector<std::string> values = hostile;
  values.push_back(ValidReferral("after-hostile").SerializeAsString());
  PublishInbound(broker, values);

  // A real Kafka keeps what earlier tests left on the topics: count only this test's
  // answers (a hostile id is named by its digest in a rejection).
  auto ours = [](const Envelope& e) {
    return e.causation_id().starts_with("hostile-") || e.causation_id().starts_with("digest:") ||
           (e.has_dead_lettered() &&
            e.dead_lettered().reason().find("exceeds") != std::string::npos);
  };
  Observer observer(broker);
  EngineProcess engine(broker, dir.path() + "/state", time, keyer);
  auto answered = [&] {
    size_t n = 0;
    for (auto t : {topics::kRejections, topics::kDeadLetter}) {
      for (const auto& [key, e] : observer.Of(t)) n += ours(e) ? 1 : 0;
    }
    return n;
  };
  ASSERT_TRUE(
      RunUntil(engine, observer,
               [&] { return observer.Answered("after-hostile") && answered() >= hostile.size(); }))
      << "answered=" << answered();
  EXPECT_TRUE(engine.engine().live());
  EXPECT_EQ(answered(), hostile.size()) << "each hostile message answered once";
  for (const auto& [key, e] : observer.Of(topics::kEvents)) {
    EXPECT_FALSE(ours(e)) << "no hostile message became an event";
  }
  EXPECT_EQ(engine.engine().stats().outputs_dead_lettered, 0u)
      << "every output was bounded before it was sent";
  for (auto t : {topics::kRejections, topics::kDeadLetter}) {
    for (const auto& [key, e] : observer.Of(t)) {
      if (!ours(e)) continue;
      if (e.has_command_rejected()) {
        EXPECT_FALSE(e.command_rejected().field().empty());
        EXPECT_FALSE(e.command_rejected().rule().empty());
      }
      EXPECT_LT(e.ByteSizeLong(), 8192u) << "never a copy of the hostile value";
    }
  }
}

TEST(EngineOnKafka, EmitsTheSimulatorsTransitionsForAnEhcAssessment) {
  // Issue 3: the engine emits over Kafka the transitions simulate computes for the same
  // input. The history runs on simulated time; a child of its own keeps it apart from
  // what other tests left on the topics.
  constexpr const char* kChild = "7000000007";
  Broker broker;
  ASSERT_TRUE(broker.CreateTopics().ok());
  pathway::testing::TempDir dir;
  SimulatedTimeSource time(pathway::testing::At("2025-01-01"));
  auto keyer = engine::SubjectKeyer::FromSecret(std::string(32, 's'));
  workflow::Simulator sim([&keyer](std::string_view nhs) { return keyer.Key(nhs); });
  std::vector<Envelope> history = ReadHistory("ehc_assessment.jsonl");
  ASSERT_EQ(history.size(), 13u);

  Observer observer(broker);
  {
    EngineProcess engine(broker, dir.path() + "/state", time, keyer);
    for (Envelope e : history) {
      if (e.has_referral_submitted()) {
        e.mutable_referral_submitted()->mutable_child()->set_nhs_number(kChild);
      } else {
        e.mutable_subject()->set_nhs_number(kChild);
      }
      e.set_event_id("kafka-" + e.event_id());
      TimePoint at{std::chrono::seconds(e.occurred_at().seconds())};
      sim.Process(e, at);
      time.Set(at);
      PublishInbound(broker, {e.SerializeAsString()});
      ASSERT_TRUE(RunUntil(engine, observer, [&] { return observer.Answered(e.event_id()); }))
          << e.event_id();
    }
    TimePoint end = pathway::testing::At("2025-06-30");
    sim.AdvanceTo(workflow::LondonDate(end));
    time.Set(end);
    std::string subject = keyer.Key(kChild);
    std::vector<std::string> expected;
    for (const auto& e : sim.subjects().at(subject).events) {
      if (Observer::IsPathwayEvent(e)) expected.push_back(e.event_id());
    }
    ASSERT_TRUE(RunUntil(engine, observer, [&] {
      return observer.PathwayEventIds(subject).size() >= expected.size();
    }));
    EXPECT_EQ(observer.PathwayEventIds(subject), expected);
  }
}

}  // namespace
}  // namespace pathway
