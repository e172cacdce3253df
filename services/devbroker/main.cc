// pathway-devbroker: an embedded Kafka for development (librdkafka's mock cluster).
//
//   pathway-devbroker [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...
//
// Prints `bootstrap.servers=HOST:PORT[,...]` as its first stdout line, then serves
// until SIGTERM or SIGINT and exits 0. Bad flags exit 2. Nothing is persisted.
#include <pthread.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/log.h"
#include "services/devbroker/mock_cluster.h"
#include "services/topics.h"

namespace pathway::devbroker {
namespace {

constexpr int kExitUsage = 2;

constexpr std::string_view kUsage =
    "usage: pathway-devbroker [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...\n"
    "\n"
    "Runs an in-memory Kafka cluster (librdkafka's mock broker) on loopback until\n"
    "SIGTERM or SIGINT. The first line on stdout is bootstrap.servers=HOST:PORT[,...].\n"
    "\n"
    "  --brokers N                 number of brokers (default 1)\n"
    "  --partitions N              partitions of every topic without its own count\n"
    "                              (default 8)\n"
    "  --topic NAME[:PARTITIONS]   create another topic, or change a pathway topic's\n"
    "                              partition count; repeatable\n"
    "  --help                      show this help\n"
    "\n"
    "Every pathway topic (pathway.*.v1) is always created. It serves librdkafka-based\n"
    "clients (kcat, confluent-kafka); Apache Kafka's Java client cannot use it: use\n"
    "scripts/run.sh --kafka real or scripts/kafka.sh for that (docs/devbroker.md).\n";

struct Options {
  int brokers = 1;
  int default_partitions = topics::kDefaultPartitions;
  // Topic name -> explicit partition count (nullopt: the default).
  std::map<std::string, std::optional<int>> topics;
  std::vector<std::string> order;  // topics in the order they are created
};

std::optional<int> ParsePositive(std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1) return std::nullopt;
  return value;
}

void AddTopic(Options& options, const std::string& name, std::optional<int> partitions) {
  auto [it, inserted] = options.topics.try_emplace(name, partitions);
  if (inserted) {
    options.order.push_back(name);
  } else if (partitions) {
    it->second = partitions;
  }
}

// Returns the options, or an exit code (0 for --help, 2 for a bad flag).
std::variant<Options, int> ParseFlags(int argc, char** argv) {
  Options options;
  for (std::string_view topic : topics::kAll) AddTopic(options, std::string(topic), std::nullopt);
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "pathway-devbroker: %s\n(see --help)\n", message.c_str());
    return kExitUsage;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return 0;
    }
    // Accept both `--flag value` and `--flag=value`.
    std::string_view flag = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (flag != "--brokers" && flag != "--partitions" && flag != "--topic") {
      return fail("unknown flag '" + std::string(arg) + "'");
    }
    if (!value) {
      if (i + 1 >= argc) return fail(std::string(flag) + " needs a value");
      value = argv[++i];
    }
    if (flag == "--brokers" || flag == "--partitions") {
      std::optional<int> n = ParsePositive(*value);
      if (!n) {
        return fail(std::string(flag) + ": expected a positive integer, got '" +
                    std::string(*value) + "'");
      }
      (flag == "--brokers" ? options.brokers : options.default_partitions) = *n;
      continue;
    }
    // --topic NAME[:PARTITIONS]
    std::string_view name = *value;
    std::optional<int> partitions;
    if (size_t colon = value->rfind(':'); colon != std::string_view::npos) {
      name = value->substr(0, colon);
      partitions = ParsePositive(value->substr(colon + 1));
      if (!partitions) {
        return fail("--topic: expected NAME[:PARTITIONS] with a positive count, got '" +
                    std::string(*value) + "'");
      }
    }
    if (name.empty()) return fail("--topic: empty topic name");
    AddTopic(options, std::string(name), partitions);
  }
  return options;
}

int Run(int argc, char** argv) {
  std::variant<Options, int> parsed = ParseFlags(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const Options& options = std::get<Options>(parsed);

  std::vector<TopicSpec> specs;
  for (const std::string& name : options.order) {
    specs.push_back({name, options.topics.at(name).value_or(options.default_partitions)});
  }

  // Block the stop signals before librdkafka starts its threads, so they inherit the
  // mask and sigwait below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    log::Error("devbroker.sigmask_failed");
    return 1;
  }

  Result<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(options.brokers, specs);
  if (!cluster) {
    log::Error("devbroker.start_failed", {{"error", cluster.error().ToString()}});
    return 1;
  }
  std::printf("bootstrap.servers=%s\n", (*cluster)->BootstrapServers().c_str());
  std::fflush(stdout);
  for (const TopicSpec& spec : specs) {
    log::Info("devbroker.topic",
              {{"topic", spec.name}, {"partitions", std::to_string(spec.partitions)}});
  }
  log::Info("devbroker.ready", {{"brokers", std::to_string(options.brokers)},
                                {"bootstrap", (*cluster)->BootstrapServers()}});
  // Said at startup, not discovered later: librdkafka 2.0.2's mock has no DeleteRecords,
  // so an erasure here shreds what is sealed but cannot delete the landing topics'
  // records (the engine retries and reports it; docs/tell-it-once.md).
  log::Warn("devbroker.no_delete_records",
            {{"note",
              "this development broker cannot delete records: after an erasure the "
              "landing topics keep what partners sent until the broker is stopped (it keeps "
              "nothing on disk); use a real Kafka cluster for personal data"}});

  // Also said at startup: Apache Kafka's Java client cannot use this broker (librdkafka
  // 2.0.2's mock answers its ApiVersions v4 request with a malformed error that the
  // client reads as a 20-minute throttle). docs/devbroker.md, "Clients"; tested by
  // integration.mock.devbroker_java_unserved.
  log::Info("devbroker.java_clients",
            {{"note",
              "serves librdkafka-based clients (pathway, kcat, confluent-kafka for Python, Go, "
              ".NET); Apache Kafka's Java client cannot use it (no node available): use "
              "scripts/run.sh --kafka real or scripts/kafka.sh (docs/devbroker.md)"}});

  int signal = 0;
  if (sigwait(&stop_signals, &signal) != 0) {
    log::Error("devbroker.sigwait_failed");
    return 1;
  }
  log::Info("devbroker.stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  cluster->reset();
  return 0;
}

}  // namespace
}  // namespace pathway::devbroker

int main(int argc, char** argv) { return pathway::devbroker::Run(argc, argv); }
