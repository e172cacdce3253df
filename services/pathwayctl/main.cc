// pathwayctl: the pathway operations CLI.
//
//   pathwayctl publish --topic T [--raw] FILE.jsonl|-
//   pathwayctl tail --topic T [--max N] [--timeout S] [--from-beginning|--from-end]
//   pathwayctl simulate --events FILE.jsonl [--as-of YYYY-MM-DD] [--json]
//                       [--statutory-sharing FILE]
//   pathwayctl describe PATHWAY --format mermaid
//   pathwayctl describe-sharing [--statutory-sharing FILE]
//   pathwayctl export --data-dir DIR --nhs-number N [--subject-key-file F]
//                     [--key-encryption-key-file F] [--out FILE]
//   pathwayctl deadletters list|show|resubmit|discard ... (deadletters_command.cc)
//   pathwayctl backup --data-dir DIR --out BACKUP --operator ID --reason TEXT [--json]
//   pathwayctl restore --from BACKUP --data-dir NEW_DIR --operator ID --reason TEXT [--json]
//
// publish, tail and deadletters take --bootstrap-servers (else $PATHWAY_KAFKA_BOOTSTRAP),
// repeatable -X key=value and --kafka-config FILE for librdkafka settings.
// Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "services/bus/kafka_bus.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/inbound_key.h"
#include "services/pathwayctl/kafka_flags.h"

namespace pathway::ctl {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long publish waits for the broker to confirm every message. Longer than the
// producer's message.timeout.ms (30 s), so librdkafka reports failed messages itself.
constexpr auto kPublishTimeout = std::chrono::seconds(35);

void PrintUsage(std::string_view usage) {
  std::fwrite(usage.data(), 1, usage.size(), stdout);
  std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
}

// ---------------------------------------------------------------------------------
// publish

constexpr std::string_view kPublishUsage =
    "usage: pathwayctl publish --topic T [--raw] [kafka flags] FILE.jsonl|-\n"
    "\n"
    "Publishes each non-blank line of FILE (- for stdin) as one message. Lines are\n"
    "Envelopes in protobuf's JSON mapping, sent as binary protobuf keyed by the child's\n"
    "bucket, \"subject-bucket:\" and three letters: one of 4096, from a hash of the NHS\n"
    "number (else the UPN, local id or event id), so one child's messages share a\n"
    "partition and keep their order while the key names nobody.\n"
    "Every line is parsed before anything is sent: one bad line publishes nothing.\n"
    "\n"
    "  --topic T              the topic to publish to (required)\n"
    "  --raw                  send each line's bytes as they are, unkeyed, unparsed\n"
    "                         (for exercising dead-letter handling)\n";

struct Record {
  std::string key;
  std::string value;
};

int RunPublish(std::span<char* const> args) {
  constexpr std::string_view kCmd = "publish";
  KafkaFlags kafka;
  std::string topic;
  bool raw = false;
  bool help = false;
  std::vector<Flag> flags = {
      {"--topic", true, Store(topic)},
      {"--raw", false, Set(raw, true)},
      {"--help", false, Set(help, true)},
  };
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    PrintUsage(kPublishUsage);
    return kExitOk;
  }
  if (topic.empty()) return UsageError(kCmd, "--topic is required");
  if (positional.size() != 1) return UsageError(kCmd, "expected one FILE (or - for stdin)");
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  const std::string& path = positional[0];

  std::string input;
  if (auto error = ReadInput(path, input)) {
    PrintErr(kCmd, *error);
    return kExitUsage;
  }

  // Parse everything before producing anything.
  std::vector<Record> records;
  size_t line_number = 0;
  for (size_t pos = 0; pos < input.size();) {
    size_t end = input.find('\n', pos);
    if (end == std::string::npos) end = input.size();
    std::string_view line(input.data() + pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    if (raw) {
      records.push_back({std::string(), std::string(line)});
      continue;
    }
    v1::Envelope envelope;
    if (auto error = ParseEnvelopeJson(line, envelope)) {
      PrintErr(kCmd, (path == "-" ? std::string("stdin") : path) + ":" +
                         std::to_string(line_number) + ": " + *error);
      return kExitUsage;
    }
    // Partners key inbound messages as they like and the engine re-keys by subject; a
    // stable bucket of the child keeps one child's messages on one partition, in the
    // order published, without putting the identifier in the key (decision 96).
    records.push_back({InboundKey(envelope), envelope.SerializeAsString()});
  }

  size_t delivered = 0;
  size_t failed = 0;
  std::string first_failure;
  Result<std::unique_ptr<bus::Producer>> producer =
      bus::NewKafkaProducer(kafka.config, [&](const bus::Delivery& delivery) {
        if (!delivery.error) {
          ++delivered;
          return;
        }
        if (failed++ == 0) first_failure = delivery.error_detail;
      });
  if (!producer) {
    PrintErr(kCmd, producer.error().ToString());
    return producer.error().code == bus::errc::kConfig ? kExitUsage : kExitFailure;
  }

  const Clock::time_point deadline = Clock::now() + kPublishTimeout;
  for (size_t i = 0; i < records.size(); ++i) {
    for (;;) {
      Status s = (*producer)->Produce(topic, records[i].key, records[i].value, i);
      if (s) break;
      if (s.error().code == bus::errc::kQueueFull && Clock::now() < deadline) {
        (*producer)->Poll(milliseconds(100));
        continue;
      }
      PrintErr(kCmd, "message " + std::to_string(i + 1) + ": " + s.error().ToString());
      // Report what the messages already queued did, then fail.
      (void)(*producer)->Flush(milliseconds(5000));
      return kExitFailure;
    }
  }
  const auto remaining =
      std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  if (Status s = (*producer)->Flush(remaining); !s) {
    PrintErr(kCmd, std::to_string((*producer)->InFlight()) + " of " +
                       std::to_string(records.size()) +
                       " messages not confirmed: " + s.error().ToString());
    return kExitFailure;
  }
  if (failed > 0) {
    PrintErr(kCmd, "published " + std::to_string(delivered) + " of " +
                       std::to_string(records.size()) + " messages to " + topic + "; " +
                       std::to_string(failed) + " failed (first: " + first_failure + ")");
    return kExitFailure;
  }
  std::fprintf(stderr, "published %zu messages to %s\n", delivered, topic.c_str());
  return kExitOk;
}

// ---------------------------------------------------------------------------------
// tail

constexpr std::string_view kTailUsage =
    "usage: pathwayctl tail --topic T [--max N] [--timeout S] [--from-beginning|--from-end]\n"
    "                       [kafka flags]\n"
    "\n"
    "Prints each message of every partition of T as one JSON line (an Envelope in\n"
    "protobuf's JSON mapping, or {\"undecodable\":true,...}), as consumed. Reads outside\n"
    "any consumer group and commits nothing.\n"
    "\n"
    "  --topic T              the topic to read (required)\n"
    "  --max N                stop after N messages; exit 1 if fewer arrive in time\n"
    "  --timeout S            stop after S seconds in all (default 10)\n"
    "  --from-beginning       start at each partition's first message (default)\n"
    "  --from-end             print only messages published from now on\n";

void PrintMessage(const bus::Message& message) {
  std::string json = TailJson(message.value, message.partition, message.offset);
  json.push_back('\n');
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fflush(stdout);  // so scripts piping us see each message at once
}

int RunTail(std::span<char* const> args) {
  constexpr std::string_view kCmd = "tail";
  KafkaFlags kafka;
  std::string topic;
  std::optional<int64_t> max;
  double timeout_s = 10;
  int64_t start = bus::kOffsetBeginning;
  bool help = false;
  std::vector<Flag> flags = {
      {"--topic", true, Store(topic)},
      {"--max", true,
       [&](std::string_view v) -> std::optional<std::string> {
         max = ParsePositiveInt(v);
         if (!max) return "expected a positive integer, got '" + std::string(v) + "'";
         return std::nullopt;
       }},
      {"--timeout", true,
       [&](std::string_view v) -> std::optional<std::string> {
         std::optional<double> s = ParsePositiveSeconds(v);
         if (!s) return "expected a positive number of seconds, got '" + std::string(v) + "'";
         timeout_s = *s;
         return std::nullopt;
       }},
      {"--from-beginning", false, Set(start, bus::kOffsetBeginning)},
      {"--from-end", false, Set(start, bus::kOffsetEnd)},
      {"--help", false, Set(help, true)},
  };
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    PrintUsage(kTailUsage);
    return kExitOk;
  }
  if (topic.empty()) return UsageError(kCmd, "--topic is required");
  if (!positional.empty()) return UsageError(kCmd, "unexpected argument '" + positional[0] + "'");
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);

  // One wall-clock bound for the whole command, metadata included.
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(timeout_s));
  auto remaining = [&] {
    return std::max(milliseconds(0),
                    std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  };

  Result<std::unique_ptr<bus::Consumer>> consumer = bus::NewKafkaConsumer(kafka.config, "");
  if (!consumer) {
    PrintErr(kCmd, consumer.error().ToString());
    return consumer.error().code == bus::errc::kConfig ? kExitUsage : kExitFailure;
  }
  Result<std::vector<int32_t>> partitions = (*consumer)->Partitions(topic, remaining());
  if (!partitions) {
    PrintErr(kCmd, partitions.error().ToString());
    return kExitFailure;
  }
  std::vector<bus::TopicPartition> assignment;
  for (int32_t p : *partitions) assignment.push_back({topic, p, start});
  if (Status s = (*consumer)->Assign(assignment); !s) {
    PrintErr(kCmd, s.error().ToString());
    return kExitFailure;
  }

  int64_t count = 0;
  while (!max || count < *max) {
    const milliseconds left = remaining();
    if (left.count() == 0) break;
    Result<std::optional<bus::Message>> message =
        (*consumer)->Poll(std::min(left, milliseconds(250)));
    if (!message) {
      PrintErr(kCmd, message.error().ToString());
      return kExitFailure;
    }
    if (!message->has_value()) continue;
    PrintMessage(**message);
    ++count;
  }
  (*consumer)->Close();
  if (max && count < *max) {
    PrintErr(kCmd, "timed out after " + std::to_string(count) + " of " + std::to_string(*max) +
                       " messages");
    return kExitFailure;
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------
// The subcommand table: a new subcommand is one entry here and one Run function.

struct Subcommand {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::span<char* const> args);
};

constexpr std::array kSubcommands = {
    Subcommand{"publish", "publish JSON-encoded Envelopes (or raw lines) to a topic", RunPublish},
    Subcommand{"tail", "print a topic's messages as JSON lines", RunTail},
    Subcommand{"simulate", "run the pathways over a JSONL history, without Kafka", RunSimulate},
    Subcommand{"describe", "print a pathway's state diagram from its definition", RunDescribe},
    Subcommand{"describe-sharing", "print the statutory sharing rules (no consent needed)",
               RunDescribeSharing},
    Subcommand{"export", "subject access: everything a stopped engine holds about one child",
               RunExport},
    Subcommand{"inspect", "one child's case and why it is in its state (operations; audited)",
               RunInspect},
    Subcommand{"rebuild", "check stored cases against their histories (operations; audited)",
               RunRebuild},
    Subcommand{"redrive",
               "what re-deciding cases would change, a partner's messages left out "
               "(operations; audited; dry run)",
               RunRedrive},
    Subcommand{"migrate",
               "move running pathway instances to a new definition version (operations; "
               "audited; dry run)",
               RunMigrate},
    Subcommand{"deadletters", "list, show, resubmit or discard dead letters (audited)",
               RunDeadLetters},
    Subcommand{"backup", "copy a running engine's stores into a backup (operations; audited)",
               RunBackup},
    Subcommand{"restore", "write a backup into a new data directory (operations; audited)",
               RunRestore},
};

void PrintMainUsage(std::FILE* out) {
  std::fputs(
      "usage: pathwayctl COMMAND [flags]\n"
      "\n"
      "commands:\n",
      out);
  for (const Subcommand& command : kSubcommands) {
    std::fprintf(out, "  %-16.*s %.*s\n", static_cast<int>(command.name.size()),
                 command.name.data(), static_cast<int>(command.summary.size()),
                 command.summary.data());
  }
  std::fputs("\nrun 'pathwayctl COMMAND --help' for a command's flags\n", out);
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintMainUsage(stderr);
    return kExitUsage;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintMainUsage(stdout);
    return kExitOk;
  }
  for (const Subcommand& command : kSubcommands) {
    if (command.name == name) {
      return command.run(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2)));
    }
  }
  std::fprintf(stderr, "pathwayctl: unknown command '%s'\n", argv[1]);
  PrintMainUsage(stderr);
  return kExitUsage;
}

}  // namespace
}  // namespace pathway::ctl

int main(int argc, char** argv) {
  try {
    return pathway::ctl::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pathwayctl: %s\n", e.what());
    return 1;
  }
}
