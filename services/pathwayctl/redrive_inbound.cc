// pathwayctl redrive --from-inbound: the partner messages on pathway.inbound.v1 from a
// time or from offsets, each judged against the engine's stores as the engine would
// judge it now (services/pathwayctl/inbound_redrive.h); --apply sends the ones that
// never reached a case to pathway.inbound.v1 again, byte for byte, on their partition,
// so the engine decides them on its normal path. docs/operations.md, "redrive".
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "services/engine/engine_options.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/deadletters.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/inbound_redrive.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/topics.h"

namespace pathway::ctl {
namespace {

constexpr std::string_view kCmd = "redrive";

constexpr std::string_view kUsage =
    "usage: pathwayctl redrive --from-inbound (--since TIME [--until TIME] |\n"
    "                          --offsets P:O[,P:O...]) (--dry-run | --apply)\n"
    "                          --data-dir DIR --operator ID --reason TEXT [--json] [flags]\n"
    "\n"
    "Reads the partner messages on pathway.inbound.v1 appended from TIME (RFC 3339, e.g.\n"
    "2026-12-01T00:00:00Z; up to --until) or from the offsets given (only those\n"
    "partitions), up to the end the topic had when the run started, and judges each as\n"
    "the engine running this version would judge it now, against the engine's stores:\n"
    "processed (decided: its dedupe entry, or its case's kept copy), new (never reached\n"
    "its case: lost with a commands topic, or refused or dead-lettered by an intake bug\n"
    "since fixed), reused_id (decided with other content: sent again, refused), refused\n"
    "(intake refuses it: sent again, refused again) or dead_lettered.\n"
    "--dry-run changes nothing. --apply sends each new message to pathway.inbound.v1\n"
    "again, byte for byte, with its key and on its partition: the engine decides it on\n"
    "its normal path. Sending one twice changes nothing (the engine drops the repeat).\n"
    "Audited on pathway.audit.v1 before it reads anything; each child with a new or\n"
    "reused message on its own trail. Exit 0, 1 failure, 2 bad usage.\n"
    "\n"
    "  --since TIME, --until TIME     the messages' broker timestamps, inclusive\n"
    "  --offsets P:O[,P:O...]         or from these offsets of these partitions\n"
    "  --timeout SECONDS              bound on reading the topic (default 120)\n"
    "  --dry-run, --apply, --json     as for redrive\n";

std::optional<int64_t> ParseMillis(const std::string& text) {
  google::protobuf::Timestamp ts;
  if (!google::protobuf::util::TimeUtil::FromString(text, &ts)) return std::nullopt;
  return ts.seconds() * 1000 + ts.nanos() / 1'000'000;
}

std::optional<std::map<int32_t, int64_t>> ParseOffsets(const std::string& text) {
  std::map<int32_t, int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t colon = item.find(':');
    if (colon == std::string::npos) return std::nullopt;
    const std::string p = item.substr(0, colon), o = item.substr(colon + 1);
    auto partition = ParsePositiveInt(p);
    auto offset = ParsePositiveInt(o);
    if ((p != "0" && (!partition || *partition > INT32_MAX)) || (o != "0" && !offset)) {
      return std::nullopt;
    }
    if (!out.emplace(partition ? static_cast<int32_t>(*partition) : 0, offset ? *offset : 0)
             .second) {
      return std::nullopt;  // a partition named twice
    }
    start = comma + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

struct Judged {
  bus::Message message;
  InboundVerdict verdict;
};

}  // namespace

int RunRedriveFromInbound(std::span<char* const> args) {
  bool json = false, help = false, dry_run = false, apply = false, from_inbound = false;
  std::string since_text, until_text, offsets_text, timeout_text = "120";
  EngineDataFlags data_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--from-inbound", false, Set(from_inbound, true)},
      {"--since", true, Store(since_text)},
      {"--until", true, Store(until_text)},
      {"--offsets", true, Store(offsets_text)},
      {"--timeout", true, Store(timeout_text)},
      {"--dry-run", false, Set(dry_run, true)},
      {"--apply", false, Set(apply, true)},
      {"--json", false, Set(json, true)},
      {"--help", false, Set(help, true)},
  };
  data_flags.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    for (std::string_view text :
         {kUsage, kEngineDataFlagsHelp, kOperatorFlagsHelp, kKafkaFlagsHelp}) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return kExitOk;
  }
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (dry_run == apply) {
    return UsageError(kCmd, "say --dry-run (show what would change) or --apply (change it)");
  }
  if (since_text.empty() == offsets_text.empty()) {
    return UsageError(kCmd, "say where to start: --since TIME or --offsets P:O[,P:O...]");
  }
  std::optional<int64_t> since, until;
  if (!since_text.empty() && !(since = ParseMillis(since_text))) {
    return UsageError(kCmd, "--since must be an RFC 3339 time such as 2026-12-01T00:00:00Z");
  }
  if (!until_text.empty() && !(until = ParseMillis(until_text))) {
    return UsageError(kCmd, "--until must be an RFC 3339 time such as 2026-12-01T00:00:00Z");
  }
  if (since && until && *until < *since) return UsageError(kCmd, "--until is before --since");
  std::map<int32_t, int64_t> from;
  if (!offsets_text.empty()) {
    auto parsed = ParseOffsets(offsets_text);
    if (!parsed) return UsageError(kCmd, "--offsets must be P:O[,P:O...], each partition once");
    from = std::move(*parsed);
  }
  auto timeout = ParsePositiveInt(timeout_text);
  if (!timeout || *timeout > 86400) return UsageError(kCmd, "--timeout must be 1 to 86400 seconds");
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  auto data = EngineData::Load(data_flags);
  if (!data) {
    PrintErr(kCmd, data.error().detail);
    return kExitFailure;
  }
  std::vector<std::unique_ptr<state::CaseStore>> opened;
  std::vector<state::CaseStore*> stores;
  for (int32_t p : data->partitions) {
    auto store = data->OpenPartition(p);
    if (!store) {
      PrintErr(kCmd, data->PartitionDir(p) + ": " + store.error().detail);
      return kExitFailure;
    }
    stores.push_back(store->get());
    opened.push_back(std::move(*store));
  }
  std::string scope = "inbound ";
  if (since) {
    scope += "since ";
    scope += since_text;
    if (until) {
      scope += " until ";
      scope += until_text;
    }
  } else {
    scope += "from offsets ";
    scope += offsets_text;
  }
  RealTimeSource clock;
  auto run = StartAudited(kCmd, kafka.config, who, {"redrive", scope, dry_run}, data->kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  if (!json) {
    std::fprintf(stderr, "redrive --from-inbound: %s, operation %s\n",
                 dry_run ? "dry run" : "apply", audit->id().c_str());
  }

  const Deadline deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*timeout);
  const engine::EngineOptions engine_defaults;
  const std::string topic(topics::kInbound);
  std::map<std::string, uint64_t> fates;
  std::vector<Judged> listed;  // new and reused ones: what the operator acts on
  Status judging;
  auto consumer = bus::NewKafkaConsumer(kafka.config, "");
  if (!consumer) {
    PrintErr(kCmd, consumer.error().ToString());
    (void)audit->Fail(consumer.error().ToString(), {});
    return kExitFailure;
  }
  Status read = ReadFrom(**consumer, topic, from, deadline, [&](const bus::Message& m) {
    if (!judging) return;
    if (since && m.timestamp_ms < *since) return;
    if (until && m.timestamp_ms > *until) return;
    auto verdict = JudgeInbound(
        m, [&](std::string_view nhs) { return data->SubjectKey(nhs); }, stores,
        engine_defaults.max_message_bytes);
    if (!verdict) {
      judging = verdict.error();
      return;
    }
    ++fates[std::string(FateName(verdict->fate))];
    if (verdict->fate == InboundFate::kNew || verdict->fate == InboundFate::kReusedId) {
      listed.push_back({m, std::move(*verdict)});
    }
  });
  (*consumer)->Close();
  if (read && !judging) read = judging;
  const auto counts = [&](uint64_t sent) -> Counts {
    Counts c;
    for (auto fate : {InboundFate::kProcessed, InboundFate::kNew, InboundFate::kReusedId,
                      InboundFate::kRefused, InboundFate::kDeadLettered}) {
      const std::string name(FateName(fate));
      c.push_back({name, fates[name]});
    }
    c.push_back({"sent_again", sent});
    return c;
  };
  if (!read) {
    PrintErr(kCmd, read.error().ToString());
    (void)audit->Fail(read.error().ToString(), counts(0));
    return kExitFailure;
  }
  // Each child shown is on its own trail before anything about it is printed.
  std::set<std::string> shown;
  for (const auto& j : listed) {
    for (const auto& subject : j.verdict.subjects) {
      if (!shown.insert(subject).second) continue;
      if (Status s = audit->ChildShown(subject); !s) {
        const std::string message =
            "the view of a case was not recorded on pathway.audit.v1: " + s.error().detail;
        PrintErr(kCmd, message);
        (void)audit->Fail(message, counts(0));
        return kExitFailure;
      }
    }
  }
  uint64_t sent = 0;
  if (apply) {
    DeliveryWaiter waiter;  // outlives the producer, whose callback it gives
    auto producer = bus::NewKafkaProducer(kafka.config, waiter.Callback());
    if (!producer) {
      PrintErr(kCmd, producer.error().ToString());
      (void)audit->Fail(producer.error().ToString(), counts(0));
      return kExitFailure;
    }
    for (const auto& j : listed) {
      if (j.verdict.fate != InboundFate::kNew) continue;
      bus::Outgoing again;
      again.topic = topic;
      again.key = j.message.key ? std::string_view(*j.message.key) : std::string_view();
      again.value = j.message.value;
      again.partition = j.message.partition;
      auto delivered = waiter.Send(**producer, again,
                                   std::chrono::steady_clock::now() + std::chrono::seconds(30));
      if (!delivered) {
        const std::string message =
            "sending a message again failed: " + delivered.error().ToString() +
            " (run again: what was sent is recognised)";
        PrintErr(kCmd, message);
        (void)audit->Fail(message, counts(sent));
        return kExitFailure;
      }
      ++sent;
    }
  }
  if (Status s = audit->Finish(counts(sent)); !s) {
    PrintErr(kCmd, "the end of the action was not recorded: " + s.error().ToString());
  }
  if (json) {
    std::vector<std::string> items;
    for (const auto& j : listed) {
      std::vector<std::string> subjects;
      for (const auto& s : j.verdict.subjects) subjects.push_back(Quote(s));
      items.push_back(Json()
                          .Num("partition", j.message.partition)
                          .Num("offset", j.message.offset)
                          .Str("fate", std::string(FateName(j.verdict.fate)))
                          .Str("payload", j.verdict.payload)
                          .Field("subject_keys", Array(subjects))
                          .Done());
    }
    Json out;
    out.Str("operation_id", audit->id()).Str("scope", scope).Bool("dry_run", dry_run);
    for (const auto& [name, n] : counts(sent)) out.Num(name, static_cast<int64_t>(n));
    std::printf("%s\n", out.Field("messages", Array(items)).Done().c_str());
    return kExitOk;
  }
  for (const auto& j : listed) {
    std::printf("%s: %s/%d/%lld %s", std::string(FateName(j.verdict.fate)).c_str(), topic.c_str(),
                j.message.partition, static_cast<long long>(j.message.offset),
                j.verdict.payload.c_str());
    for (const auto& s : j.verdict.subjects) std::printf(" subject %s", s.c_str());
    std::printf("\n");
  }
  std::printf(
      "redrive --from-inbound (%s): %llu processed, %llu new, %llu reused_id, %llu "
      "refused, %llu dead_lettered; %s\n",
      dry_run ? "dry run" : "apply", static_cast<unsigned long long>(fates["processed"]),
      static_cast<unsigned long long>(fates["new"]),
      static_cast<unsigned long long>(fates["reused_id"]),
      static_cast<unsigned long long>(fates["refused"]),
      static_cast<unsigned long long>(fates["dead_lettered"]),
      dry_run ? "nothing was changed"
              : (std::to_string(sent) + " sent to pathway.inbound.v1 again").c_str());
  return kExitOk;
}

}  // namespace pathway::ctl
