// pathwayctl simulate: the engine's workflow code over a JSONL history, in-process.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "services/engine/subject_keyer.h"
#include "services/pathwayctl/cli.h"
#include "services/pathwayctl/commands.h"
#include "services/pathwayctl/json.h"
#include "workflow/clock.h"
#include "workflow/input_limits.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"
#include "workflow/simulator.h"
#include "workflow/workflow.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using workflow::CivilDate;

constexpr std::string_view kUsage =
    "usage: pathwayctl simulate --events FILE.jsonl [--as-of YYYY-MM-DD] [--json]\n"
    "                           [--subject-key-file F] [--warning-lead-days N]\n"
    "                           [--statutory-sharing FILE]\n"
    "\n"
    "Runs the engine's pathway code in-process (no Kafka) over FILE: one inbound\n"
    "Envelope per line in protobuf JSON mapping, in order, each at its occurredAt.\n"
    "Deadline timers fire as the dates pass, up to --as-of (default: the date of the\n"
    "last event). Prints each child's pathways, deadlines, information requests,\n"
    "rejections and warnings; --json prints one JSON document.\n"
    "\n"
    "  --statutory-sharing FILE  sharing the law allows without consent, as the engine\n"
    "                            takes it (e.g. config/statutory_sharing.json; see\n"
    "                            'pathwayctl describe-sharing'). Without it, nothing is\n"
    "                            shared without consent. Reuses and views that rely on a\n"
    "                            rule show its legal basis.\n";

// A fixed key so that simulations are repeatable; real deployments have their own.
constexpr std::string_view kSimulationSecret = "pathway simulate: not a deployment key";

std::string RejectionJson(const v1::Envelope& e) {
  const auto& r = e.command_rejected();
  return Json()
      .Str("event_id", r.rejected_event_id())
      .Str("field", r.field())
      .Str("rule", r.rule())
      .Str("reason", r.reason())
      .Done();
}

// An alias (a UPN or local id) as the engine keeps it: no identifier in clear, the child
// it is linked to, what waits for the link and what was rejected for want of one.
std::string AliasJson(const std::string& key, const workflow::Simulator::Subject& s) {
  std::vector<std::string> held, released;
  for (const auto& h : s.state.held()) {
    held.push_back(Json()
                       .Str("event_id", h.held_event_id())
                       .Str("held_on", DateText(h.held_on()))
                       .Str("expires_on", DateText(h.expires_on()))
                       .Done());
  }
  for (const auto& e : s.events) {
    if (!e.has_held_command_released()) continue;
    released.push_back(Json()
                           .Str("event_id", e.held_command_released().held_event_id())
                           .Str("on", DateText(e.held_command_released().on()))
                           .Done());
  }
  std::vector<std::string> rejections;
  for (const auto& e : s.rejections) rejections.push_back(RejectionJson(e));
  return Json()
      .Str("alias_key", key)
      .Str("kind", KindText(s.state.alias_kind()))
      .Str("linked_subject_key", s.state.linked_subject_key())
      .Field("held", Array(held))
      .Field("released", Array(released))
      .Field("rejections", Array(rejections))
      .Done();
}

std::string SubjectJson(const std::string& key, const workflow::Simulator::Subject& s) {
  std::vector<std::string> pathways;
  for (const auto& p : s.state.pathways()) pathways.push_back(PathwayJson(p));
  std::vector<std::string> requests;
  for (const auto& r : s.state.information_requests()) requests.push_back(RequestJson(r));
  // Tell it once: what the record gave an agency without asking the family.
  std::vector<std::string> reused;
  for (const auto& e : s.events) {
    if (!e.has_fact_reused()) continue;
    const auto& r = e.fact_reused();
    reused.push_back(Json()
                         .Str("fact", workflow::FactTypeName(r.type()))
                         .Str("agency", r.agency())
                         .Str("purpose", r.purpose())
                         .Str("on", DateText(r.on()))
                         .Str("instance_id", r.instance_id())
                         .Str("source_event_id", r.source_event_id())
                         .Str("legal_basis", r.legal_basis())
                         .Done());
  }
  // Who has seen the child's record: every view and reuse, as pathway.audit.v1 has it.
  std::vector<std::string> audit;
  for (const auto& e : s.events) {
    if (auto record = workflow::AuditFor(e)) audit.push_back(AuditJson(record->audit_recorded()));
  }
  std::vector<std::string> rejections;
  for (const auto& e : s.rejections) rejections.push_back(RejectionJson(e));
  std::vector<std::string> warnings;
  for (const auto& e : s.events) {
    if (!e.has_deadline_warning()) continue;
    const auto& w = e.deadline_warning();
    warnings.push_back(Json()
                           .Str("deadline", w.name())
                           .Str("due", DateText(w.due()))
                           .Str("on", DateText(w.on()))
                           .Num("days_left", w.days_left())
                           .Str("instance_id", w.instance_id())
                           .Done());
  }
  // Every step as recorded, implied ones flagged with their data-quality notes.
  std::vector<std::string> steps;
  for (const auto& e : s.events) {
    if (!e.has_pathway_step_recorded()) continue;
    const auto& r = e.pathway_step_recorded();
    std::vector<std::string> notes;
    for (const auto& w : r.warnings()) notes.push_back(Quote(w));
    steps.push_back(Json()
                        .Str("instance_id", r.instance_id())
                        .Str("step", r.step())
                        .Str("on", DateText(r.on()))
                        .Str("from_state", r.from_state())
                        .Str("to_state", r.to_state())
                        .Bool("implied", r.implied())
                        .Field("warnings", Array(notes))
                        .Done());
  }
  // Late commands folded in where they belong: what each changed in what was emitted.
  std::vector<std::string> corrections;
  for (const auto& e : s.outputs) {
    if (!e.has_case_corrected()) continue;
    const auto& c = e.case_corrected();
    std::vector<std::string> deadlines, changed_steps, refusals;
    for (const auto& d : c.deadlines()) {
      auto status = [](v1::DeadlineStatus st) {
        return st == v1::DEADLINE_STATUS_UNSPECIFIED ? std::string("none") : StatusText(st);
      };
      deadlines.push_back(Json()
                              .Str("instance_id", d.instance_id())
                              .Str("name", d.name())
                              .Str("due_before", DateText(d.due_before()))
                              .Str("status_before", status(d.status_before()))
                              .Str("met_on_before", DateText(d.met_on_before()))
                              .Str("due", DateText(d.due()))
                              .Str("status", status(d.status()))
                              .Str("met_on", DateText(d.met_on()))
                              .Done());
    }
    for (const auto& st : c.steps()) {
      changed_steps.push_back(Json()
                                  .Str("instance_id", st.instance_id())
                                  .Str("step", st.step())
                                  .Str("on", DateText(st.on()))
                                  .Bool("implied", st.implied())
                                  .Bool("withdrawn", st.withdrawn())
                                  .Done());
    }
    for (const auto& r : c.rejections()) {
      refusals.push_back(Json()
                             .Str("event_id", r.rejected_event_id())
                             .Str("field", r.field())
                             .Str("rule", r.rule())
                             .Bool("withdrawn", r.withdrawn())
                             .Done());
    }
    corrections.push_back(Json()
                              .Str("caused_by", c.caused_by())
                              .Str("caused_by_on", DateText(c.caused_by_on()))
                              .Field("deadlines", Array(deadlines))
                              .Field("steps", Array(changed_steps))
                              .Field("rejections", Array(refusals))
                              .Done());
  }
  std::vector<std::string> identifiers;
  for (const auto& a : s.state.aliases()) {
    identifiers.push_back(
        Json().Str("kind", KindText(a.kind())).Str("alias_key", a.alias_key()).Done());
  }
  return Json()
      .Str("subject_key", key)
      .Field("identifiers", Array(identifiers))
      .Field("pathways", Array(pathways))
      .Field("steps", Array(steps))
      .Field("information_requests", Array(requests))
      .Field("facts_reused", Array(reused))
      .Field("audit", Array(audit))
      .Field("rejections", Array(rejections))
      .Field("warnings", Array(warnings))
      .Field("corrections", Array(corrections))
      .Done();
}

void PrintText(const workflow::Simulator& sim, CivilDate as_of) {
  std::printf("as of %s\n", workflow::FormatDate(as_of).c_str());
  for (const auto& [key, s] : sim.subjects()) {
    if (s.state.alias_kind() != v1::IDENTIFIER_KIND_UNSPECIFIED) {
      std::printf("\n%s alias %s: %s, %d held\n", KindText(s.state.alias_kind()).c_str(),
                  key.substr(0, 16).c_str(),
                  s.state.linked_subject_key().empty()
                      ? "not linked"
                      : ("linked to " + s.state.linked_subject_key().substr(0, 16)).c_str(),
                  s.state.held_size());
    } else {
      std::printf("\nsubject %s\n", key.substr(0, 16).c_str());
    }
    for (const auto& p : s.state.pathways()) {
      std::printf("  %s v%u [%s] %s\n", PathwayName(p).c_str(), p.version(), p.reference().c_str(),
                  p.state().c_str());
      for (const auto& d : p.deadlines()) {
        std::string by =
            d.status() == v1::DEADLINE_STATUS_SUPERSEDED
                ? " by " + d.superseded_by() + " due " + DateText(d.superseded_by_due())
                : "";
        std::printf("    %-28s due %s  %-9s%s%s\n", d.name().c_str(), DateText(d.due()).c_str(),
                    StatusText(d.status()).c_str(),
                    d.has_met_on() ? (" met " + DateText(d.met_on())).c_str() : "", by.c_str());
      }
      for (const auto& w : p.data_quality()) {
        std::printf("    implied %s on %s: no %s message\n", w.step().c_str(),
                    DateText(w.on()).c_str(), w.missing().c_str());
      }
    }
    for (const auto& r : s.state.information_requests()) {
      std::string asked = workflow::RespondentName(r.asked());
      std::replace(asked.begin(), asked.end(), '_', ' ');
      std::printf("  asked the %s for %s on %s\n", asked.c_str(), r.fact().c_str(),
                  DateText(r.requested_on()).c_str());
    }
    for (const auto& e : s.events) {
      auto audit = workflow::AuditFor(e);
      if (!audit) continue;
      const auto& a = audit->audit_recorded();
      std::string facts;
      for (int t : a.facts()) {
        facts += (facts.empty() ? "" : ", ") + workflow::FactTypeName(static_cast<v1::FactType>(t));
      }
      std::string bases;
      for (const auto& b : a.legal_bases()) bases += (bases.empty() ? "" : "; ") + b;
      std::printf("  %s %s for %s (%s)%s%s: %s%s%s\n", DateText(a.on()).c_str(),
                  a.action() == v1::AUDIT_ACTION_VIEW ? "record viewed" : "fact reused",
                  a.agency().c_str(), a.purpose().c_str(), a.actor_role().empty() ? "" : " by ",
                  a.actor_role().c_str(), facts.empty() ? "nothing consented" : facts.c_str(),
                  bases.empty() ? "" : ", without consent under ", bases.c_str());
    }
    for (const auto& e : s.rejections) {
      std::printf("  rejected %s: %s (%s) %s\n", e.command_rejected().rejected_event_id().c_str(),
                  e.command_rejected().field().c_str(), e.command_rejected().rule().c_str(),
                  e.command_rejected().reason().c_str());
    }
  }
  for (const auto& e : sim.unrouted_rejections()) {
    std::printf("\nrejected %s: %s (%s) %s\n", e.command_rejected().rejected_event_id().c_str(),
                e.command_rejected().field().c_str(), e.command_rejected().rule().c_str(),
                e.command_rejected().reason().c_str());
  }
}
}  // namespace

int RunSimulate(std::span<char* const> args) {
  constexpr std::string_view kCmd = "simulate";
  std::string events_path, as_of_text, key_file, sharing_path;
  std::string lead_text = std::to_string(workflow::kDefaultWarningLeadDays);
  bool json = false, help = false;
  std::vector<Flag> flags = {
      {"--events", true, Store(events_path)},
      {"--as-of", true, Store(as_of_text)},
      {"--json", false, Set(json, true)},
      {"--subject-key-file", true, Store(key_file)},
      {"--help", false, Set(help, true)},
      {"--warning-lead-days", true, Store(lead_text)},
      {"--statutory-sharing", true, Store(sharing_path)},
  };
  std::vector<std::string> positional;
  if (auto error = ParseArgs(args, flags, positional)) return UsageError(kCmd, *error);
  if (help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return kExitOk;
  }
  auto lead = ParsePositiveInt(lead_text);
  if (lead_text != "0" && (!lead || *lead > 365)) {
    return UsageError(kCmd, "--warning-lead-days must be a whole number of days from 0 to 365");
  }
  int lead_days = lead_text == "0" ? 0 : static_cast<int>(*lead);
  if (events_path.empty()) return UsageError(kCmd, "--events is required");
  if (!positional.empty()) return UsageError(kCmd, "unexpected argument '" + positional[0] + "'");
  std::optional<CivilDate> as_of;
  if (!as_of_text.empty()) {
    as_of = workflow::ParseDate(as_of_text);
    if (!as_of) return UsageError(kCmd, "--as-of: expected YYYY-MM-DD, got '" + as_of_text + "'");
  }
  std::string secret(kSimulationSecret);
  engine::SubjectKeyer keyer = engine::SubjectKeyer::FromSecret(secret);
  if (!key_file.empty()) {
    bool created = false;
    auto loaded = engine::SubjectKeyer::Load(key_file, "", &created);
    if (!loaded) return UsageError(kCmd, loaded.error().ToString());
    keyer = std::move(*loaded);
  }

  // Checked before anything is simulated: a bad rule must never be half applied.
  pathway::config::v1::StatutorySharing sharing;
  workflow::DecideOptions options;
  if (!sharing_path.empty()) {
    if (auto error = LoadStatutorySharing(sharing_path, sharing)) {
      PrintErr(kCmd, *error);
      return kExitUsage;
    }
    options.sharing = &sharing;
  }

  std::string input;
  if (auto error = ReadInput(events_path, input)) {
    PrintErr(kCmd, *error);
    return kExitUsage;
  }
  // Parse and check every line before simulating anything.
  std::vector<std::pair<v1::Envelope, TimePoint>> history;
  // The latest time in range: a line whose occurredAt is outside the input limits is
  // rejected at intake, as the engine would, and neither moves the simulated clock nor
  // takes part in the ordering.
  std::optional<TimePoint> latest;
  size_t line_number = 0;
  for (size_t pos = 0; pos < input.size();) {
    size_t end = input.find('\n', pos);
    if (end == std::string::npos) end = input.size();
    std::string_view line(input.data() + pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (Trim(line).empty()) continue;
    v1::Envelope e;
    std::string where = events_path + ":" + std::to_string(line_number) + ": ";
    if (auto error = ParseEnvelopeJson(line, e)) {
      PrintErr(kCmd, where + *error);
      return kExitUsage;
    }
    if (!e.has_occurred_at()) {
      PrintErr(kCmd, where + "occurredAt is required: the simulation runs on event time");
      return kExitUsage;
    }
    TimePoint at{std::chrono::seconds(e.occurred_at().seconds()) +
                 std::chrono::microseconds(e.occurred_at().nanos() / 1000)};
    const bool in_range = workflow::TimestampInRange(e.occurred_at());
    if (in_range && latest && at < *latest) {
      PrintErr(kCmd, where + "occurredAt is earlier than the line before: events must be in order");
      return kExitUsage;
    }
    if (in_range) latest = at;
    history.emplace_back(std::move(e), at);
  }

  workflow::Simulator sim([&keyer](std::string_view nhs) { return keyer.Key(nhs); }, lead_days,
                          options);
  for (auto& [envelope, at] : history) sim.Process(std::move(envelope), at);
  CivilDate until = as_of ? *as_of : (latest ? workflow::LondonDate(*latest) : CivilDate{});
  if (as_of || latest) sim.AdvanceTo(until);

  if (!json) {
    PrintText(sim, until);
    return kExitOk;
  }
  std::vector<std::string> subjects;
  std::vector<std::string> aliases;
  for (const auto& [key, s] : sim.subjects()) {
    if (s.state.alias_kind() != v1::IDENTIFIER_KIND_UNSPECIFIED) {
      aliases.push_back(AliasJson(key, s));
    } else {
      subjects.push_back(SubjectJson(key, s));
    }
  }
  std::vector<std::string> unrouted;
  for (const auto& e : sim.unrouted_rejections()) unrouted.push_back(RejectionJson(e));
  std::string doc = Json()
                        .Str("as_of", workflow::FormatDate(until))
                        .Field("subjects", Array(subjects))
                        .Field("aliases", Array(aliases))
                        .Field("unrouted_rejections", Array(unrouted))
                        .Done();
  doc += "\n";
  std::fwrite(doc.data(), 1, doc.size(), stdout);
  return kExitOk;
}

}  // namespace pathway::ctl
