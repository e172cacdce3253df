#include "services/operations/inspection.h"

#include <cstdarg>
#include <cstdio>
#include <map>
#include <utility>

#include "services/operations/report_json.h"
#include "workflow/shared_record.h"

namespace pathway::operations {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using namespace report;  // NOLINT(google-build-using-namespace)

[[gnu::format(printf, 2, 3)]] void Printf(std::string& out, const char* format, ...) {
  char small[512];
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(small, sizeof small, format, args);
  va_end(args);
  if (n < 0) {
    va_end(again);
    return;
  }
  if (static_cast<size_t>(n) < sizeof small) {
    out.append(small, static_cast<size_t>(n));
  } else {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), format, again);
    big.resize(static_cast<size_t>(n));
    out += big;
  }
  va_end(again);
}

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

// The kept commands of the history, by event id.
std::map<std::string, Kept> KeptCommands(const std::vector<v1::Envelope>& history) {
  std::map<std::string, Kept> kept;
  for (const auto& e : history) {
    if (!e.has_command_recorded()) continue;
    Kept k;
    if (k.command.ParseFromString(e.command_recorded().command())) {
      k.order = e.command_recorded().order();
      kept[k.command.event_id()] = std::move(k);
    }
  }
  return kept;
}

}  // namespace

Result<CaseInspection> LoadInspection(state::CaseStore& cases, int32_t partition,
                                      std::string subject, store::CaseState state) {
  CaseInspection c;
  c.partition = partition;
  c.subject = std::move(subject);
  c.state = std::move(state);
  auto history = cases.HistoryFrom(c.subject, c.state.history_kept_from());
  if (!history) return history.error();
  c.history = std::move(*history);
  // Timers are keyed by the day they fire, not by child: one scan of the partition's.
  Status scanned =
      cases.Scan(state::ColumnFamily::kTimers, [&](std::string_view, std::string_view value) {
        store::Timer t;
        if (t.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
            t.subject_key() == c.subject) {
          c.timers.push_back(std::move(t));
        }
      });
  if (!scanned) return scanned.error();
  for (uint64_t from = 0;;) {
    auto items = cases.ReadOutbox(from, 512);
    if (!items) return items.error();
    for (const auto& item : *items) {
      if (item.entry.changelog() || item.entry.key() != c.subject) continue;
      v1::Envelope e;
      std::string type = e.ParseFromString(item.entry.value()) ? PayloadType(e) : "";
      c.outbox.push_back({item.sequence, item.entry.topic(), std::move(type)});
    }
    if (items->size() < 512) break;
    from = items->back().sequence + 1;
  }
  return c;
}

std::string InspectionJson(const CaseInspection& in, std::string_view operation_id) {
  const std::map<std::string, Kept> kept = KeptCommands(in.history);
  const store::CaseState& st = in.state;
  std::vector<std::string> pathways;
  for (const auto& p : st.pathways()) {
    const Why why = WhyOf(p, in.history, kept);
    pathways.push_back(Json()
                           .Field("instance", PathwayJson(p))
                           .Str("why", WhyText(p, why))
                           .Str("caused_by", why.command ? why.command->command.event_id() : "")
                           .Done());
  }
  std::vector<std::string> referrals, refused, record, consents, timer_items, outbox_items, events;
  for (const auto& r : st.referrals()) {
    referrals.push_back(Json()
                            .Str("referral_id", r.referral_id())
                            .Str("reason", v1::ReferralReason_Name(r.reason()))
                            .Str("received_on", DateText(r.received_on()))
                            .Str("referrer_agency", r.referrer_agency())
                            .Done());
  }
  for (const auto& r : st.rejected()) {
    refused.push_back(
        Json().Str("event_id", r.event_id()).Str("field", r.field()).Str("rule", r.rule()).Done());
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
  for (const auto& t : in.timers) {
    timer_items.push_back(Json()
                              .Str("fires_on", DateText(t.fires_on()))
                              .Str("kind", TimerKindText(t.kind()))
                              .Str("deadline", t.deadline())
                              .Str("due", DateText(t.due()))
                              .Str("instance_id", t.instance_id())
                              .Done());
  }
  for (const auto& o : in.outbox) {
    outbox_items.push_back(Json()
                               .Num("sequence", static_cast<int64_t>(o.sequence))
                               .Str("topic", o.topic)
                               .Str("type", o.type)
                               .Done());
  }
  int64_t n = 0;
  for (const auto& e : in.history) {
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
  return Json()
      .Str("operation_id", std::string(operation_id))
      .Str("subject_key", in.subject)
      .Num("partition", in.partition)
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
      .Done();
}

std::string InspectionText(const CaseInspection& in) {
  const std::map<std::string, Kept> kept = KeptCommands(in.history);
  const store::CaseState& st = in.state;
  std::string out;
  Printf(out, "case %s (partition %d)%s\n", in.subject.c_str(), in.partition,
         st.erased() ? ": ERASED (only the erasure mark is kept)" : "");
  Printf(out, "  %zu events in its history; decided through %s\n", in.history.size(),
         BusinessDay(st.decided_through()).c_str());
  Printf(out, "pathways\n");
  if (st.pathways_size() == 0) Printf(out, "  none\n");
  for (const auto& p : st.pathways()) {
    Printf(out, "  %s v%u, instance %s: %s (reference %s, started %s)\n", PathwayName(p).c_str(),
           p.version(), p.instance_id().c_str(), p.state().c_str(), p.reference().c_str(),
           DateText(p.started_on()).c_str());
    Printf(out, "    why: %s\n", WhyText(p, WhyOf(p, in.history, kept)).c_str());
    for (const auto& d : p.deadlines()) {
      Printf(out, "    deadline %s: due %s, %s%s (%s)\n", d.name().c_str(),
             DateText(d.due()).c_str(), StatusText(d.status()).c_str(),
             d.has_met_on() ? (" on " + DateText(d.met_on())).c_str() : "", d.rule().c_str());
    }
  }
  if (st.referrals_size() > 0) Printf(out, "referrals\n");
  for (const auto& r : st.referrals()) {
    Printf(out, "  %s: %s, received %s from %s\n", r.referral_id().c_str(),
           v1::ReferralReason_Name(r.reason()).c_str(), DateText(r.received_on()).c_str(),
           r.referrer_agency().c_str());
  }
  if (st.rejected_size() > 0) Printf(out, "refused commands\n");
  for (const auto& r : st.rejected()) {
    Printf(out, "  %s: %s (%s)\n", r.event_id().c_str(), r.rule().c_str(), r.field().c_str());
  }
  if (st.record_facts_size() > 0) {
    Printf(out, "shared record (provenance; the content is for 'pathwayctl export')\n");
  }
  for (const auto& fact : st.record_facts()) {
    Printf(out, "  %s from %s, event %s, recorded %s%s\n",
           workflow::FactTypeName(fact.type()).c_str(), fact.source_agency().c_str(),
           fact.source_event_id().c_str(), DateText(fact.recorded_on()).c_str(),
           fact.disputed() ? ", disputed" : "");
  }
  if (st.consents_size() > 0) Printf(out, "consents\n");
  for (const auto& c : st.consents()) {
    Printf(out, "  %s for %s: %s on %s\n", c.agency().c_str(), c.purpose().c_str(),
           v1::ConsentDecision_Name(c.decision()).c_str(), DateText(c.on()).c_str());
  }
  Printf(out, "pending timers%s\n", in.timers.empty() ? ": none" : "");
  for (const auto& t : in.timers) {
    Printf(out, "  %s %s of %s (due %s), instance %s\n", DateText(t.fires_on()).c_str(),
           TimerKindText(t.kind()).c_str(), t.deadline().c_str(), DateText(t.due()).c_str(),
           t.instance_id().c_str());
  }
  Printf(out, "outbox%s\n", in.outbox.empty() ? ": nothing waiting to be sent" : "");
  for (const auto& o : in.outbox) {
    Printf(out, "  #%llu %s %s\n", static_cast<unsigned long long>(o.sequence), o.topic.c_str(),
           o.type.c_str());
  }
  Printf(out, "history (business date | recorded at | event)\n");
  size_t n = st.history_kept_from();
  for (const auto& e : in.history) {
    if (e.has_history_trimmed()) {
      const auto& t = e.history_trimmed();
      Printf(out,
             "  #%zu | %s | the %llu entries before this were removed: the case closed on "
             "%s (retention of closed cases; docs/operations.md)\n",
             n++, TimestampText(e.recorded_at()).c_str(),
             static_cast<unsigned long long>(t.entries_removed()), DateText(t.closed_on()).c_str());
      continue;
    }
    std::string line = "  #" + std::to_string(n++) + " " + EventDay(e, kept) + " | " +
                       TimestampText(e.recorded_at()) + " | " + PayloadType(e) + " " + e.event_id();
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
    Printf(out, "%s\n", line.c_str());
  }
  return out;
}

}  // namespace pathway::operations
