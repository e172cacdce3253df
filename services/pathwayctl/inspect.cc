// pathwayctl inspect: one child's case as the engine holds it, and why it is in its
// state: pathways with their definition versions, the step and command that put each
// where it is, deadlines with their rules, refusals, the shared record's provenance,
// pending timers, the outbox, and the whole history with business and processing
// dates. Reads an engine's stores read-only (the engine may run); audited on the
// child's trail before anything is shown. docs/operations.md, "inspect".
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "services/pathwayctl/case_sweep.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/engine_data.h"
#include "services/pathwayctl/json.h"
#include "services/pathwayctl/kafka_flags.h"
#include "services/pathwayctl/operation.h"
#include "services/pathwayctl/progress.h"
#include "workflow/identifiers.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr std::string_view kCmd = "inspect";

constexpr std::string_view kUsage =
    "usage: pathwayctl inspect (--subject-key KEY | --nhs-number-file F|- | --instance ID)\n"
    "                          --operator ID --reason TEXT [--json] [flags]\n"
    "\n"
    "Shows one child's case as the engine holds it, and why it is in its state: each\n"
    "pathway with its definition version, the step and the command (with its sender)\n"
    "that put it where it is, its deadlines and their rules; refused commands; the\n"
    "shared record's provenance (what, from whom, when: the content itself is for\n"
    "'pathwayctl export'); consents; pending deadline timers; outputs waiting in the\n"
    "outbox; and the whole history, each event with its business and processing dates.\n"
    "Reads the engine's stores while it runs. Recorded on pathway.audit.v1, and on the\n"
    "child's own audit trail, before anything is shown.\n"
    "\n"
    "  --subject-key KEY              the child by subject key (the child id)\n"
    "  --nhs-number-file F            the child by the NHS number in F (- for stdin)\n"
    "  --instance ID                  the child whose case holds this pathway instance\n"
    "  --json                         one JSON document on stdout\n";

struct Found {
  int32_t partition = 0;
  std::string subject;
  std::unique_ptr<state::CaseStore> cases;
  store::CaseState state;
};

// A kept command (CommandRecorded) of the history, by the command's event id.
struct Kept {
  v1::Envelope command;
  std::string order;
};

std::string BusinessDay(const std::string& order) {
  // CommandOrder starts "YYYYMMDD|".
  if (order.size() < 8) return "";
  return order.substr(0, 4) + "-" + order.substr(4, 2) + "-" + order.substr(6, 2);
}

// The date an event says it is about (its business date), where it has one.
std::string EventDay(const v1::Envelope& e, const std::map<std::string, Kept>& kept) {
  if (e.has_command_recorded()) return BusinessDay(e.command_recorded().order());
  if (e.has_pathway_step_recorded()) return DateText(e.pathway_step_recorded().on());
  if (e.has_deadline_set()) return DateText(e.deadline_set().set_on());
  if (e.has_case_corrected()) return DateText(e.case_corrected().caused_by_on());
  if (e.has_fact_recorded()) return DateText(e.fact_recorded().recorded_on());
  if (e.has_consent_changed()) return DateText(e.consent_changed().on());
  if (auto it = kept.find(e.causation_id()); it != kept.end()) {
    return BusinessDay(it->second.order);
  }
  return "";
}

std::string Sender(const v1::Envelope& command) {
  std::string s = command.source().agency();
  if (!command.source().system().empty()) s += "/" + command.source().system();
  if (!command.actor().role().empty()) s += " (" + command.actor().role() + ")";
  return s.empty() ? "an unnamed sender" : s;
}

// Why an instance is in its state: the latest event that moved it there.
struct Why {
  const v1::Envelope* event = nullptr;  // a PathwayStepRecorded or CaseCorrected
  const Kept* command = nullptr;        // the command that caused it, when kept
};

Why WhyOf(const store::PathwayInstance& p, const std::vector<v1::Envelope>& history,
          const std::map<std::string, Kept>& kept) {
  Why why;
  for (const auto& e : history) {
    const bool step =
        e.has_pathway_step_recorded() && e.pathway_step_recorded().instance_id() == p.instance_id();
    bool corrected = false;
    if (e.has_case_corrected()) {
      for (const auto& s : e.case_corrected().steps()) {
        corrected = corrected || s.instance_id() == p.instance_id();
      }
    }
    if (!step && !corrected) continue;
    why.event = &e;
    const std::string& cause = corrected ? e.case_corrected().caused_by() : e.causation_id();
    auto it = kept.find(cause);
    why.command = it == kept.end() ? nullptr : &it->second;
  }
  return why;
}

std::string WhyText(const store::PathwayInstance& p, const Why& why) {
  if (!why.event) return "no step of it is in the history (retention may have removed it)";
  std::string text;
  if (why.event->has_pathway_step_recorded()) {
    const auto& s = why.event->pathway_step_recorded();
    text = "step " + s.step() + " (" + (s.from_state().empty() ? "start" : s.from_state()) +
           " -> " + s.to_state() + ") on " + DateText(s.on());
    if (s.implied()) text += ", implied (its own message never came)";
  } else {
    const auto& c = why.event->case_corrected();
    text = "re-decided in business-date order when command " + c.caused_by() + " dated " +
           DateText(c.caused_by_on()) + " arrived late; now " + p.state();
  }
  text += ", recorded " + TimestampText(why.event->recorded_at());
  if (why.command) {
    text += ", by command " + why.command->command.event_id() + " (" +
            PayloadType(why.command->command) + ") from " + Sender(why.command->command);
  }
  return text;
}

std::string TimerKindText(store::TimerKind k) {
  switch (k) {
    case store::TIMER_KIND_WARNING:
      return "warning";
    case store::TIMER_KIND_BREACH:
      return "breach";
    case store::TIMER_KIND_IDENTITY_HOLD:
      return "identity_hold";
    default:
      return "unknown";
  }
}

struct Outboxed {
  uint64_t sequence = 0;
  std::string topic;
  std::string type;
};

// Finds the case: by subject key in every partition, or by instance id in any case.
Result<std::optional<Found>> Find(const EngineData& data, std::string subject,
                                  const std::string& instance) {
  std::vector<int32_t> partitions = data.partitions;
  if (!instance.empty()) {
    auto place = FindInstance(data, instance);
    if (!place) return place.error();
    if (!*place) return std::optional<Found>();
    partitions = {(*place)->partition};
    subject = (*place)->subject;
  }
  for (int32_t p : partitions) {
    auto cases = data.OpenPartition(p);
    if (!cases) return cases.error();
    auto loaded = (*cases)->LoadCase(subject);
    if (!loaded) return loaded.error();
    if (loaded->has_value()) {
      return std::optional<Found>(Found{p, subject, std::move(*cases), std::move(**loaded)});
    }
  }
  return std::optional<Found>();
}

}  // namespace

int RunInspect(std::span<char* const> args) {
  bool json = false, help = false;
  std::string subject_key, nhs_file, instance;
  EngineDataFlags data_flags;
  OperatorFlags who;
  KafkaFlags kafka;
  std::vector<Flag> flags = {
      {"--subject-key", true, Store(subject_key)}, {"--nhs-number-file", true, Store(nhs_file)},
      {"--instance", true, Store(instance)},       {"--json", false, Set(json, true)},
      {"--help", false, Set(help, true)},
  };
  data_flags.AddTo(flags);
  who.AddTo(flags);
  kafka.AddTo(flags);
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    std::fwrite(kEngineDataFlagsHelp.data(), 1, kEngineDataFlagsHelp.size(), stdout);
    std::fwrite(kOperatorFlagsHelp.data(), 1, kOperatorFlagsHelp.size(), stdout);
    std::fwrite(kKafkaFlagsHelp.data(), 1, kKafkaFlagsHelp.size(), stdout);
    return kExitOk;
  }
  // Not echoed: a positional argument may well be an NHS number.
  if (!positional.empty()) return UsageError(kCmd, "unexpected positional argument");
  if (!subject_key.empty() + !nhs_file.empty() + !instance.empty() != 1) {
    return UsageError(kCmd, "name one case: --subject-key, --nhs-number-file or --instance");
  }
  if (!subject_key.empty() && !workflow::IsSubjectKey(subject_key)) {
    return UsageError(kCmd, "--subject-key must be 64 lower-case hex digits (a child id)");
  }
  if (auto error = who.Check()) return UsageError(kCmd, *error);
  if (auto error = kafka.Resolve()) return UsageError(kCmd, *error);
  auto data = EngineData::Load(data_flags);
  if (!data) {
    PrintErr(kCmd, data.error().detail);
    return kExitFailure;
  }
  if (!nhs_file.empty()) {
    auto nhs = ReadNhsNumber(nhs_file);
    if (!nhs) return UsageError(kCmd, nhs.error().detail);
    subject_key = data->SubjectKey(*nhs);
  }

  RealTimeSource clock;
  const std::string scope = instance.empty() ? "subject " + subject_key : "instance " + instance;
  auto run = StartAudited(kCmd, kafka.config, who, {"inspect", scope, false}, data->kek, clock);
  if (!run) return kExitFailure;
  std::unique_ptr<OperationAudit>& audit = run->audit;
  const auto fail = [&](const std::string& message) {
    PrintErr(kCmd, message);
    (void)audit->Fail(message, {});
    return kExitFailure;
  };
  const auto read_error = [&](const Error& e) {
    if (IsKekMismatch(e)) {
      return fail("the key-encryption key (" + data->kek_path +
                  ") does not match the one the engine's stores were written with");
    }
    return fail(e.ToString());
  };

  auto found = Find(*data, subject_key, instance);
  if (!found) return read_error(found.error());
  if (!found->has_value()) {
    (void)audit->Finish({{"cases", 0}});
    PrintErr(kCmd, instance.empty()
                       ? "no case for this child in " + data->data_dir
                       : "no case holds instance " + instance + " in " + data->data_dir);
    return kExitFailure;
  }
  Found& f = **found;
  auto history = f.cases->HistoryFrom(f.subject, f.state.history_kept_from());
  if (!history) return read_error(history.error());
  std::vector<store::Timer> timers;
  Status scanned =
      f.cases->Scan(state::ColumnFamily::kTimers, [&](std::string_view, std::string_view value) {
        store::Timer t;
        if (t.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
            t.subject_key() == f.subject) {
          timers.push_back(std::move(t));
        }
      });
  if (!scanned) return read_error(scanned.error());
  std::vector<Outboxed> outbox;
  for (uint64_t from = 0;;) {
    auto items = f.cases->ReadOutbox(from, 512);
    if (!items) return read_error(items.error());
    for (const auto& item : *items) {
      if (item.entry.changelog() || item.entry.key() != f.subject) continue;
      v1::Envelope e;
      std::string type = e.ParseFromString(item.entry.value()) ? PayloadType(e) : "";
      outbox.push_back({item.sequence, item.entry.topic(), std::move(type)});
    }
    if (items->size() < 512) break;
    from = items->back().sequence + 1;
  }

  std::map<std::string, Kept> kept;
  for (const auto& e : *history) {
    if (!e.has_command_recorded()) continue;
    Kept k;
    if (k.command.ParseFromString(e.command_recorded().command())) {
      k.order = e.command_recorded().order();
      kept[k.command.event_id()] = std::move(k);
    }
  }

  // Shown from here: on the child's trail first.
  if (Status s = audit->ChildShown(f.subject); !s) {
    return fail("the view of the case was not recorded on pathway.audit.v1: " +
                s.error().ToString());
  }
  const store::CaseState& st = f.state;
  if (json) {
    std::vector<std::string> pathways;
    for (const auto& p : st.pathways()) {
      const Why why = WhyOf(p, *history, kept);
      pathways.push_back(Json()
                             .Field("instance", PathwayJson(p))
                             .Str("why", WhyText(p, why))
                             .Str("caused_by", why.command ? why.command->command.event_id() : "")
                             .Done());
    }
    std::vector<std::string> referrals, refused, record, consents, timer_items, outbox_items,
        events;
    for (const auto& r : st.referrals()) {
      referrals.push_back(Json()
                              .Str("referral_id", r.referral_id())
                              .Str("reason", v1::ReferralReason_Name(r.reason()))
                              .Str("received_on", DateText(r.received_on()))
                              .Str("referrer_agency", r.referrer_agency())
                              .Done());
    }
    for (const auto& r : st.rejected()) {
      refused.push_back(Json()
                            .Str("event_id", r.event_id())
                            .Str("field", r.field())
                            .Str("rule", r.rule())
                            .Done());
    }
    for (const auto& fact : st.record_facts()) {
      record.push_back(Json()
                           .Str("type", workflow::FactTypeName(fact.type()))
                           .Str("source_agency", fact.source_agency())
                           .Str("source_event_id", fact.source_event_id())
                           .Str("recorded_on", DateText(fact.recorded_on()))
                           .Str("valid_until", DateText(fact.valid_until()))
                           .Bool("disputed", fact.disputed())
                           .Done());
    }
    for (const auto& c : st.consents()) {
      consents.push_back(Json()
                             .Str("agency", c.agency())
                             .Str("purpose", c.purpose())
                             .Str("decision", v1::ConsentDecision_Name(c.decision()))
                             .Str("on", DateText(c.on()))
                             .Done());
    }
    for (const auto& t : timers) {
      timer_items.push_back(Json()
                                .Str("fires_on", DateText(t.fires_on()))
                                .Str("kind", TimerKindText(t.kind()))
                                .Str("deadline", t.deadline())
                                .Str("due", DateText(t.due()))
                                .Str("instance_id", t.instance_id())
                                .Done());
    }
    for (const auto& o : outbox) {
      outbox_items.push_back(Json()
                                 .Num("sequence", static_cast<int64_t>(o.sequence))
                                 .Str("topic", o.topic)
                                 .Str("type", o.type)
                                 .Done());
    }
    int64_t n = 0;
    for (const auto& e : *history) {
      Json j;
      j.Num("sequence", n++)
          .Str("event_id", e.event_id())
          .Str("type", PayloadType(e))
          .Str("business_date", EventDay(e, kept))
          .Str("occurred_at", TimestampText(e.occurred_at()))
          .Str("recorded_at", TimestampText(e.recorded_at()))
          .Str("caused_by", e.causation_id());
      if (e.has_command_recorded()) {
        v1::Envelope c;
        if (c.ParseFromString(e.command_recorded().command())) {
          j.Str("command", PayloadType(c))
              .Str("command_event_id", c.event_id())
              .Str("sender", Sender(c));
        }
        j.Str("refused_rule", e.command_recorded().rejected_rule());
      }
      events.push_back(j.Done());
    }
    std::printf("%s\n", Json()
                            .Str("operation_id", audit->id())
                            .Str("subject_key", f.subject)
                            .Num("partition", f.partition)
                            .Bool("erased", st.erased())
                            .Num("definition_version", st.definition_version())
                            .Str("decided_through", BusinessDay(st.decided_through()))
                            .Field("pathways", Array(pathways))
                            .Field("referrals", Array(referrals))
                            .Field("refused_commands", Array(refused))
                            .Field("shared_record", Array(record))
                            .Field("consents", Array(consents))
                            .Field("timers", Array(timer_items))
                            .Field("outbox", Array(outbox_items))
                            .Field("history", Array(events))
                            .Done()
                            .c_str());
  } else {
    std::printf("case %s (partition %d)%s\n", f.subject.c_str(), f.partition,
                st.erased() ? ": ERASED (only the erasure mark is kept)" : "");
    std::printf("  %zu events in its history; decided through %s\n", history->size(),
                BusinessDay(st.decided_through()).c_str());
    std::printf("pathways\n");
    if (st.pathways_size() == 0) std::printf("  none\n");
    for (const auto& p : st.pathways()) {
      std::printf("  %s v%u, instance %s: %s (reference %s, started %s)\n", PathwayName(p).c_str(),
                  p.version(), p.instance_id().c_str(), p.state().c_str(), p.reference().c_str(),
                  DateText(p.started_on()).c_str());
      std::printf("    why: %s\n", WhyText(p, WhyOf(p, *history, kept)).c_str());
      for (const auto& d : p.deadlines()) {
        std::printf("    deadline %s: due %s, %s%s (%s)\n", d.name().c_str(),
                    DateText(d.due()).c_str(), StatusText(d.status()).c_str(),
                    d.has_met_on() ? (" on " + DateText(d.met_on())).c_str() : "",
                    d.rule().c_str());
      }
    }
    if (st.referrals_size() > 0) std::printf("referrals\n");
    for (const auto& r : st.referrals()) {
      std::printf("  %s: %s, received %s from %s\n", r.referral_id().c_str(),
                  v1::ReferralReason_Name(r.reason()).c_str(), DateText(r.received_on()).c_str(),
                  r.referrer_agency().c_str());
    }
    if (st.rejected_size() > 0) std::printf("refused commands\n");
    for (const auto& r : st.rejected()) {
      std::printf("  %s: %s (%s)\n", r.event_id().c_str(), r.rule().c_str(), r.field().c_str());
    }
    if (st.record_facts_size() > 0) {
      std::printf("shared record (provenance; the content is for 'pathwayctl export')\n");
    }
    for (const auto& fact : st.record_facts()) {
      std::printf("  %s from %s, event %s, recorded %s%s\n",
                  workflow::FactTypeName(fact.type()).c_str(), fact.source_agency().c_str(),
                  fact.source_event_id().c_str(), DateText(fact.recorded_on()).c_str(),
                  fact.disputed() ? ", disputed" : "");
    }
    if (st.consents_size() > 0) std::printf("consents\n");
    for (const auto& c : st.consents()) {
      std::printf("  %s for %s: %s on %s\n", c.agency().c_str(), c.purpose().c_str(),
                  v1::ConsentDecision_Name(c.decision()).c_str(), DateText(c.on()).c_str());
    }
    std::printf("pending timers%s\n", timers.empty() ? ": none" : "");
    for (const auto& t : timers) {
      std::printf("  %s %s of %s (due %s), instance %s\n", DateText(t.fires_on()).c_str(),
                  TimerKindText(t.kind()).c_str(), t.deadline().c_str(), DateText(t.due()).c_str(),
                  t.instance_id().c_str());
    }
    std::printf("outbox%s\n", outbox.empty() ? ": nothing waiting to be sent" : "");
    for (const auto& o : outbox) {
      std::printf("  #%llu %s %s\n", static_cast<unsigned long long>(o.sequence), o.topic.c_str(),
                  o.type.c_str());
    }
    std::printf("history (business date | recorded at | event)\n");
    size_t n = st.history_kept_from();
    for (const auto& e : *history) {
      if (e.has_history_trimmed()) {
        const auto& t = e.history_trimmed();
        std::printf(
            "  #%zu | %s | the %llu entries before this were removed: the case closed on "
            "%s (retention of closed cases; docs/operations.md)\n",
            n++, TimestampText(e.recorded_at()).c_str(),
            static_cast<unsigned long long>(t.entries_removed()), DateText(t.closed_on()).c_str());
        continue;
      }
      std::string line = "  #" + std::to_string(n++) + " " + EventDay(e, kept) + " | " +
                         TimestampText(e.recorded_at()) + " | " + PayloadType(e) + " " +
                         e.event_id();
      if (e.has_command_recorded()) {
        v1::Envelope c;
        if (c.ParseFromString(e.command_recorded().command())) {
          line += ": " + PayloadType(c) + " " + c.event_id() + " from " + Sender(c);
        }
        if (!e.command_recorded().rejected_rule().empty()) {
          line += ", refused (" + e.command_recorded().rejected_rule() + ")";
        }
      } else if (!e.causation_id().empty()) {
        line += " (caused by " + e.causation_id() + ")";
      }
      std::printf("%s\n", line.c_str());
    }
  }
  (void)audit->Finish({{"cases", 1}, {"events", history->size()}});
  return kExitOk;
}

}  // namespace pathway::ctl
