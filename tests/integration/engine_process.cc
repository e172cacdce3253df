#include "tests/integration/engine_process.h"

#include <fcntl.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/loadgen/history_edit.h"
#include "common/crypto.h"
#include "services/bus/kafka_admin.h"
#include "services/topics.h"
#include "tests/common/histories.h"
#include "tests/common/state_dump.h"
#include "workflow/identifiers.h"
#include "workflow/personal_fields.h"

namespace pathway::testing {
namespace {
namespace v1 = pathway::v1;
namespace fs = std::filesystem;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr milliseconds kPollInterval{50};

[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

std::vector<std::string> OutputTopics() {
  return {std::string(topics::kEvents), std::string(topics::kRejections),
          std::string(topics::kDeadLetter)};
}

// ---- librdkafka handles ------------------------------------------------------------

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

RdKafka NewClient(rd_kafka_type_t type, const std::string& bootstrap,
                  const std::map<std::string, std::string>& settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      Fail("librdkafka setting " + k + ": " + err);
    }
  };
  set("bootstrap.servers", bootstrap);
  set("log_level", "3");  // errors only: a test's output stays readable
  for (const auto& [k, v] : settings) set(k, v);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    Fail(std::string("rd_kafka_new: ") + err);
  }
  return RdKafka(rk);
}

// Partition count of every topic in the cluster's metadata (topics with an error or a
// partition without a leader are left out); nullopt if no answer.
std::optional<std::map<std::string, int>> ReadyTopics(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    bool led = true;
    for (int p = 0; p < t.partition_cnt; ++p) led = led && t.partitions[p].leader >= 0;
    if (led) out[t.topic] = t.partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

int BrokerCount(rd_kafka_t* rk) {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail("no metadata from the cluster");
  }
  int n = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

// ---- the input stream --------------------------------------------------------------

// The NHS number following `*next` (9 digits) whose mod-11 check digit exists.
std::string NextNhsNumber(uint64_t* next) {
  std::string nhs = loadgen::NextNhsNumber(next);
  if (!workflow::IsValidNhsNumber(nhs)) Fail("NHS number generator broke: " + nhs);
  return nhs;
}

// The same number with a wrong check digit.
std::string BreakCheckDigit(const std::string& nhs) {
  std::string bad = nhs;
  bad[9] = static_cast<char>('0' + (nhs[9] - '0' + 1) % 10);
  if (workflow::IsValidNhsNumber(bad)) bad[9] = static_cast<char>('0' + (nhs[9] - '0' + 2) % 10);
  return bad;
}

using Days = std::chrono::sys_days;

Days ToDays(const v1::Date& d) {
  return Days{std::chrono::year{d.year()} / std::chrono::month{static_cast<unsigned>(d.month())} /
              std::chrono::day{static_cast<unsigned>(d.day())}};
}
void SetDate(v1::Date& d, Days days) {
  std::chrono::year_month_day ymd{days};
  d.set_year(static_cast<int>(ymd.year()));
  d.set_month(static_cast<int>(static_cast<unsigned>(ymd.month())));
  d.set_day(static_cast<int>(static_cast<unsigned>(ymd.day())));
}
Days FixedDay() { return Days{std::chrono::year{2026} / 1 / 5}; }

using loadgen::RewriteNhs;
using loadgen::VisitMessages;

}  // namespace

void MoveDatesToFixedDay(v1::Envelope& e) {
  Days occurred = std::chrono::floor<std::chrono::days>(
      std::chrono::sys_seconds{std::chrono::seconds{e.occurred_at().seconds()}});
  VisitMessages(e, [&](Message& child, const FieldDescriptor& field) {
    if (child.GetDescriptor() != v1::Date::descriptor()) return;
    if (field.name() == "date_of_birth") return;
    auto& date = static_cast<v1::Date&>(child);
    if (date.year() == 0) return;
    auto after = ToDays(date) - occurred;
    SetDate(date, FixedDay() + std::max(after, std::chrono::days{0}));
  });
  e.mutable_occurred_at()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(FixedDay().time_since_epoch()).count() +
      8 * 3600);
}

namespace {

// Sets the first date of a command's payload (not a date of birth) 30 days ahead.
bool MoveFirstDateToFuture(v1::Envelope& e) {
  bool moved = false;
  VisitMessages(e, [&](Message& child, const FieldDescriptor& field) {
    if (moved || child.GetDescriptor() != v1::Date::descriptor()) return;
    if (field.name() == "date_of_birth") return;
    SetDate(static_cast<v1::Date&>(child), FixedDay() + std::chrono::days{30});
    moved = true;
  });
  return moved;
}

struct Template {
  std::string name;
  std::vector<v1::Envelope> events;
  std::vector<std::string> nhs_numbers;  // distinct, in first-use order
};

std::vector<Template> LoadTemplates() {
  std::vector<Template> out;
  for (const char* name :
       {"referral_intake_only", "ehc_assessment.jsonl", "neurodevelopmental.jsonl",
        "annual_review.jsonl", "disagreement.jsonl", "exceptional_needs_grant.jsonl",
        "preparing_for_adulthood.jsonl", "multi_pathway_child.jsonl"}) {
    Template t;
    t.name = name;
    if (t.name == "referral_intake_only") {
      // A child who is only referred (most referrals go no further).
      t.events.push_back(ReadHistory("ehc_assessment.jsonl").at(0));
    } else {
      t.events = ReadHistory(name);
    }
    if (t.events.empty()) Fail(std::string("history ") + name + " is empty");
    for (auto& e : t.events) {
      RewriteNhs(e, [&](const std::string& nhs) {
        if (std::find(t.nhs_numbers.begin(), t.nhs_numbers.end(), nhs) == t.nhs_numbers.end()) {
          t.nhs_numbers.push_back(nhs);
        }
        return nhs;
      });
    }
    out.push_back(std::move(t));
  }
  return out;
}

v1::Envelope UnknownPayload(const std::string& event_id) {
  v1::Envelope e;
  e.set_event_id(event_id);
  e.mutable_source()->set_agency("209");
  e.mutable_source()->set_system("sen-case-management-v9");
  // Field 4000 (varint 1): a payload this engine's schema does not know.
  std::string bytes = e.SerializeAsString() + std::string("\x80\xfa\x01\x01", 4);
  v1::Envelope parsed;
  if (!parsed.ParseFromString(bytes)) Fail("unknown payload does not parse");
  return parsed;
}

}  // namespace

// ---- small things ------------------------------------------------------------------

std::string EngineBinary() {
  if (const char* env = std::getenv("PATHWAY_TEST_ENGINE"); env && *env) return env;
#ifdef PATHWAY_ENGINE_BINARY
  return PATHWAY_ENGINE_BINARY;
#else
  Fail("no pathway-engine binary: set PATHWAY_TEST_ENGINE");
#endif
}

WorkDir::WorkDir(const std::string& name) {
  std::string pattern = (fs::temp_directory_path() / ("pathway-" + name + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) Fail("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = pattern;
}

WorkDir::~WorkDir() {
  const char* keep = std::getenv("PATHWAY_TEST_KEEP_DIRS");
  // A failed assertion, or an exception on its way to gtest: keep the evidence.
  if ((keep && *keep) || ::testing::Test::HasFailure() || std::uncaught_exceptions() > 0) {
    std::cerr << "[harness] kept " << path_ << " (engine logs and data)\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ReadKek(const std::string& key_file) {
  std::ifstream in(KekFile(key_file));
  std::string hex, bytes;
  in >> hex;
  if (!HexDecode(hex, &bytes) || bytes.size() != 32) Fail("cannot read " + KekFile(key_file));
  return bytes;
}

std::string WriteKeyFile(const std::string& path, uint64_t seed) {
  for (const auto& [file, purpose] : {std::pair{path, "subject-key"}, {KekFile(path), "kek"}}) {
    std::ofstream out(file, std::ios::trunc);
    out << HexEncode(Sha256("pathway-test-" + std::string(purpose) + "-" + std::to_string(seed)))
        << "\n";
    out.close();
    if (!out) Fail("cannot write " + file);
    ::chmod(file.c_str(), 0600);
  }
  return path;
}

std::string UniqueGroupPrefix(const std::string& name) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return "it-" + name + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

std::string InboundStream::Summary() const {
  std::ostringstream s;
  s << messages.size() << " inbound messages: " << families << " families, " << children
    << " children, " << commands << " commands, " << invalid << " invalid, " << undecodable
    << " undecodable, " << duplicates << " duplicates";
  return s.str();
}

InboundStream GenerateInboundStream(uint64_t seed, size_t min_messages, int partitions,
                                    StreamMix mix) {
  const std::vector<Template> templates = LoadTemplates();
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  uint64_t next_nhs = 600000000 + (seed % 1000) * 100000;

  InboundStream stream;
  // Per partition, the families' message sequences in family order.
  std::vector<std::deque<std::vector<InboundMessage>>> per_partition(partitions);
  size_t total = 0;
  for (size_t f = 0; total < min_messages; ++f) {
    const Template& t = templates[f % templates.size()];
    const int32_t partition = static_cast<int32_t>(f % partitions);
    const std::string prefix = "f" + std::to_string(f) + "-";
    std::map<std::string, std::string> nhs;
    for (const auto& original : t.nhs_numbers) nhs[original] = NextNhsNumber(&next_nhs);
    stream.children += nhs.size();

    std::vector<InboundMessage> seq;
    auto add = [&](const v1::Envelope& e, const std::string& key) {
      seq.push_back({partition, key, e.SerializeAsString()});
    };
    std::vector<v1::Envelope> commands;
    for (v1::Envelope e : t.events) {
      RewriteNhs(e, [&](const std::string& n) { return nhs.at(n); });
      e.set_event_id(prefix + e.event_id());
      MoveDatesToFixedDay(e);
      commands.push_back(e);
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      add(commands[i], commands[i].event_id());
      ++stream.commands;
      // A partner retry: the same bytes again, shortly after.
      if (chance(0.05)) {
        size_t back = std::min(seq.size(), 1 + pick(3));
        seq.push_back(seq[seq.size() - back]);
        ++stream.duplicates;
      }
    }
    auto insert_at_random = [&](InboundMessage m) {
      seq.insert(seq.begin() + static_cast<std::ptrdiff_t>(pick(seq.size() + 1)), std::move(m));
    };
    auto insert = [&](const v1::Envelope& e) {
      if (!mix.invalid) return;
      insert_at_random({partition, e.event_id().empty() ? prefix + "no-id" : e.event_id(),
                        e.SerializeAsString()});
      ++stream.invalid;
    };
    // Invalid commands, each rejected with a field and a rule.
    if (chance(0.25)) {  // intake: the NHS number fails its check digit
      v1::Envelope e = commands[0];
      e.set_event_id(prefix + "bad-nhs");
      RewriteNhs(e, [&](const std::string& n) { return BreakCheckDigit(n); });
      insert(e);
    }
    if (chance(0.15)) {  // intake: no event id
      v1::Envelope e = commands[pick(commands.size())];
      e.clear_event_id();
      insert(e);
    }
    if (chance(0.2)) {  // stateful stage: a date of birth in the future
      v1::Envelope e = commands[0];
      e.set_event_id(prefix + "future-dob");
      if (e.has_referral_submitted()) {
        e.mutable_referral_submitted()->mutable_child()->mutable_date_of_birth()->set_year(2031);
        insert(e);
      }
    }
    if (chance(0.2) && commands.size() > 1) {  // a step dated in the future
      v1::Envelope e = commands[1 + pick(commands.size() - 1)];
      e.set_event_id(prefix + "future-step");
      if (MoveFirstDateToFuture(e)) insert(e);
    }
    if (chance(0.1) && commands.size() > 1) {  // a step for a child with no case
      v1::Envelope e = commands[1 + pick(commands.size() - 1)];
      e.set_event_id(prefix + "stranger");
      std::string stranger = NextNhsNumber(&next_nhs);
      RewriteNhs(e, [&](const std::string&) { return stranger; });
      insert(e);
    }
    // Dead letters.
    if (chance(0.06) && mix.undecodable) {
      insert_at_random({partition, prefix + "garbage",
                        std::string("\x0a\xff\xff not an envelope ", 21) + prefix});
      ++stream.undecodable;
    }
    if (chance(0.04) && mix.undecodable) {
      insert_at_random(
          {partition, prefix + "newer", UnknownPayload(prefix + "newer").SerializeAsString()});
      ++stream.undecodable;
    }
    total += seq.size();
    per_partition[partition].push_back(std::move(seq));
    ++stream.families;
  }

  // Interleave each partition's families (a window of 8 at a time), keeping each
  // family's order; then the partitions one after another (order across partitions
  // does not matter: each is its own log).
  for (auto& families : per_partition) {
    std::vector<std::pair<std::vector<InboundMessage>, size_t>> window;
    while (!families.empty() || !window.empty()) {
      while (window.size() < 8 && !families.empty()) {
        window.emplace_back(std::move(families.front()), 0);
        families.pop_front();
      }
      size_t w = pick(window.size());
      auto& [seq, next] = window[w];
      stream.messages.push_back(seq[next++]);
      if (next == seq.size()) window.erase(window.begin() + static_cast<std::ptrdiff_t>(w));
    }
  }
  return stream;
}

// ---- the cluster -------------------------------------------------------------------

bool TestCluster::RealRequested() {
  const char* real = std::getenv("PATHWAY_TEST_KAFKA_BOOTSTRAP");
  return real && *real;
}

std::unique_ptr<TestCluster> TestCluster::Mock(int brokers) {
  std::vector<devbroker::TopicSpec> specs;
  for (auto t : topics::kAll) specs.push_back({std::string(t), kTestPartitions});
  auto cluster = devbroker::MockCluster::Start(brokers, specs);
  if (!cluster.ok()) Fail("mock cluster: " + cluster.error().ToString());
  std::unique_ptr<TestCluster> out(new TestCluster());
  out->mock_ = std::move(*cluster);
  out->bootstrap_ = out->mock_->BootstrapServers();
  out->brokers_ = brokers;
  return out;
}

std::unique_ptr<TestCluster> TestCluster::Real() {
  if (!RealRequested()) Fail("PATHWAY_TEST_KAFKA_BOOTSTRAP is not set");
  std::unique_ptr<TestCluster> out(new TestCluster());
  out->bootstrap_ = std::getenv("PATHWAY_TEST_KAFKA_BOOTSTRAP");
  RecreatePathwayTopics(out->bootstrap_, kTestPartitions);
  RdKafka rk = NewClient(RD_KAFKA_PRODUCER, out->bootstrap_, {});
  out->brokers_ = BrokerCount(rk.get());
  return out;
}

std::unique_ptr<TestCluster> TestCluster::FromEnvironment(int mock_brokers) {
  return RealRequested() ? Real() : Mock(mock_brokers);
}

TestCluster::~TestCluster() {
  if (!is_real()) return;
  try {
    RecreatePathwayTopics(bootstrap_, kTestPartitions);  // leave them empty for the next test
  } catch (const std::exception& e) {
    std::cerr << "[harness] could not reset the pathway topics: " << e.what() << "\n";
  }
}

void RecreatePathwayTopics(const std::string& bootstrap, int partitions) {
  std::vector<std::string> names;
  for (auto t : topics::kAll) names.emplace_back(t);
  RecreateTopics(bootstrap, names, partitions);
}

void RecreateTopics(const std::string& bootstrap, const std::vector<std::string>& names,
                    int partitions) {
  bus::KafkaConfig config;
  config.bootstrap_servers = bootstrap;
  if (auto s = bus::DeleteTopics(config, names, std::chrono::seconds(90)); !s.ok()) {
    Fail("delete topics: " + s.error().ToString());
  }
  RdKafka rk = NewClient(RD_KAFKA_PRODUCER, bootstrap, {});
  const int brokers = BrokerCount(rk.get());
  const int rf = std::min(brokers, 3);
  std::vector<bus::TopicSpec> specs;
  for (const auto& name : names) {
    bus::TopicSpec spec{name, partitions, rf, {}};
    spec.configs["min.insync.replicas"] = rf >= 3 ? "2" : "1";
    if (topics::IsCompacted(name)) spec.configs["cleanup.policy"] = "compact";
    specs.push_back(std::move(spec));
  }
  if (auto s = bus::CreateTopics(config, specs, std::chrono::seconds(60)); !s.ok()) {
    Fail("create topics: " + s.error().ToString());
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    auto ready = ReadyTopics(rk.get(), 5000);
    bool all = ready.has_value();
    for (const auto& name : names) {
      all = all && ready->count(name) && ready->at(name) == partitions;
    }
    if (all) return;
    if (Clock::now() >= deadline) Fail("topics not ready after 60 s");
    std::this_thread::sleep_for(kPollInterval);
  }
}

void Publish(const std::string& bootstrap, const std::vector<InboundMessage>& messages) {
  struct Counts {
    int delivered = 0;
    int failed = 0;
    std::string error;
  } counts;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                        {"enable.idempotence", "true"},
                                                        {"linger.ms", "5"},
                                                        {"log_level", "3"}}) {
    rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  }
  rd_kafka_conf_set_opaque(conf, &counts);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* c = static_cast<Counts*>(opaque);
    if (m->err) {
      ++c->failed;
      c->error = rd_kafka_err2str(m->err);
    } else {
      ++c->delivered;
    }
  });
  RdKafka rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    Fail(std::string("publisher: ") + err);
  }
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(rk.get(), std::string(topics::kInbound).c_str(), nullptr);
  for (const auto& m : messages) {
    for (int attempt = 0;; ++attempt) {
      if (rd_kafka_produce(topic, m.partition, RD_KAFKA_MSG_F_COPY,
                           const_cast<char*>(m.value.data()), m.value.size(), m.key.data(),
                           m.key.size(), nullptr) == 0) {
        break;
      }
      rd_kafka_resp_err_t e = rd_kafka_last_error();
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt > 600) {
        rd_kafka_topic_destroy(topic);
        Fail(std::string("publish: ") + rd_kafka_err2str(e));
      }
      rd_kafka_poll(rk.get(), 100);
    }
    rd_kafka_poll(rk.get(), 0);
  }
  rd_kafka_topic_destroy(topic);
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("publish: flush");
  if (counts.failed > 0 || counts.delivered != static_cast<int>(messages.size())) {
    Fail("publish: " + std::to_string(counts.failed) + " failed (" + counts.error + ")");
  }
}

void Publish(const std::string& bootstrap, const InboundStream& stream) {
  Publish(bootstrap, stream.messages);
}

std::vector<std::vector<InboundMessage>> SplitStream(const InboundStream& stream, size_t chunks) {
  std::map<int32_t, std::vector<const InboundMessage*>> by_partition;
  for (const auto& m : stream.messages) by_partition[m.partition].push_back(&m);
  std::vector<std::vector<InboundMessage>> out(chunks);
  for (const auto& [partition, messages] : by_partition) {
    for (size_t i = 0; i < messages.size(); ++i) {
      out[i * chunks / messages.size()].push_back(*messages[i]);
    }
  }
  return out;
}

// ---- offsets -----------------------------------------------------------------------

struct KafkaProbe::Handle {
  RdKafka rk;
};

KafkaProbe::KafkaProbe(std::string bootstrap) : bootstrap_(std::move(bootstrap)) {}
KafkaProbe::~KafkaProbe() = default;

KafkaProbe::Handle* KafkaProbe::Group(const std::string& group) {
  auto& h = handles_[group];
  if (!h) {
    h = std::make_unique<Handle>();
    // A consumer handle that never subscribes: it reads the group's committed offsets
    // without joining the group.
    h->rk = NewClient(RD_KAFKA_CONSUMER, bootstrap_,
                      {{"group.id", group.empty() ? UniqueGroupPrefix("probe") : group},
                       {"enable.auto.commit", "false"},
                       // Leaders move in the fault tests: notice it soon.
                       {"topic.metadata.refresh.interval.ms", "1000"},
                       {"socket.timeout.ms", "5000"}});
  }
  return h.get();
}

std::optional<std::vector<int64_t>> KafkaProbe::HighWatermarks(const std::string& topic) {
  rd_kafka_t* rk = Group("")->rk.get();
  if (!partitions_.count(topic)) {
    auto ready = ReadyTopics(rk, 2000);
    if (!ready || !ready->count(topic)) return std::nullopt;
    partitions_[topic] = ready->at(topic);
  }
  std::vector<int64_t> out;
  for (int p = 0; p < partitions_[topic]; ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 2000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::nullopt;
    }
    out.push_back(hi);
  }
  return out;
}

std::optional<std::vector<int64_t>> KafkaProbe::Committed(const std::string& group,
                                                          const std::string& topic) {
  auto hwm = HighWatermarks(topic);  // for the partition count
  if (!hwm) return std::nullopt;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(hwm->size()));
  for (size_t p = 0; p < hwm->size(); ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p));
  }
  rd_kafka_resp_err_t e = rd_kafka_committed(Group(group)->rk.get(), list, 2000);
  std::optional<std::vector<int64_t>> out;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    out.emplace(hwm->size(), -1);
    for (int i = 0; i < list->cnt; ++i) {
      const auto& tp = list->elems[i];
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0) (*out)[tp.partition] = tp.offset;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

std::optional<int64_t> KafkaProbe::Total(const std::vector<std::string>& topics) {
  int64_t total = 0;
  for (const auto& t : topics) {
    auto hwm = HighWatermarks(t);
    if (!hwm) return std::nullopt;
    for (int64_t h : *hwm) total += h;
  }
  return total;
}

// ---- the engine process ------------------------------------------------------------

EngineProcess::EngineProcess(EngineConfig config) : config_(std::move(config)) {}

EngineProcess::~EngineProcess() {
  if (pid_ > 0) Kill();
}

void EngineProcess::Start() {
  if (pid_ > 0 && Running()) Fail("engine already running");
  std::vector<std::string> args = {EngineBinary()};
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--bootstrap-servers", config_.bootstrap},
           {"--data-dir", config_.data_dir},
           {"--subject-key-file", config_.key_file},
           {"--key-encryption-key-file", KekFile(config_.key_file)},
           {"--group-prefix", config_.group_prefix},
           {"--fixed-clock", kFixedClock},
           // Health and metrics on a port of its own: several engines may run at once.
           {"--ops-listen", "127.0.0.1:0"}}) {
    args.push_back(flag);
    args.push_back(value);
  }
  for (const auto& [k, v] : config_.kafka) {
    args.push_back("-X");
    args.push_back(k + "=" + v);
  }
  for (const auto& a : config_.extra_args) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fd = ::open(config_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) Fail("cannot open " + config_.log_file + ": " + std::strerror(errno));
  std::string banner = "=== harness: start #" + std::to_string(starts_ + 1) + "\n";
  (void)!::write(fd, banner.data(), banner.size());
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    Fail("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (the parent has threads).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fd);
  pid_ = pid;
  ++starts_;
  meant_to_run_ = true;
  last_status_.reset();
}

bool EngineProcess::RestartIfExited() {
  if (!meant_to_run_ || Running()) return false;
  own_exits_.push_back(last_status_.value_or(-1));
  Start();
  return true;
}

bool EngineProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    last_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_ = -1;
  return false;
}

std::optional<int> EngineProcess::WaitExit(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return last_status_;
}

void EngineProcess::Kill() {
  meant_to_run_ = false;
  if (!Running()) return;
  ::kill(pid_, SIGKILL);
  if (!WaitExit(milliseconds(10000))) Fail("engine survived SIGKILL");
}

void EngineProcess::SignalTerm() {
  meant_to_run_ = false;
  if (Running()) ::kill(pid_, SIGTERM);
}

std::optional<int> EngineProcess::Terminate(milliseconds timeout) {
  meant_to_run_ = false;
  if (!Running()) return last_status_;
  ::kill(pid_, SIGTERM);
  auto status = WaitExit(timeout);
  if (!status) Kill();
  return status;
}

std::string EngineProcess::Log() const {
  std::ifstream in(config_.log_file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string EngineProcess::LogTail(size_t lines) const {
  std::string log = Log();
  size_t pos = log.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = log.rfind('\n', pos - 1);
    if (pos == std::string::npos) return log;
  }
  return log.substr(pos + 1);
}

std::map<std::string, std::string> EngineKafkaSettings(const TestCluster& cluster) {
  // Group joins are what a restart costs. A real Kafka accepts session timeouts from
  // 6 s (group.min.session.timeout.ms). librdkafka 2.0.2's mock has no minimum, but a
  // first join waits 3 s (its group.initial.rebalance.delay), so the session must be
  // longer; and a SIGKILLed member stays in the group until its session expires, which
  // the next process's join waits for (measured on 2 cores: about 11 s per restart at
  // 6 s, about 5 s at 3.5 s).
  std::map<std::string, std::string> s = {
      {"session.timeout.ms", cluster.is_real() ? "6000" : "3500"},
      {"heartbeat.interval.ms", cluster.is_real() ? "500" : "300"},
      {"topic.metadata.refresh.interval.ms", "1000"},
  };
  if (const char* v = std::getenv("PATHWAY_TEST_SESSION_TIMEOUT_MS")) s["session.timeout.ms"] = v;
  if (const char* v = std::getenv("PATHWAY_TEST_HEARTBEAT_MS")) s["heartbeat.interval.ms"] = v;
  return s;
}

// ---- progress and completion -------------------------------------------------------

std::optional<int64_t> Progress(KafkaProbe& probe) {
  std::vector<std::string> t = OutputTopics();
  t.emplace_back(topics::kCommands);
  return probe.Total(t);
}

bool WaitForProgress(KafkaProbe& probe, int64_t target, milliseconds timeout,
                     const std::function<void()>& tick) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (tick) tick();
    if (Progress(probe).value_or(0) >= target) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

bool CaughtUp(KafkaProbe& probe, const std::string& group_prefix, std::string* detail) {
  auto behind = [&](const std::string& group, std::string_view topic) -> std::optional<int64_t> {
    auto hwm = probe.HighWatermarks(std::string(topic));
    if (!hwm) return std::nullopt;
    auto committed = probe.Committed(group, std::string(topic));
    if (!committed) return std::nullopt;
    int64_t lag = 0;
    for (size_t p = 0; p < hwm->size(); ++p) {
      int64_t c = std::max<int64_t>((*committed)[p], 0);
      lag += std::max<int64_t>((*hwm)[p] - c, 0);
    }
    return lag;
  };
  // Intake first: once it has committed everything, every command is on the topic, so
  // the commands' high watermarks read after that are final.
  auto intake = behind(group_prefix + ".intake", topics::kInbound);
  if (!intake || *intake > 0) {
    if (detail) {
      *detail = intake ? "intake lag " + std::to_string(*intake) : "intake offsets unknown";
    }
    return false;
  }
  auto commands = behind(group_prefix + ".commands", topics::kCommands);
  if (detail) {
    *detail = commands ? "commands lag " + std::to_string(*commands) : "command offsets unknown";
  }
  return commands && *commands == 0;
}

bool WaitUntilCaughtUp(KafkaProbe& probe, const std::string& group_prefix, milliseconds timeout,
                       const std::function<void()>& tick, std::string* detail) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (tick) tick();
    if (CaughtUp(probe, group_prefix, detail)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
}

// ---- outcomes ----------------------------------------------------------------------

size_t RunOutcome::Count(const std::string& topic) const {
  size_t n = 0;
  for (const auto& [id, copy] : outputs) n += copy.topic == topic;
  return n;
}

void ReadOutputs(const std::string& bootstrap, RunOutcome& outcome, milliseconds timeout) {
  RdKafka rk = NewClient(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", UniqueGroupPrefix("reader")},
                          {"enable.auto.commit", "false"},
                          {"enable.partition.eof", "false"},
                          {"auto.offset.reset", "earliest"},
                          // What consumers of pathway's topics must use: in the
                          // transactions mode, aborted copies are not outputs.
                          {"isolation.level", "read_committed"}});
  KafkaProbe probe(bootstrap);
  std::map<std::pair<std::string, int32_t>, int64_t> end;   // high watermark
  std::map<std::pair<std::string, int32_t>, int64_t> next;  // next offset to read
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(16);
  for (const auto& topic : OutputTopics()) {
    auto hwm = probe.HighWatermarks(topic);
    if (!hwm) Fail("no high watermarks for " + topic);
    for (size_t p = 0; p < hwm->size(); ++p) {
      int64_t lo = 0, hi = 0;
      rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), static_cast<int32_t>(p), &lo, &hi,
                                       5000);
      if (lo > 0) {
        Fail(topic + "/" + std::to_string(p) + " starts at offset " + std::to_string(lo) +
             ": the broker dropped messages (the mock keeps about 5 MB per partition)");
      }
      end[{topic, static_cast<int32_t>(p)}] = (*hwm)[p];
      next[{topic, static_cast<int32_t>(p)}] = 0;
      rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p))->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);

  // The consumer's position moves past transaction markers (which are never
  // delivered), so a partition written with transactions is read to its end too.
  auto done = [&] {
    rd_kafka_topic_partition_list_t* positions = nullptr;
    if (rd_kafka_assignment(rk.get(), &positions) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_position(rk.get(), positions) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < positions->cnt; ++i) {
        const auto& p = positions->elems[i];
        int64_t& n = next[{p.topic, p.partition}];
        n = std::max(n, p.offset);
      }
    }
    if (positions) rd_kafka_topic_partition_list_destroy(positions);
    for (const auto& [tp, hwm] : end) {
      if (next[tp] < hwm) return false;
    }
    return true;
  };
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) Fail("outputs not read to their end in time");
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (!m) continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    std::string topic = rd_kafka_topic_name(m->rkt);
    next[{topic, m->partition}] = m->offset + 1;
    OutputCopy copy;
    copy.topic = topic;
    if (m->key) copy.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) copy.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
    ++outcome.wire_messages;
    v1::Envelope e;
    if (!e.ParseFromString(copy.value) || e.event_id().empty()) {
      ++outcome.inconsistent_copies;
      outcome.inconsistent_examples.push_back("an output on " + topic + " is no Envelope");
      continue;
    }
    // Sealed under keys that differ between runs: compared as placeholders.
    workflow::MaskSealedFields(e);
    copy.comparable = e.SerializeAsString();
    auto [it, inserted] = outcome.outputs.try_emplace(e.event_id(), copy);
    if (inserted) continue;
    ++outcome.wire_duplicates;
    if (it->second.value != copy.value || it->second.key != copy.key ||
        it->second.topic != copy.topic) {
      ++outcome.inconsistent_copies;
      if (outcome.inconsistent_examples.size() < 5) {
        outcome.inconsistent_examples.push_back("two copies of " + e.event_id() + " differ");
      }
    }
  }
  rd_kafka_consumer_close(rk.get());
}

EngineConfig NamedEngineConfig(const TestCluster& cluster, const WorkDir& dir,
                               const std::string& name, const std::string& key_file,
                               const std::string& group_prefix) {
  EngineConfig config;
  config.bootstrap = cluster.bootstrap();
  config.data_dir = dir.Sub(name + "-data");
  config.key_file = key_file;
  config.group_prefix = group_prefix;
  config.log_file = dir.Sub(name + "-engine.log");
  config.kafka = EngineKafkaSettings(cluster);
  return config;
}

RunOutcome ReferenceRun(const InboundStream& stream, const std::string& key_file,
                        const WorkDir& dir) {
  return ReferenceRun(std::vector<std::vector<InboundMessage>>{stream.messages}, key_file, dir,
                      nullptr);
}

RunOutcome ReferenceRun(const std::vector<std::vector<InboundMessage>>& stages,
                        const std::string& key_file, const WorkDir& dir,
                        std::vector<int64_t>* progress) {
  auto started = Clock::now();
  auto cluster = TestCluster::Mock(1);
  KafkaProbe probe(cluster->bootstrap());
  const EngineConfig config =
      NamedEngineConfig(*cluster, dir, "reference", key_file, UniqueGroupPrefix("reference"));
  EngineProcess engine(config);
  for (const auto& stage : stages) {
    Publish(cluster->bootstrap(), stage);
    engine.Start();
    std::string detail;
    bool exited = false;
    bool caught_up = WaitUntilCaughtUp(
        probe, config.group_prefix, std::chrono::seconds(240),
        [&] {
          if (!exited && !engine.Running()) exited = true;
        },
        &detail);
    if (exited) Fail("the reference engine exited on its own:\n" + engine.LogTail());
    if (!caught_up) {
      Fail("the reference run did not finish (" + detail + "):\n" + engine.LogTail());
    }
    auto status = engine.Terminate(std::chrono::seconds(40));
    if (status != 0) {
      Fail("the reference engine did not exit 0 on SIGTERM (" +
           (status ? std::to_string(*status) : std::string("timeout")) + "):\n" + engine.LogTail());
    }
    if (progress) progress->push_back(Progress(probe).value_or(0));
  }
  RunOutcome outcome;
  ReadOutputs(cluster->bootstrap(), outcome, std::chrono::seconds(60));
  outcome.progress = Progress(probe).value_or(0);
  outcome.state = DumpCaseState(config.data_dir, ReadKek(config.key_file));
  outcome.outbox_left = OutboxEntries(config.data_dir);
  std::cout << "[reference] " << outcome.outputs.size() << " distinct outputs ("
            << outcome.Count(std::string(topics::kEvents)) << " events, "
            << outcome.Count(std::string(topics::kRejections)) << " rejections, "
            << outcome.Count(std::string(topics::kDeadLetter)) << " dead letters), "
            << outcome.state.size() << " subjects, " << outcome.wire_duplicates
            << " duplicates on the wire, in "
            << std::chrono::duration_cast<milliseconds>(Clock::now() - started).count() << " ms\n";
  return outcome;
}

namespace {

std::string Describe(const OutputCopy& copy) {
  v1::Envelope e;
  e.ParseFromString(copy.value);
  std::string what = e.has_command_rejected()
                         ? "rejection of " + e.command_rejected().rejected_event_id() + " (" +
                               e.command_rejected().rule() + ")"
                     : e.has_dead_lettered() ? "dead letter of " + e.dead_lettered().topic() + "/" +
                                                   std::to_string(e.dead_lettered().partition()) +
                                                   "/" + std::to_string(e.dead_lettered().offset())
                                             : "event caused by " + e.causation_id();
  return copy.topic + ": " + e.event_id() + " " + what;
}

template <class Set>
std::string FirstFew(const Set& items, size_t n = 10) {
  std::string out;
  size_t i = 0;
  for (const auto& item : items) {
    if (i++ == n) {
      out += "  ... and " + std::to_string(items.size() - n) + " more\n";
      break;
    }
    out += "  " + item + "\n";
  }
  return out;
}

}  // namespace

void ExpectOneTransitionPerEvent(const RunOutcome& outcome, const std::string& label) {
  std::map<std::string, std::string> cause_subject;  // inbound event id -> subject
  std::set<std::string> event_ids;
  std::vector<std::string> problems;
  for (const auto& [subject, dump] : outcome.state) {
    CaseDump parsed = ParseCaseDump(dump);
    std::string previous;
    std::set<std::string> finished;  // causes whose run of events has ended
    for (const auto& e : parsed.history) {
      if (!event_ids.insert(e.event_id()).second) {
        problems.push_back("event " + e.event_id() + " recorded twice (subject " + subject + ")");
      }
      const std::string& cause = e.causation_id();
      if (cause != previous) {
        if (!previous.empty()) finished.insert(previous);
        if (finished.count(cause)) {
          problems.push_back("inbound event " + cause + " made two transitions (subject " +
                             subject + ")");
        }
        auto [it, inserted] = cause_subject.try_emplace(cause, subject);
        if (!inserted && it->second != subject) {
          problems.push_back("inbound event " + cause + " recorded for two subjects");
        }
      }
      previous = cause;
    }
  }
  EXPECT_TRUE(problems.empty()) << label << ": " << problems.size() << " problems\n"
                                << FirstFew(problems);
}

void ExpectSoundReference(const InboundStream& stream, const RunOutcome& reference) {
  // What answered each inbound event id.
  std::set<std::string> caused;  // causation ids of recorded events
  for (const auto& [subject, dump] : reference.state) {
    for (const auto& e : ParseCaseDump(dump).history) caused.insert(e.causation_id());
  }
  std::set<std::string> rejected;
  size_t unidentified = 0;
  std::multiset<std::string> dead_originals;
  std::map<std::string, size_t> rules;
  size_t timers = 0;
  for (const auto& [id, copy] : reference.outputs) {
    v1::Envelope e;
    e.ParseFromString(copy.value);
    if (e.has_command_rejected()) {
      rejected.insert(e.command_rejected().rejected_event_id());
      unidentified += e.command_rejected().rejected_event_id().starts_with("unidentified|");
      ++rules[e.command_rejected().rule()];
    } else if (e.has_dead_lettered()) {
      // The engine seals the excerpt; the digest names the whole original.
      dead_originals.insert(e.dead_lettered().original_sha256());
    } else if (e.has_deadline_warning() || e.has_deadline_breached()) {
      ++timers;
    }
  }
  std::set<std::string> unanswered;
  std::set<std::string> commands;
  size_t without_id = 0;
  std::multiset<std::string> undecodable;
  for (const auto& m : stream.messages) {
    v1::Envelope e;
    if (!e.ParseFromString(m.value) || e.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) {
      undecodable.insert(Sha256(m.value));
      continue;
    }
    if (e.event_id().empty()) {
      ++without_id;
      continue;
    }
    commands.insert(e.event_id());
    if (!caused.count(e.event_id()) && !rejected.count(e.event_id())) {
      unanswered.insert(e.event_id());
    }
  }
  size_t accepted = 0;
  for (const auto& id : commands) accepted += caused.count(id);
  std::string rule_list;
  for (const auto& [rule, n] : rules) rule_list += " " + rule + "=" + std::to_string(n);
  std::cout << "[reference] " << commands.size() << " distinct inbound event ids: " << accepted
            << " accepted, " << rejected.size() << " rejected (" << rule_list << " ), "
            << dead_originals.size() << " dead letters\n";

  EXPECT_TRUE(unanswered.empty()) << unanswered.size() << " inbound events got no answer\n"
                                  << FirstFew(unanswered);
  EXPECT_EQ(unidentified, without_id) << "each command without an event id is rejected once";
  std::set<std::string> dead_set(dead_originals.begin(), dead_originals.end());
  std::set<std::string> undecodable_set(undecodable.begin(), undecodable.end());
  EXPECT_EQ(dead_set, undecodable_set) << "every undecodable message is dead-lettered";
  EXPECT_EQ(dead_originals.size(), undecodable.size());
  EXPECT_EQ(timers, 0u) << "the stream is built so that no deadline falls due while it runs";
  EXPECT_GE(accepted * 10, stream.commands * 7)
      << "most commands of the replayed histories should be accepted, or the stream tests little";
  EXPECT_EQ(reference.outbox_left, 0u);
  EXPECT_EQ(reference.inconsistent_copies, 0u) << FirstFew(reference.inconsistent_examples);
  ExpectOneTransitionPerEvent(reference, "reference");
}

void ExpectSameOutcome(const RunOutcome& reference, const RunOutcome& actual) {
  std::set<std::string> missing, extra, different;
  for (const auto& [id, copy] : reference.outputs) {
    auto it = actual.outputs.find(id);
    if (it == actual.outputs.end()) {
      missing.insert(Describe(copy));
    } else if (it->second.comparable != copy.comparable || it->second.key != copy.key ||
               it->second.topic != copy.topic) {
      different.insert(Describe(copy));
    }
  }
  for (const auto& [id, copy] : actual.outputs) {
    if (!reference.outputs.count(id)) extra.insert(Describe(copy));
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " output ids of the reference are missing\n"
                               << FirstFew(missing);
  EXPECT_TRUE(extra.empty()) << extra.size() << " output ids the reference does not have\n"
                             << FirstFew(extra);
  EXPECT_TRUE(different.empty()) << different.size()
                                 << " output ids carry other bytes than in the reference\n"
                                 << FirstFew(different);
  EXPECT_EQ(actual.inconsistent_copies, 0u) << FirstFew(actual.inconsistent_examples);

  std::set<std::string> lost, unexpected, changed;
  for (const auto& [subject, dump] : reference.state) {
    auto it = actual.state.find(subject);
    if (it == actual.state.end()) {
      lost.insert(subject);
    } else if (it->second != dump) {
      changed.insert(subject);
    }
  }
  for (const auto& [subject, dump] : actual.state) {
    if (!reference.state.count(subject)) unexpected.insert(subject);
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " subjects of the reference have no stored case\n"
                            << FirstFew(lost);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " stored subjects not in the reference\n"
                                  << FirstFew(unexpected);
  if (!changed.empty()) {
    const std::string& first = *changed.begin();
    ADD_FAILURE() << changed.size() << " subjects' stored case differs from the reference\n"
                  << FirstFew(changed) << "first one, reference:\n"
                  << ReadableCaseDump(reference.state.at(first)) << "this run:\n"
                  << ReadableCaseDump(actual.state.at(first));
  }
  EXPECT_EQ(actual.outbox_left, 0u) << "a graceful exit leaves an empty outbox";
  ExpectOneTransitionPerEvent(actual, "this run");
}

std::vector<std::map<std::string, std::string>> LogEvents(const std::string& log,
                                                          const std::string& event) {
  std::vector<std::map<std::string, std::string>> out;
  std::istringstream lines(log);
  std::string line;
  const std::string needle = " event=" + event;
  while (std::getline(lines, line)) {
    size_t at = line.find(needle);
    if (at == std::string::npos) continue;
    size_t after = at + needle.size();
    if (after < line.size() && line[after] != ' ') continue;  // a longer event name
    std::map<std::string, std::string> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t eq = line.find('=', i);
      if (eq == std::string::npos) break;
      std::string key = line.substr(i, eq - i);
      std::string value;
      i = eq + 1;
      if (i < line.size() && line[i] == '"') {
        for (++i; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) ++i;
          value.push_back(line[i]);
        }
        ++i;
      } else {
        size_t end = line.find(' ', i);
        if (end == std::string::npos) end = line.size();
        value = line.substr(i, end - i);
        i = end;
      }
      fields[key] = value;
    }
    out.push_back(std::move(fields));
  }
  return out;
}

}  // namespace pathway::testing
