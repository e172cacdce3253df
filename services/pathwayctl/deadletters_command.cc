// pathwayctl deadletters list | show | resubmit | discard (docs/operations.md, "Dead
// letters"): the command line over deadletters.h and the audited actions of
// services/operations/deadletter_actions.h, which the engine also runs for the gateway.
//
// What needs the operations role (the key-encryption key, --operator, --reason) and is
// audited: show with the original's bytes, resubmit, discard. list and a sealed show
// print no personal data (the reason has long numbers masked; no bytes, no digest) and
// are not audited, as the gateway's dead-letter list is not.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "services/engine/subject_keyer.h"
#include "services/operations/deadletter_actions.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/deadletters.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/topics.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using SteadyClock = std::chrono::steady_clock;
using operations::ClosedJson;
using operations::DeadLetterAction;
using operations::DeadLetterActor;
using operations::DeadLetterJson;
using operations::DeadLetterShown;
using operations::EnvelopeJson;
using operations::FindForAction;
using operations::PayloadName;
using operations::ShownJson;
using operations::WrongDeadLetterKey;

constexpr std::string_view kCmd = "deadletters";

constexpr std::string_view kUsage =
    "usage: pathwayctl deadletters list [--all] [--json] [--timeout S] [kafka flags]\n"
    "       pathwayctl deadletters show PARTITION/OFFSET [--json] [--hex] [--timeout S]\n"
    "           [--data-dir DIR | --key-encryption-key-file F --subject-key-file F\n"
    "            --operator ID --reason TEXT] [kafka flags]\n"
    "       pathwayctl deadletters resubmit PARTITION/OFFSET --operator ID --reason TEXT\n"
    "           (--data-dir DIR | --key-encryption-key-file F) [--json] [--timeout S]\n"
    "           [kafka flags]\n"
    "       pathwayctl deadletters discard PARTITION/OFFSET --operator ID --reason TEXT\n"
    "           (--data-dir DIR | --key-encryption-key-file F) [--json] [--timeout S]\n"
    "           [kafka flags]\n"
    "\n"
    "The messages the engine could not process (pathway.deadletter.v1) and what\n"
    "operations decided about each (pathway.deadletter.dispositions.v1).\n"
    "PARTITION/OFFSET is the dead letter's own place on pathway.deadletter.v1, as list\n"
    "prints it.\n"
    "\n"
    "  list      the open dead letters (--all: every one): place, when, reason, where\n"
    "            the original was and its size, disposition. No personal data.\n"
    "  show      one dead letter. Its original's bytes (the Envelope as JSON if it\n"
    "            decodes, else a hex dump) only with the engine's keys, --operator and\n"
    "            --reason: the view is audited, and on the audit trail of the child the\n"
    "            original names. The whole original is read from its place when it is\n"
    "            still there and its SHA-256 matches; else the dead letter's excerpt (at\n"
    "            most 4 KiB), said so. Without the keys: the content is sealed.\n"
    "  resubmit  after a fix: produces the whole original again to pathway.inbound.v1\n"
    "            (its partition, its key), where intake reads it as new, and records the\n"
    "            dead letter as resubmitted, so it is resubmitted once. Refused if it was\n"
    "            resubmitted or discarded, if the original is gone, differs or does not\n"
    "            decode, or if it is an output the broker refused (on no topic).\n"
    "  discard   records the dead letter as discarded; nothing re-enters.\n"
    "\n"
    "  --all                          list: closed dead letters too\n"
    "  --json                         one JSON document on stdout\n"
    "  --hex                          show: a hex dump even when the original decodes\n"
    "  --timeout S                    bound on every read and write (default 30)\n"
    "  --data-dir DIR                 the engine's data directory, for its keys\n"
    "  --key-encryption-key-file F    the engine's key-encryption key\n"
    "                                 (default: DIR/key-encryption-key)\n"
    "  --subject-key-file F           the engine's subject-key secret, so that a child\n"
    "                                 shown is audited on their key (default:\n"
    "                                 DIR/subject-key)\n";

constexpr std::string_view kExitHelp =
    "\nExit 0 done; 1 refused, or the broker or the audit failed; 2 bad usage, a missing\n"
    "key file, or no dead letter at PARTITION/OFFSET.\n";

void Warn(const std::string& text) { PrintErr(kCmd, text); }

void PrintUsage() {
  std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
  std::fwrite(kOperatorFlagsHelp.data(), 1, kOperatorFlagsHelp.size(), stdout);
  std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
  std::fwrite(kExitHelp.data(), 1, kExitHelp.size(), stdout);
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The flags every subcommand shares; each uses those it needs.
struct Options {
  KafkaFlags kafka;
  OperatorFlags who;
  std::string data_dir;
  std::string kek_file;
  std::string subject_key_file;
  double timeout_s = 30;
  bool all = false;
  bool json = false;
  bool hex = false;
  bool help = false;

  Deadline deadline() const {
    return SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                    std::chrono::duration<double>(timeout_s));
  }
  bool keys_given() const { return !data_dir.empty() || !kek_file.empty(); }
};

std::vector<Flag> FlagsFor(Options& o) {
  std::vector<Flag> flags = {
      {"--all", false, Set(o.all, true)},
      {"--json", false, Set(o.json, true)},
      {"--hex", false, Set(o.hex, true)},
      {"--data-dir", true, Store(o.data_dir)},
      {"--key-encryption-key-file", true, Store(o.kek_file)},
      {"--subject-key-file", true, Store(o.subject_key_file)},
      {"--timeout", true,
       [&o](std::string_view v) -> std::optional<std::string> {
         std::optional<double> s = ParsePositiveSeconds(v);
         if (!s) return "expected a positive number of seconds, got '" + std::string(v) + "'";
         o.timeout_s = *s;
         return std::nullopt;
       }},
      {"--help", false, Set(o.help, true)},
  };
  o.kafka.AddTo(flags);
  o.who.AddTo(flags);
  return flags;
}

// A secret of the engine's (never created here), from its flag or the data directory.
Result<std::string> LoadKeyFile(const std::string& file, const std::string& data_dir,
                                const std::string& name) {
  std::string path;
  auto secret = ReadExistingSecret(file, data_dir, name, path);
  if (!secret) return Error{secret.error().code, name + ": " + secret.error().detail};
  return secret;
}

// ----------------------------------------------------------------------------- Output

std::string OriginalText(const DeadLetterRecord& r) {
  const std::string size = std::to_string(r.dead().original_size()) + " bytes";
  if (r.FromIntake()) return r.OriginalText() + " (" + size + ")";
  return "an output to " + r.dead().topic() + " the broker refused (engine partition " +
         std::to_string(r.dead().partition()) + ", outbox sequence " +
         std::to_string(r.dead().offset()) + "; " + size + "), on no topic";
}

std::string DispositionLine(const DeadLetterRecord& r) {
  if (!r.disposition) return "open";
  const store::DeadLetterDisposition& d = *r.disposition;
  std::string text = std::string(r.DispositionText()) + " by " + d.operator_id() + " at " +
                     UtcText(d.at_ms()) + " (operation " + d.operation_id() + ")";
  if (d.outcome() == store::DEAD_LETTER_OUTCOME_RESUBMITTED) {
    text += ", as " + std::string(topics::kInbound) + "/" +
            std::to_string(d.resubmitted_partition()) + "/" +
            std::to_string(d.resubmitted_offset());
  }
  return text;
}

std::string Column(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text + "  ";
}

// Kafka clients from the flags; a message for the operator on failure.
template <class T>
int ClientFailure(const Result<T>& made) {
  PrintErr(kCmd, made.error().ToString());
  return made.error().code == bus::make_error_code(bus::errc::kConfig) ? kExitUsage : kExitFailure;
}

// What a failed action tells the operator, and its exit code.
int ActionFailure(const Error& e) {
  if (e.code == WrongDeadLetterKey()) return UsageError(kCmd, e.detail);
  PrintErr(kCmd, e.detail);
  return e.code == NoSuchDeadLetter() ? kExitUsage : kExitFailure;
}

// ------------------------------------------------------------------------------- list

int RunList(Options& o) {
  auto consumer = bus::NewKafkaConsumer(o.kafka.config, "");
  if (!consumer) return ClientFailure(consumer);
  auto all = ListDeadLetters(**consumer, o.deadline());
  (*consumer)->Close();
  if (!all) {
    PrintErr(kCmd, DeadLetterErrorText(all.error()));
    return kExitFailure;
  }
  size_t open = 0, resubmitted = 0, discarded = 0;
  std::vector<const DeadLetterRecord*> shown;
  for (const DeadLetterRecord& r : *all) {
    if (!r.disposition) {
      ++open;
    } else if (r.disposition->outcome() == store::DEAD_LETTER_OUTCOME_RESUBMITTED) {
      ++resubmitted;
    } else {
      ++discarded;
    }
    if (o.all || !r.disposition) shown.push_back(&r);
  }
  if (o.json) {
    std::vector<std::string> entries;
    for (const auto* r : shown) entries.push_back(DeadLetterJson(*r));
    Print(Json()
              .Field("dead_letters", Array(entries))
              .Num("total", static_cast<int64_t>(all->size()))
              .Num("open", static_cast<int64_t>(open))
              .Num("resubmitted", static_cast<int64_t>(resubmitted))
              .Num("discarded", static_cast<int64_t>(discarded))
              .Done() +
          "\n");
    return kExitOk;
  }
  std::string out;
  if (!shown.empty()) {
    out += Column("PLACE", 9) + Column("WRITTEN", 24) + Column("DISPOSITION", 11) +
           Column("ORIGINAL", 30) + Column("BYTES", 8) + "REASON\n";
  }
  for (const auto* r : shown) {
    out += Column(r->place.Text(), 9) + Column(UtcText(r->timestamp_ms), 24) +
           Column(std::string(r->DispositionText()), 11) +
           Column(r->FromIntake() ? r->OriginalText() : "outbox of " + r->dead().topic(), 30) +
           Column(std::to_string(r->dead().original_size()), 8) + ShownReason(r->dead().reason()) +
           "\n";
  }
  out += std::to_string(all->size()) + " dead letters: " + std::to_string(open) + " open, " +
         std::to_string(resubmitted) + " resubmitted, " + std::to_string(discarded) + " discarded" +
         (o.all ? "" : " (closed ones not listed: --all)") + "\n";
  Print(out);
  return kExitOk;
}

// ------------------------------------------------------------------------------- show

std::string NumbersText(const std::vector<int>& numbers) {
  std::string out;
  for (int n : numbers) out += (out.empty() ? "" : ", ") + std::to_string(n);
  return out;
}

// The human form of a show: the dead letter, what was read, and the bytes (the
// Envelope as JSON if it decodes, unless --hex).
std::string ShownText(const std::string& human, const DeadLetterShown& shown, bool hex) {
  const DeadLetterRecord& r = shown.record;
  const OriginalContent& content = shown.content;
  std::string text = human;
  if (content.full) {
    text += "  content      the whole original (" + std::to_string(content.bytes.size()) +
            " bytes), read from " + r.OriginalText() + "; its SHA-256 matches\n";
  } else {
    text += "  content      an excerpt: the first " + std::to_string(content.bytes.size()) +
            " of " + std::to_string(r.dead().original_size()) +
            " bytes, opened from the dead letter, since " + content.why_excerpt + "\n";
  }
  if (shown.decoded) {
    text += "  decodes as   a pathway.v1.Envelope (" + PayloadName(*shown.decoded) + ")";
    if (!shown.unknown_fields.empty()) {
      text += "; unknown fields " + NumbersText(shown.unknown_fields);
    }
    text += "\n";
  } else if (shown.whole) {
    text += "  decodes as   nothing: not a pathway.v1.Envelope\n";
  }
  text += "  audit        operation " + shown.operation_id + "; recorded on the audit trail of " +
          std::to_string(shown.children) + (shown.children == 1 ? " child" : " children") + "\n\n";
  if (shown.decoded && !hex) {
    text += EnvelopeJson(*shown.decoded, true).value_or("") + "\n";
  } else {
    text += HexDump(content.bytes);
  }
  return text;
}

int RunShow(Options& o, DeadLetterPlace place) {
  // The operations role: the engine's keys and who asks why, all checked before
  // anything is read.
  std::string kek, subject_secret;
  if (o.keys_given()) {
    if (auto error = o.who.Check()) {
      return UsageError(kCmd, "opening the original: " + *error);
    }
    auto loaded = LoadKeyFile(o.kek_file, o.data_dir, "key-encryption-key");
    if (!loaded) return UsageError(kCmd, loaded.error().detail);
    kek = std::move(*loaded);
    if (o.data_dir.empty() && o.subject_key_file.empty()) {
      return UsageError(kCmd,
                        "opening the original needs --subject-key-file too (or --data-dir): "
                        "a child it names is audited on their key");
    }
    auto secret = LoadKeyFile(o.subject_key_file, o.data_dir, "subject-key");
    if (!secret) return UsageError(kCmd, secret.error().detail);
    subject_secret = std::move(*secret);
  } else if (!o.who.reason.empty()) {
    return UsageError(kCmd,
                      "--reason without the keys: give --data-dir (or the key files) to open "
                      "the original");
  }

  const Deadline deadline = o.deadline();
  auto consumer = bus::NewKafkaConsumer(o.kafka.config, "");
  if (!consumer) return ClientFailure(consumer);
  auto found = FindForAction(**consumer, place, DeadLetterAction::kShow, kek, deadline);
  if (!found) return ActionFailure(found.error());
  const DeadLetterRecord& r = *found;

  std::string human = "dead letter " + r.place.Text() + " of " + std::string(topics::kDeadLetter) +
                      "\n  written      " + UtcText(r.timestamp_ms) + "\n  reason       " +
                      ShownReason(r.dead().reason()) + "\n  original     " + OriginalText(r) +
                      "\n  disposition  " + DispositionLine(r) + "\n";
  if (kek.empty()) {
    (*consumer)->Close();
    if (o.json) {
      Print(Json()
                .Field("dead_letter", DeadLetterJson(r))
                .Field("content", Json().Bool("sealed", true).Done())
                .Done() +
            "\n");
    } else {
      Print(human +
            "  content      sealed: the original's bytes are shown to the operations role\n"
            "               only (the engine's keys: --key-encryption-key-file F and\n"
            "               --subject-key-file F, or --data-dir DIR; --operator ID and\n"
            "               --reason TEXT; audited)\n");
    }
    return kExitOk;
  }

  RealTimeSource time;
  auto sink = NewKafkaAuditSink(o.kafka.config);
  if (!sink) return ClientFailure(sink);
  const engine::SubjectKeyer keyer = engine::SubjectKeyer::FromSecret(subject_secret);
  const DeadLetterActor actor{**sink, o.who, kek, time, deadline, Warn};
  Status s = ShowDeadLetter(
      actor, r, **consumer, [&](std::string_view id) { return keyer.Key(id); },
      [&](const DeadLetterShown& shown) {
        Print(o.json ? ShownJson(shown, o.hex) + "\n" : ShownText(human, shown, o.hex));
      });
  if (!s) return ActionFailure(s.error());
  return kExitOk;
}

// -------------------------------------------------------------------- resubmit, discard

int RunClose(Options& o, DeadLetterPlace place, bool resubmit) {
  if (auto error = o.who.Check()) return UsageError(kCmd, *error);
  if (!o.keys_given()) {
    return UsageError(kCmd,
                      "the engine's key-encryption key is required (--data-dir DIR or "
                      "--key-encryption-key-file F): the operations role, and the key the "
                      "reason is sealed under on the audit trail");
  }
  auto kek = LoadKeyFile(o.kek_file, o.data_dir, "key-encryption-key");
  if (!kek) return UsageError(kCmd, kek.error().detail);

  const Deadline deadline = o.deadline();
  auto consumer = bus::NewKafkaConsumer(o.kafka.config, "");
  if (!consumer) return ClientFailure(consumer);
  const DeadLetterAction action =
      resubmit ? DeadLetterAction::kResubmit : DeadLetterAction::kDiscard;
  auto found = FindForAction(**consumer, place, action, *kek, deadline);
  if (!found) return ActionFailure(found.error());
  const DeadLetterRecord& r = *found;

  DeliveryWaiter waiter;  // outlives the producer, whose callback it gives
  auto producer = bus::NewKafkaProducer(o.kafka.config, waiter.Callback());
  if (!producer) return ClientFailure(producer);
  RealTimeSource time;
  auto sink = NewKafkaAuditSink(o.kafka.config);
  if (!sink) return ClientFailure(sink);
  const DeadLetterActor actor{**sink, o.who, *kek, time, deadline, Warn};
  Status s = CloseDeadLetter(
      actor, r, action, **consumer, **producer, waiter,
      [&](const DeadLetterRecord& closed, const std::string& operation_id) {
        if (o.json) {
          Print(ClosedJson(closed, operation_id) + "\n");
        } else if (resubmit) {
          const store::DeadLetterDisposition& d = *closed.disposition;
          Print("resubmitted dead letter " + r.place.Text() + ": its original (" +
                std::to_string(r.dead().original_size()) + " bytes, SHA-256 verified) is " +
                std::string(topics::kInbound) + "/" + std::to_string(d.resubmitted_partition()) +
                "/" + std::to_string(d.resubmitted_offset()) +
                " now, where intake reads it again (operation " + operation_id + ")\n");
        } else {
          Print("discarded dead letter " + r.place.Text() + "; nothing re-enters (operation " +
                operation_id + ")\n");
        }
      });
  if (!s) return ActionFailure(s.error());
  return kExitOk;
}

}  // namespace

int RunDeadLetters(std::span<char* const> args) {
  Options o;
  std::vector<Flag> flags = FlagsFor(o);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (o.help) {
    PrintUsage();
    return kExitOk;
  }
  if (positional.empty()) return UsageError(kCmd, "expected list, show, resubmit or discard");
  const std::string& sub = positional[0];
  if (sub != "list" && sub != "show" && sub != "resubmit" && sub != "discard") {
    return UsageError(kCmd, "unknown subcommand '" + sub + "'");
  }
  if (auto error = o.kafka.Resolve()) return UsageError(kCmd, *error);
  if (sub == "list") {
    if (positional.size() > 1) {
      return UsageError(kCmd, "unexpected argument '" + positional[1] + "'");
    }
    return RunList(o);
  }
  if (positional.size() != 2) return UsageError(kCmd, sub + " expects one PARTITION/OFFSET");
  std::optional<DeadLetterPlace> place = ParseDeadLetterPlace(positional[1]);
  if (!place) {
    return UsageError(kCmd, "'" + positional[1] +
                                "' is not a PARTITION/OFFSET (such as 3/17) of "
                                "pathway.deadletter.v1");
  }
  if (sub == "show") return RunShow(o, *place);
  return RunClose(o, *place, sub == "resubmit");
}

}  // namespace pathway::ctl
