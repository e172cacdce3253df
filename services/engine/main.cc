// pathway-engine: hosts the intake and stateful stages on Kafka.
//
//   pathway-engine --bootstrap-servers B --data-dir DIR [--subject-key-file F]
//                  [--kafka-config FILE] [-X key=value]... [--group-prefix P]
//                  [--transactional-id ID]
//
// Runs until SIGTERM or SIGINT, then stops fetching, drains the outbox (bounded) and
// exits 0. Exits 1 on a fatal error (restart resumes from the stored offsets), 2 on
// bad flags.
#include <google/protobuf/util/time_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/flags.h"
#include "common/log.h"
#include "services/bus/kafka_admin.h"
#include "services/bus/kafka_bus.h"
#include "services/engine/caseload_index.h"
#include "services/engine/dedupe_window.h"
#include "services/engine/engine.h"
#include "services/engine/engine_metrics.h"
#include "services/engine/member_announcer.h"
#include "services/engine/operations_service.h"
#include "services/engine/query_service.h"
#include "services/gateway/http/http_server.h"
#include "services/ops/http_server.h"
#include "services/topics.h"
#include "state/store_set.h"
#include "workflow/sharing.h"

namespace {
using namespace pathway;
using std::chrono::milliseconds;

// A dead-letter action's bound on its reads and writes, as `pathwayctl deadletters`'s
// default; inside the gateway's 40 s for an operation, so that it hears the answer.
constexpr milliseconds kDeadLetterActionTimeout(30'000);

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop.store(true); }

constexpr const char* kUsage =
    "usage: pathway-engine --bootstrap-servers HOST:PORT[,...] --data-dir DIR\n"
    "                      [--subject-key-file FILE] [--kafka-config FILE]\n"
    "                      [--key-encryption-key-file FILE (wraps the per-child data\n"
    "                       keys; default DATA_DIR/key-encryption-key, created once)]\n"
    "                      [-X key=value]... [--group-prefix NAME] [--log-level LEVEL]\n"
    "                      [--warning-lead-days N (default 14)]\n"
    "                      [--statutory-sharing FILE (sharing without consent, e.g.\n"
    "                       config/statutory_sharing.json; none if not given)]\n"
    "                      [--partners FILE (whose outcome topic each message's outcome\n"
    "                       goes to, e.g. config/partners.json; without it every outcome\n"
    "                       goes to pathway.outcomes.v1._unaddressed)]\n"
    "                      [--identity-hold-days N (default 14): how long a command\n"
    "                       naming only an unlinked UPN or local id waits for its link]\n"
    "                      [--fixed-clock RFC3339 (tests: business time stands still)]\n"
    "                      [--ops-listen HOST:PORT (default 127.0.0.1:9464; off to disable)]\n"
    "                      [--max-history-per-case N (default 10000)]\n"
    "                      [--start-version PATHWAY=VERSION (repeatable): new instances\n"
    "                       of the pathway start under that definition version; default\n"
    "                       the latest (docs/operations.md, \"migrate\")]\n"
    "                      [--dedupe-retention-days N (default 35; 0 keeps them for\n"
    "                       ever): at least pathway.inbound.v1's and pathway.commands.v1's\n"
    "                       retention plus a week (docs/operations.md, \"Retention\")]\n"
    "                      [--closed-history-retention-days N (default 400; 0 keeps\n"
    "                       them): a closed case's history is replaced by one entry\n"
    "                       carrying the case this long after it closed]\n"
    "                      [--block-cache-mb N (default 256) --write-buffer-mb N (default\n"
    "                       128): RocksDB memory, shared by every partition's store]\n"
    "                      [--max-batch N (default 256): commands per partition and Step,\n"
    "                       committed in one write]\n"
    "                      [--transactional-id ID (Kafka transactions mode; unique per\n"
    "                       instance and the same across its restarts)]\n"
    "                      [--query-listen HOST:PORT --query-token-file FILE\n"
    "                       [--query-advertise URL] [--instance-id ID]: serve the\n"
    "                       gateway's reads of the partitions this instance owns\n"
    "                       (docs/gateway.md, \"Reads\"); off by default]\n"
    "Bootstrap servers fall back to $PATHWAY_KAFKA_BOOTSTRAP.\n";

struct Flags {
  std::string bootstrap;
  std::string data_dir;
  std::string key_file;
  std::string kek_file;
  std::string group_prefix = "pathway-engine";
  engine::EngineOptions options;
  bus::KafkaConfig kafka;
  std::optional<TimePoint> fixed_clock;
  std::string ops_listen = "127.0.0.1:9464";
  bool ops_listen_given = false;
  std::string transactional_id;  // empty: no Kafka transactions
  state::MemoryBudget memory;
  std::string query_listen;  // empty: no query endpoint
  std::string query_token_file;
  std::string query_advertise;  // empty: http://<listen address>:<bound port>
  std::string instance_id;      // empty: host name and a random suffix
};

std::string DefaultInstanceId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device random;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
  return std::string(host[0] ? host : "engine") + "-" + suffix;
}

int Usage(const std::string& problem) {
  std::cerr << "pathway-engine: " << problem << "\n" << kUsage;
  return 2;
}

// The dedupe window against the retention of the topics Kafka re-delivers from
// (dedupe_window.h). A shortfall stops the start: the window is a setting, and the
// operator sets it from the message. Brokers that cannot say (the embedded mock has no
// DescribeConfigs; a principal without the DESCRIBE_CONFIGS ACL) leave it unchecked,
// logged, since refusing to start there would stop a partnership's engine for a
// check the operator can make by hand (deploy/README.md).
bool DedupeWindowCoversTheTopics(const bus::KafkaConfig& kafka, int dedupe_days) {
  if (dedupe_days <= 0) return true;
  const std::vector<std::string> topics = {std::string(topics::kInbound),
                                           std::string(topics::kCommands)};
  auto configs = bus::DescribeTopicConfigs(kafka, topics, std::chrono::seconds(10));
  if (!configs) {
    log::Warn("topic_retention_unchecked", {{"error", configs.error().ToString()}});
    return true;
  }
  for (const std::string& topic : topics) {
    if (auto why = engine::DedupeWindowShortfall(dedupe_days, topic, (*configs)[topic])) {
      log::Error("dedupe_window_too_short", {{"topic", topic}, {"detail", *why}});
      return false;
    }
  }
  log::Info("topic_retention_checked", {{"dedupe_retention_days", std::to_string(dedupe_days)}});
  return true;
}

// The whole of a configuration file, or nullopt if it cannot be read.
std::optional<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each partner's outcome topic, and the unaddressed one, created where missing (the
// broker's default partitions and replicas), so that an outcome never waits on a topic
// nobody made. Where the engine may not create topics (no CREATE ACL on the prefix,
// docs/partners.md) operations make them; the engine then starts all the same.
void CreateOutcomeTopics(const bus::KafkaConfig& kafka,
                         const workflow::PartnerDirectory& partners) {
  std::vector<bus::TopicSpec> specs;
  for (std::string& topic : partners.Topics()) {
    specs.push_back(
        {.name = std::move(topic), .partitions = -1, .replication_factor = -1, .configs = {}});
  }
  if (auto s = bus::CreateTopics(kafka, specs, std::chrono::seconds(5)); !s) {
    log::Warn("outcome_topics_unchecked", {{"error", s.error().ToString()}});
    return;
  }
  log::Info("outcome_topics_ready", {{"topics", std::to_string(specs.size())}});
}

int Run(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--bootstrap-servers") {
      if (!value(&flags.bootstrap)) return Usage("--bootstrap-servers needs a value");
    } else if (arg == "--data-dir") {
      if (!value(&flags.data_dir)) return Usage("--data-dir needs a value");
    } else if (arg == "--subject-key-file") {
      if (!value(&flags.key_file)) return Usage("--subject-key-file needs a value");
    } else if (arg == "--key-encryption-key-file") {
      if (!value(&flags.kek_file)) return Usage("--key-encryption-key-file needs a value");
    } else if (arg == "--group-prefix") {
      if (!value(&flags.group_prefix)) return Usage("--group-prefix needs a value");
    } else if (arg == "--warning-lead-days") {
      if (!value(&v)) return Usage("--warning-lead-days needs a value");
      const auto days = WholeNumber(v, 0, 365);
      if (!days) return Usage("--warning-lead-days must be a whole number of days from 0 to 365");
      flags.options.warning_lead_days = static_cast<int>(*days);
    } else if (arg == "--statutory-sharing") {
      std::string path;
      if (!value(&path)) return Usage("--statutory-sharing needs a file");
      const auto text = ReadConfigFile(path);
      if (!text) return Usage(path + ": cannot be read");
      auto sharing = workflow::ParseStatutorySharing(*text);
      if (!sharing) return Usage(path + ": " + sharing.error().detail);
      flags.options.statutory_sharing = std::move(*sharing);
    } else if (arg == "--partners") {
      std::string path;
      if (!value(&path)) return Usage("--partners needs a file");
      const auto text = ReadConfigFile(path);
      if (!text) return Usage(path + ": cannot be read");
      auto registry = workflow::ParsePartnerRegistry(*text);
      if (!registry) return Usage(path + ": " + registry.error().detail);
      flags.options.partners = workflow::PartnerDirectory(*registry);
    } else if (arg == "--identity-hold-days") {
      if (!value(&v)) return Usage("--identity-hold-days needs a value");
      const auto days = WholeNumber(v, 1, 365);
      if (!days) return Usage("--identity-hold-days must be a whole number of days from 1 to 365");
      flags.options.identity_hold_days = static_cast<int>(*days);
    } else if (arg == "--ops-listen") {
      if (!value(&flags.ops_listen)) return Usage("--ops-listen needs HOST:PORT or off");
      flags.ops_listen_given = true;
    } else if (arg == "--max-history-per-case") {
      if (!value(&v)) return Usage("--max-history-per-case needs a value");
      const auto n = WholeNumber(v, 1, std::numeric_limits<long long>::max());
      if (!n) return Usage("--max-history-per-case must be a positive whole number");
      flags.options.max_history_per_case = static_cast<uint64_t>(*n);
    } else if (arg == "--start-version") {
      if (!value(&v)) return Usage("--start-version needs PATHWAY=VERSION");
      if (auto error = workflow::AddStartVersion(v, flags.options.start_versions)) {
        return Usage("--start-version: " + *error);
      }
    } else if (arg == "--dedupe-retention-days") {
      if (!value(&v)) return Usage("--dedupe-retention-days needs a value");
      const auto days = WholeNumber(v, 0, 36500);
      if (!days)
        return Usage("--dedupe-retention-days must be a whole number of days from 0 to 36500");
      flags.options.dedupe_retention_days = static_cast<int>(*days);
    } else if (arg == "--closed-history-retention-days") {
      if (!value(&v)) return Usage("--closed-history-retention-days needs a value");
      const auto days = WholeNumber(v, 0, 36500);
      if (!days) {
        return Usage(
            "--closed-history-retention-days must be a whole number of days from 0 to 36500");
      }
      flags.options.closed_history_retention_days = static_cast<int>(*days);
    } else if (arg == "--block-cache-mb" || arg == "--write-buffer-mb") {
      std::optional<long long> mb;
      if (!value(&v) || !(mb = WholeNumber(v, 8, 1 << 20))) {
        return Usage(arg + " must be a whole number of MiB from 8");
      }
      (arg == "--block-cache-mb" ? flags.memory.block_cache_bytes
                                 : flags.memory.write_buffer_bytes) = static_cast<size_t>(*mb)
                                                                      << 20;
    } else if (arg == "--max-batch") {
      std::optional<long long> n;
      if (!value(&v) || !(n = WholeNumber(v, 1, 100000))) {
        return Usage("--max-batch must be a whole number from 1 to 100000");
      }
      flags.options.max_batch = static_cast<size_t>(*n);
    } else if (arg == "--transactional-id") {
      if (!value(&v) || v.empty()) return Usage("--transactional-id needs a value");
      flags.transactional_id = v;
    } else if (arg == "--query-listen") {
      std::string host;
      uint16_t port = 0;
      if (!value(&flags.query_listen) || !SplitHostPort(flags.query_listen, &host, &port)) {
        return Usage("--query-listen needs HOST:PORT");
      }
    } else if (arg == "--query-token-file") {
      if (!value(&flags.query_token_file)) return Usage("--query-token-file needs a file");
    } else if (arg == "--query-advertise") {
      if (!value(&flags.query_advertise) || flags.query_advertise.rfind("http://", 0) != 0) {
        return Usage("--query-advertise needs a URL such as http://10.0.0.5:9465");
      }
    } else if (arg == "--instance-id") {
      if (!value(&flags.instance_id) || flags.instance_id.empty() ||
          flags.instance_id.size() > 128) {
        return Usage("--instance-id needs a value of at most 128 characters");
      }
    } else if (arg == "--fixed-clock") {
      if (!value(&v)) return Usage("--fixed-clock needs a value");
      google::protobuf::Timestamp ts;
      if (!google::protobuf::util::TimeUtil::FromString(v, &ts)) {
        return Usage("--fixed-clock must be an RFC 3339 time such as 2026-01-05T09:00:00Z");
      }
      flags.fixed_clock =
          TimePoint(std::chrono::microseconds(ts.seconds() * 1'000'000 + ts.nanos() / 1000));
    } else if (arg == "--kafka-config") {
      if (!value(&v)) return Usage("--kafka-config needs a value");
      if (auto s = flags.kafka.LoadPropertiesFile(v); !s) return Usage(s.error().ToString());
    } else if (arg == "-X") {
      if (!value(&v)) return Usage("-X needs key=value");
      if (auto s = flags.kafka.AddSetting(v); !s) return Usage(s.error().ToString());
    } else if (arg == "--log-level") {
      if (!value(&v)) return Usage("--log-level needs a value");
      if (v == "debug")
        log::SetLevel(log::Level::kDebug);
      else if (v == "info")
        log::SetLevel(log::Level::kInfo);
      else if (v == "warn")
        log::SetLevel(log::Level::kWarn);
      else
        return Usage("--log-level must be debug, info or warn");
    } else {
      return Usage("unknown argument '" + arg + "'");
    }
  }
  if (flags.data_dir.empty()) return Usage("--data-dir is required");
  if (flags.query_listen.empty() != flags.query_token_file.empty()) {
    return Usage("--query-listen and --query-token-file go together");
  }
  std::string query_token;
  if (!flags.query_token_file.empty()) {
    auto token = ReadServiceToken(flags.query_token_file);
    if (!token) return Usage(token.error().ToString());
    query_token = std::move(*token);
  }
  if (auto s = flags.kafka.ResolveBootstrap(flags.bootstrap); !s)
    return Usage(s.error().ToString());

  if (::mkdir(flags.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    log::Error("data_dir_unusable", {{"path", flags.data_dir}, {"error", std::strerror(errno)}});
    return 1;
  }
  bool created = false;
  auto keyer = engine::SubjectKeyer::Load(flags.key_file, flags.data_dir, &created);
  if (!keyer) {
    log::Error("subject_key_unusable", {{"error", keyer.error().ToString()}});
    return 1;
  }
  if (created) {
    log::Warn("subject_key_created",
              {{"path", flags.data_dir + "/subject-key"},
               {"note",
                "every engine instance of a deployment must share this key: copy it "
                "and pass --subject-key-file"}});
  }
  bool kek_created = false;
  auto kek = engine::LoadSecret(flags.kek_file, flags.data_dir, "key-encryption-key", &kek_created);
  if (!kek) {
    log::Error("key_encryption_key_unusable", {{"error", kek.error().ToString()}});
    return 1;
  }
  if (kek_created) {
    log::Warn("key_encryption_key_created",
              {{"path", flags.data_dir + "/key-encryption-key"},
               {"note",
                "every engine instance must share it; in production keep it out of the data "
                "directory (a secret mount) and pass --key-encryption-key-file"}});
  }
  // One store per partition, each mirrored to its changelog partition; personal data
  // sealed under per-child data keys wrapped by the KEK.
  state::StoreSet stores(flags.data_dir + "/state", std::string(topics::kChangelog), *kek,
                         flags.memory, engine::CaseloadIndexer());
  // Dead letters' excerpts are sealed under a key of their own, derived from the KEK:
  // they belong to no child whose key could be used (docs/guarantees.md).
  flags.options.dead_letter_key = HmacSha256(*kek, "pathway.deadletter.v1");
  // The output budget follows the producer's own limit where an operator lowered it;
  // the brokers' and topics' limits must be at least this (deploy/README.md).
  if (auto it = flags.kafka.settings.find("message.max.bytes"); it != flags.kafka.settings.end()) {
    char* end = nullptr;
    long long limit = std::strtoll(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0' || limit < 64 * 1024) {
      return Usage("-X message.max.bytes must be a whole number of bytes, at least 65536");
    }
    flags.options.max_record_bytes = static_cast<size_t>(limit);
    flags.options.max_message_bytes =
        std::min(flags.options.max_message_bytes, flags.options.max_record_bytes / 2);
    flags.options.max_case_bytes =
        std::min(flags.options.max_case_bytes, flags.options.max_record_bytes / 4);
  }
  log::Info("record_limits",
            {{"max_record_bytes", std::to_string(flags.options.max_record_bytes)},
             {"max_inbound_bytes", std::to_string(flags.options.max_message_bytes)},
             {"max_case_bytes", std::to_string(flags.options.max_case_bytes)}});

  bus::KafkaConfig producer_config = flags.kafka;
  if (!flags.transactional_id.empty()) {
    producer_config.settings["transactional.id"] = flags.transactional_id;
  }
  // The producer's delivery reports go to the engine's stages through the router,
  // which is made first so that it outlives the producer.
  engine::DeliveryRouter deliveries;
  auto producer = bus::NewKafkaProducer(producer_config, deliveries.callback());
  if (!producer) {
    log::Error("kafka_producer_failed", {{"error", producer.error().ToString()}});
    return 1;
  }
  // A transactional.id given with -X counts too: a transactional producer can only
  // send inside transactions.
  flags.options.transactions = (*producer)->transactional();
  if (flags.options.transactions) log::Info("transactions_mode");
  // Cooperative-sticky: a rebalance moves only the partitions that change owner, so
  // the others keep processing instead of being revoked, drained and restored. Older
  // librdkafka (Debian 12 has 2.0.2) aborts in that assignor when a consumer closes
  // before its first assignment, so there the default stays eager; the engine works
  // with both (an operator may still set it with -X).
  bus::KafkaConfig consumer_config = flags.kafka;
  if (bus::CooperativeStickyIsSafe()) {
    consumer_config.settings.try_emplace("partition.assignment.strategy", "cooperative-sticky");
  } else if (!consumer_config.settings.count("partition.assignment.strategy")) {
    log::Info("eager_rebalancing", {{"reason", "librdkafka before 2.3.0 (issue 4312)"}});
  }
  auto intake = bus::NewKafkaConsumer(consumer_config, flags.group_prefix + ".intake");
  auto processor = bus::NewKafkaConsumer(consumer_config, flags.group_prefix + ".commands");
  auto restore = bus::NewKafkaConsumer(engine::RestoreConsumerConfig(flags.kafka), "");
  if (!intake || !processor || !restore) {
    const Error& e = !intake ? intake.error() : !processor ? processor.error() : restore.error();
    log::Error("kafka_consumer_failed", {{"error", e.ToString()}});
    return 1;
  }
  if (!DedupeWindowCoversTheTopics(flags.kafka, flags.options.dedupe_retention_days)) return 1;
  CreateOutcomeTopics(flags.kafka, flags.options.partners);

  // Business time: the system clock, or (tests, replays) a clock that stands still so
  // that two runs over the same input decide byte-identical state.
  // Operations endpoint: /health/live, /health/ready, /metrics (Prometheus).
  ops::Registry registry;
  engine::EngineMetrics metrics(registry);
  flags.options.on_command = [&metrics](std::chrono::microseconds took,
                                        std::chrono::milliseconds age) {
    metrics.Observe(took, age);
  };
  RealTimeSource real_time;
  SimulatedTimeSource fixed_time(flags.fixed_clock.value_or(TimePoint{}));
  const TimeSource& time = flags.fixed_clock ? static_cast<const TimeSource&>(fixed_time)
                                             : static_cast<const TimeSource&>(real_time);
  // Reads (docs/gateway.md): the gate outlives the engine, which stops it.
  engine::ReadGate read_gate;
  if (!flags.query_listen.empty()) flags.options.reads = &read_gate;
  engine::Engine engine(flags.options, stores, *keyer, time, **producer, deliveries, **intake,
                        **processor, **restore);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  std::unique_ptr<ops::HttpServer> ops_server;
  if (flags.ops_listen != "off") {
    auto colon = flags.ops_listen.rfind(':');
    char* end = nullptr;
    long port = colon == std::string::npos
                    ? -1
                    : std::strtol(flags.ops_listen.c_str() + colon + 1, &end, 10);
    if (port < 0 || port > 65535 || (end && *end != '\0')) {
      return Usage("--ops-listen must be HOST:PORT or off");
    }
    ops::Handlers handlers;
    handlers.metrics = [&registry] { return registry.Render(); };
    handlers.live = [&engine] { return engine.live(); };
    handlers.ready = [&engine] { return engine.ready(); };
    handlers.ready_detail = [&engine] {
      std::string detail = engine.live()
                               ? "waiting for the partition assignment or restoring a partition"
                               : "the engine stopped on an error";
      if (std::string purge = engine.PurgeStatus(); !purge.empty()) detail += "; " + purge;
      return detail;
    };
    handlers.ready_notes = [&engine] { return engine.PurgeStatus(); };
    auto server = ops::HttpServer::Start(flags.ops_listen.substr(0, colon),
                                         static_cast<uint16_t>(port), std::move(handlers));
    if (server) {
      ops_server = std::move(*server);
      log::Info("ops_listening", {{"address", flags.ops_listen.substr(0, colon)},
                                  {"port", std::to_string(ops_server->port())}});
    } else if (flags.ops_listen_given) {
      log::Error("ops_listen_failed", {{"error", server.error().ToString()}});
      return 1;
    } else {
      // The default port is taken (another instance on this host): run without it
      // rather than not at all; an explicit --ops-listen makes this fatal.
      log::Warn("ops_listen_unavailable", {{"error", server.error().ToString()}});
    }
  }

  // The query endpoint and its announcements. Its own producer: the engine's may be
  // transactional, and an announcement belongs to no transaction.
  // The operations the gateway asks for: their audit and re-drive sinks (producers of
  // their own, not transactional), then the service, all outliving the query server.
  std::unique_ptr<operations::AuditSink> operations_audit;
  std::unique_ptr<operations::AuditSink> operations_commands;
  std::unique_ptr<engine::OperationsService> operations_service;
  std::unique_ptr<engine::QueryService> query_service;  // outlives the server
  std::unique_ptr<gateway::HttpServer> query_server;
  std::unique_ptr<bus::Producer> member_producer;
  std::unique_ptr<engine::MemberAnnouncer> announcer;
  if (!flags.query_listen.empty()) {
    std::string host;
    uint16_t port = 0;
    SplitHostPort(flags.query_listen, &host, &port);  // checked with the flags
    engine::QueryServiceOptions query_options{query_token};
    if (flags.options.statutory_sharing) query_options.sharing = &*flags.options.statutory_sharing;
    auto audit_sink = operations::NewKafkaAuditSink(flags.kafka);
    auto command_sink = operations::NewKafkaSink(flags.kafka, std::string(topics::kCommands));
    if (!audit_sink || !command_sink) {
      const Error& e = !audit_sink ? audit_sink.error() : command_sink.error();
      log::Error("kafka_producer_failed", {{"error", e.ToString()}});
      return 1;
    }
    operations_audit = std::move(*audit_sink);
    operations_commands = std::move(*command_sink);
    // Dead-letter actions read and produce with clients of their own, made per action
    // (they are rare), in no group and not transactional.
    const engine::SubjectKeyer& subject_keyer = *keyer;
    engine::OperationsService::DeadLetterClients dead_letters{
        [kafka = flags.kafka] { return bus::NewKafkaConsumer(kafka, ""); },
        [kafka = flags.kafka](bus::DeliveryCallback delivered) {
          return bus::NewKafkaProducer(kafka, std::move(delivered));
        },
        [&subject_keyer](std::string_view nhs_number) { return subject_keyer.Key(nhs_number); },
        kDeadLetterActionTimeout};
    operations_service = std::make_unique<engine::OperationsService>(
        *kek, engine::OperationsService::Sinks{*operations_audit, *operations_commands}, read_gate,
        time, engine::StepSettingsOf(flags.options), std::move(dead_letters));
    query_options.operations = operations_service.get();
    query_service = std::make_unique<engine::QueryService>(query_options, *keyer, read_gate, time,
                                                           [&engine] { return engine.ready(); });
    gateway::HttpServerOptions http;
    http.address = host;
    http.port = port;
    http.threads = 2;
    http.max_body_bytes = 16 * 1024;
    auto server = gateway::HttpServer::Start(
        http, [service = query_service.get()](gateway::HttpRequest request,
                                              gateway::Responder responder) {
          responder.Send(service->Handle(request));
        });
    if (!server) {
      log::Error("query_listen_failed", {{"error", server.error().ToString()}});
      return 1;
    }
    query_server = std::move(*server);
    std::string url = flags.query_advertise.empty()
                          ? "http://" +
                                (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                                ":" + std::to_string(query_server->port())
                          : flags.query_advertise;
    auto members = bus::NewKafkaProducer(flags.kafka, [](const bus::Delivery&) {});
    if (!members) {
      log::Error("kafka_producer_failed", {{"error", members.error().ToString()}});
      return 1;
    }
    member_producer = std::move(*members);
    announcer = std::make_unique<engine::MemberAnnouncer>(
        *member_producer, flags.instance_id.empty() ? DefaultInstanceId() : flags.instance_id, url);
    log::Info("query_listening", {{"url", url}, {"instance", announcer->instance()}});
  }

  if (auto s = engine.Start(); !s) {
    log::Error("engine_start_failed", {{"error", s.error().ToString()}});
    return 1;
  }
  log::Info("engine_started",
            {{"bootstrap", flags.kafka.bootstrap_servers}, {"data_dir", flags.data_dir}});
  int rc = 0;
  auto next_metrics = std::chrono::steady_clock::now();
  while (!g_stop.load()) {
    if (auto s = engine.Step(milliseconds(100)); !s) {
      log::Error("engine_step_failed", {{"error", s.error().ToString()}});
      rc = 1;
      break;
    }
    if (announcer) {
      if (read_gate.partition_count() <= 0) {
        // Known once the topic's metadata is; reads answer 503 until then.
        if (auto ids = (*processor)->Partitions(std::string(topics::kCommands), milliseconds(200));
            ids && !ids->empty()) {
          read_gate.SetPartitionCount(static_cast<int32_t>(ids->size()));
        }
      }
      const auto wall = std::chrono::duration_cast<milliseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      if (auto s = announcer->Poll(read_gate, wall.count()); !s) {
        log::Warn("member_announce_failed", {{"error", s.error().ToString()}});
      }
    }
    if (std::chrono::steady_clock::now() >= next_metrics) {
      next_metrics = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      if (auto snapshot = engine.Snapshot(); snapshot) {
        metrics.Update(engine.stats(), *snapshot);
      } else {
        log::Warn("metrics_snapshot_failed", {{"error", snapshot.error().ToString()}});
      }
    }
  }
  // Shutdown is bounded even if a broker is unreachable (librdkafka's consumer close
  // can block then): after 30 s SIGALRM ends the process. Nothing is lost by that:
  // every decision is in RocksDB and the outbox is re-sent on the next start.
  ::alarm(30);
  log::Info("engine_stopping", {{"bound_seconds", "30"}});
  // Reads first: a gateway is told this instance serves nothing before it goes.
  if (query_server) query_server->Shutdown(milliseconds(2000));
  read_gate.StopAll();
  if (announcer) {
    if (auto s = announcer->Leave(milliseconds(3000)); !s) {
      log::Warn("member_leave_failed", {{"error", s.error().ToString()}});
    }
  }
  (*intake)->Close();
  (*processor)->Close();  // revokes: each partition's outbox is drained (bounded)
  (*restore)->Close();
  if (auto s = engine.Drain(milliseconds(10000)); !s) {
    log::Warn("outbox_not_drained", {{"error", s.error().ToString()},
                                     {"note", "undelivered entries are re-sent on next start"}});
  }
  const auto& st = engine.stats();
  log::Info("engine_stopped", {{"inbound", std::to_string(st.inbound)},
                               {"events", std::to_string(st.events)},
                               {"rejections", std::to_string(st.rejections)},
                               {"dead_letters", std::to_string(st.dead_letters)},
                               {"duplicates", std::to_string(st.duplicates)}});
  return rc;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    pathway::log::Error("fatal", {{"error", e.what()}});
    return 1;
  }
}
