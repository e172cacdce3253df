#include "workflow/case_step.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "common/crypto.h"
#include "workflow/clock.h"
#include "workflow/erasure.h"
#include "workflow/event_identity.h"
#include "workflow/identity.h"
#include "workflow/pathway.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

CaseStep Refuse(const v1::Envelope& command, Rejection rejection, TimePoint now) {
  CaseStep step;
  step.outputs.push_back({Sink::kRejections, MakeRejection(command, rejection, now)});
  step.rejection = std::move(rejection);
  return step;
}

Rejection HistoryLimit(const store::CaseState& state, const StepSettings& settings) {
  return {"subject_key", "history_limit",
          "this case already holds " + std::to_string(HeldHistoryLength(state)) +
              " events and the limit per case is " + std::to_string(settings.max_history_per_case) +
              ": an operator must archive the case before more can be recorded"};
}

Rejection TrimmedRejection(const v1::Envelope& command, const v1::HistoryTrimmed& trimmed) {
  std::string reason = "this case closed on ";
  const auto closed = ToCivil(trimmed.closed_on());
  reason += closed ? FormatDate(*closed) : "an earlier day";
  reason +=
      " and its history up to then was removed under the retention of closed cases: a "
      "command dated before then can no longer be decided; ask the partnership's operations "
      "team to record the change";
  return {CommandDateField(command), "history.trimmed", std::move(reason)};
}

// Folds `events` into `state` and plans every output they cause, in a fixed order per
// event: the commands it sends on and the rejections it causes (committed with it, so
// neither is lost nor sent without it), the event itself, then its audit record. A
// kept command (CommandRecorded) stays in the history; a correction goes out without
// the state it carries. `folded`: `state` with `events` already applied, if the caller
// has it (InOrder folds them to decide), so that they are not applied twice.
void Record(CaseStep& step, const std::string& subject_key, const store::CaseState& state,
            std::vector<v1::Envelope> events, TimePoint now, const StepSettings& settings,
            std::optional<store::CaseState> folded = std::nullopt) {
  TimerChanges changes = TimersFor(subject_key, state, events, settings.warning_lead_days);
  for (auto& t : changes.add) step.timers.add.push_back(std::move(t));
  for (auto& t : changes.remove) step.timers.remove.push_back(std::move(t));
  // The emissions of a few events depend on the case just before them: only then is
  // the case folded here, event by event.
  const bool fold = !folded || std::any_of(events.begin(), events.end(), EmissionsReadCase);
  store::CaseState current;
  if (fold) current = state;
  step.outputs.reserve(step.outputs.size() + 2 * events.size());
  for (const auto& event : events) {
    // The subject's key is forgotten in this commit: nothing may be sealed after.
    if (event.has_erasure_completed()) step.erase_subject = true;
    Emissions emitted = EmissionsFor(fold ? current : state, event, now);
    for (auto& c : emitted.commands) {
      // A released command is what a partner sent: sealed at rest and on the changelog.
      const bool partners = event.has_held_command_released();
      step.outputs.push_back({Sink::kCommands, std::move(c), false, partners});
    }
    for (auto& r : emitted.rejections) step.outputs.push_back({Sink::kRejections, std::move(r)});
    if (fold) Apply(current, event);
    if (event.has_command_recorded() || event.has_commands_withdrawn() ||
        event.has_pathways_migrated()) {
      continue;
    }
    v1::Envelope published = PublishedCopy(event);
    if (published.has_case_corrected()) published.mutable_case_corrected()->clear_state();
    step.outputs.push_back({Sink::kEvents, std::move(published), /*seal_fields=*/true});
    // Views and reuses of the shared record are audited in the same commit.
    if (auto audit = AuditFor(event)) step.outputs.push_back({Sink::kAudit, std::move(*audit)});
  }
  if (step.history.empty()) {
    step.history = std::move(events);
  } else {
    for (auto& e : events) step.history.push_back(std::move(e));
  }
  step.new_state = fold ? std::move(current) : std::move(*folded);
}

std::optional<CivilDate> DateOf(const v1::Date* date) {
  return date ? ToCivil(*date) : std::nullopt;
}

// The command's business date: what CommandOrder sorts by first.
std::optional<CivilDate> BusinessDay(const v1::Envelope& c) {
  if (const CommandRoute* route = FindCommandRoute(c)) {
    if (auto d = DateOf(CommandDate(*route, c))) return d;
  } else if (c.has_fact_provided() && c.fact_provided().has_provided_on()) {
    if (auto d = ToCivil(c.fact_provided().provided_on())) return d;
  } else if (c.has_consent_recorded() && c.consent_recorded().has_recorded_on()) {
    if (auto d = ToCivil(c.consent_recorded().recorded_on())) return d;
  } else if (c.has_record_view_requested() && c.record_view_requested().has_requested_on()) {
    if (auto d = ToCivil(c.record_view_requested().requested_on())) return d;
  }
  return CommandDay(c);
}

// Record commands first on a day (a fact given that day serves that day's steps),
// then pathway steps in their definition's order (a meeting scheduled before held).
int Rank(const v1::Envelope& c) {
  const CommandRoute* route = FindCommandRoute(c);
  if (!route) return 100;
  const Definition* d = LatestDefinition(route->kind);
  int index = 0;
  if (d) {
    for (size_t i = 0; i < d->transitions.size(); ++i) {
      if (d->transitions[i].step == route->step) index = static_cast<int>(i);
    }
  }
  return 300 + std::min(index, 699);
}

v1::Envelope Kept(const v1::Envelope& command, const std::string& order,
                  const std::optional<Rejection>& rejection, TimePoint now) {
  v1::Envelope e = CausedEnvelope(command, now);
  e.set_event_id(KeptCommandId(CommandIdentity(command)));
  v1::CommandRecorded* r = e.mutable_command_recorded();
  r->set_command(command.SerializeAsString());
  r->set_order(order);
  if (rejection) {
    r->set_rejected_field(rejection->field);
    r->set_rejected_rule(rejection->rule);
  }
  return e;
}

// Fires, in order, every deadline timer of `state` due on or before `up_to`, folding
// each event into `state` and appending it (and the timer) to the outputs given.
void FireDue(const std::string& subject, store::CaseState& state, CivilDate up_to, TimePoint now,
             const StepSettings& settings, std::vector<v1::Envelope>& events,
             std::vector<store::Timer>* fired) {
  // Only the timers due by `up_to` are built (most commands arrive before any is due),
  // and no warning already given.
  const int lead = settings.warning_lead_days;
  size_t all = 0;
  std::vector<store::Timer> timers = TimersToFire(subject, state, lead, up_to, all);
  // Bounded: each pass fires one timer, which leaves its deadline warned or breached,
  // so it is not due again; at most two timers per deadline.
  const size_t bound = 2 * all + 1;
  for (size_t pass = 0; pass < bound; ++pass) {
    // A fired timer changes the case's deadlines: the timers are worked out again.
    if (pass > 0) timers = TimersToFire(subject, state, lead, up_to, all);
    bool any = false;
    for (const auto& timer : timers) {
      auto on = ToCivil(timer.fires_on());
      if (!on || std::chrono::sys_days{*on} > std::chrono::sys_days{up_to}) break;
      std::vector<v1::Envelope> out = FireTimer(state, timer, now);
      if (out.empty()) continue;  // a warning already given
      for (auto& e : out) {
        Apply(state, e);
        events.push_back(std::move(e));
      }
      if (fired) fired->push_back(timer);
      any = true;
      break;
    }
    if (!any) return;
  }
}

struct Folded {
  std::vector<v1::Envelope> events;    // timers due first, the kept command, its events
  std::vector<store::Timer> fired;     // the timers fired
  std::optional<Rejection> rejection;  // the command's, if refused
};

// One re-decidable command in business-date order: the timers due by its date fire
// first (as they would have, had it arrived in order), then it is decided with
// `options` and kept. `decided`: the command already decided on `state` with `options`,
// reused unless a timer fires first that changes what a decision reads (deciding is
// most of a command's cost). Without `keep_events`, the CommandRecorded is only folded
// into the case (re-deciding, where the correction keeps the late command), so it is not
// built in full where Apply reads only its order.
Folded FoldCommand(store::CaseState& state, const v1::Envelope& command, const std::string& order,
                   TimePoint now, const StepSettings& settings, const DecideOptions& options,
                   bool keep_events = true, Decision* decided = nullptr) {
  Folded f;
  if (auto day = BusinessDay(command)) {
    FireDue(command.subject_key(), state, *day, now, settings, f.events, &f.fired);
  }
  // A warning only marks its deadline warned and advances the history and
  // decided_through, none of which a pathway command's decision reads: the decision made
  // before it stands. A breach changes the deadline's status, which decisions read.
  const bool same = decided && std::all_of(f.events.begin(), f.events.end(),
                                           [](const auto& e) { return e.has_deadline_warning(); });
  Decision decision = same ? std::move(*decided) : Decide(state, command, now, options);
  f.rejection = decision.rejection;
  if (keep_events || decision.rejection) {
    f.events.push_back(Kept(command, order, decision.rejection, now));
    Apply(state, f.events.back());
  } else {
    v1::Envelope kept;
    kept.mutable_command_recorded()->set_order(order);
    Apply(state, kept);
  }
  for (auto& e : decision.events) {
    Apply(state, e);
    f.events.push_back(std::move(e));
  }
  return f;
}

// A date as the views print it ("-" when unset), with the calendar's own formatting.
std::string Format(const v1::Date& d) { return d.year() ? FormatDate(StoredDate(d)) : "-"; }

std::string DeadlineValue(const v1::Date& due, v1::DeadlineStatus status, const v1::Date& met_on) {
  return Format(due) + " " + v1::DeadlineStatus_Name(status) + " " + Format(met_on);
}

std::string StepKey(const std::string& instance, const std::string& step, const v1::Date& on,
                    bool implied) {
  return instance + "|" + step + "|" + Format(on) + "|" + (implied ? "implied" : "reported");
}

// The differences between the case as it was and as re-decided.
void Diff(const store::CaseState& before, const store::CaseState& after, v1::CaseCorrected& out) {
  // Deadlines, by instance and name (the latest of a name counts, as in Apply).
  std::map<std::string, std::pair<const store::Deadline*, const store::Deadline*>> deadlines;
  std::map<std::string, std::pair<std::string, std::string>> names;
  for (const auto& p : before.pathways()) {
    for (const auto& d : p.deadlines()) {
      deadlines[p.instance_id() + "|" + d.name()].first = &d;
      names[p.instance_id() + "|" + d.name()] = {p.instance_id(), d.name()};
    }
  }
  for (const auto& p : after.pathways()) {
    for (const auto& d : p.deadlines()) {
      deadlines[p.instance_id() + "|" + d.name()].second = &d;
      names[p.instance_id() + "|" + d.name()] = {p.instance_id(), d.name()};
    }
  }
  for (const auto& [key, pair] : deadlines) {
    const auto* b = pair.first;
    const auto* a = pair.second;
    store::Deadline none;
    const store::Deadline& old_d = b ? *b : none;
    const store::Deadline& new_d = a ? *a : none;
    if (DeadlineValue(old_d.due(), old_d.status(), old_d.met_on()) ==
            DeadlineValue(new_d.due(), new_d.status(), new_d.met_on()) &&
        old_d.superseded_by() == new_d.superseded_by()) {
      continue;
    }
    v1::DeadlineCorrection* c = out.add_deadlines();
    c->set_instance_id(names[key].first);
    c->set_name(names[key].second);
    if (b) {
      *c->mutable_due_before() = b->due();
      c->set_status_before(b->status());
      if (b->has_met_on()) *c->mutable_met_on_before() = b->met_on();
    }
    if (a) {
      *c->mutable_due() = a->due();
      c->set_status(a->status());
      if (a->has_met_on()) *c->mutable_met_on() = a->met_on();
      c->set_superseded_by(a->superseded_by());
    }
  }
  // Steps, as multisets per instance.
  std::map<std::string, std::pair<std::multiset<std::string>, std::multiset<std::string>>> steps;
  std::map<std::string, const store::StepTaken*> taken;
  std::map<std::string, const store::PathwayInstance*> instances;
  for (const auto& p : before.pathways()) {
    for (const auto& s : p.steps()) {
      std::string k = StepKey(p.instance_id(), s.step(), s.on(), s.implied());
      steps[p.instance_id()].first.insert(k);
      taken[k] = &s;
    }
    instances.try_emplace(p.instance_id(), &p);
  }
  for (const auto& p : after.pathways()) {
    for (const auto& s : p.steps()) {
      std::string k = StepKey(p.instance_id(), s.step(), s.on(), s.implied());
      steps[p.instance_id()].second.insert(k);
      taken[k] = &s;
    }
    instances[p.instance_id()] = &p;
  }
  for (const auto& entry : steps) {
    // Named, not bound: lambdas may not capture structured bindings before clang 16.
    const std::string& instance = entry.first;
    const auto& sets = entry.second;
    auto emit = [&](const std::multiset<std::string>& from, const std::multiset<std::string>& to,
                    bool withdrawn) {
      std::multiset<std::string> diff;
      std::set_difference(from.begin(), from.end(), to.begin(), to.end(),
                          std::inserter(diff, diff.end()));
      for (const auto& k : diff) {
        const store::StepTaken* s = taken[k];
        v1::StepCorrection* c = out.add_steps();
        c->set_instance_id(instance);
        c->set_pathway(instances[instance]->pathway());
        c->set_step(s->step());
        *c->mutable_on() = s->on();
        c->set_implied(s->implied());
        c->set_withdrawn(withdrawn);
        c->set_state(instances[instance]->state());
      }
    };
    emit(sets.second, sets.first, false);  // recorded now
    emit(sets.first, sets.second, true);   // recorded before only
  }
  // Refusals, by event id.
  std::map<std::string, const store::RejectedCommand*> old_r, new_r;
  for (const auto& r : before.rejected()) old_r[r.event_id()] = &r;
  for (const auto& r : after.rejected()) new_r[r.event_id()] = &r;
  for (const auto& [id, r] : new_r) {
    if (old_r.count(id)) continue;
    auto* c = out.add_rejections();
    c->set_rejected_event_id(id);
    c->set_field(r->field());
    c->set_rule(r->rule());
  }
  for (const auto& [id, r] : old_r) {
    if (new_r.count(id)) continue;
    auto* c = out.add_rejections();
    c->set_rejected_event_id(id);
    c->set_field(r->field());
    c->set_rule(r->rule());
    c->set_withdrawn(true);
  }
}

// Every deadline timer of `before` not in `after` is removed, and the reverse added.
TimerChanges TimerDelta(const std::string& subject, const store::CaseState& before,
                        const store::CaseState& after, int lead_days) {
  TimerChanges changes;
  auto old_t = DeadlineTimersOf(subject, before, lead_days);
  auto new_t = DeadlineTimersOf(subject, after, lead_days);
  std::set<std::string> old_s, new_s;
  for (const auto& t : old_t) old_s.insert(t.SerializeAsString());
  for (const auto& t : new_t) new_s.insert(t.SerializeAsString());
  for (auto& t : old_t) {
    if (!new_s.count(t.SerializeAsString())) changes.remove.push_back(t);
  }
  for (auto& t : new_t) {
    if (!old_s.count(t.SerializeAsString())) changes.add.push_back(t);
  }
  return changes;
}

struct Redecided {
  // Re-decided, every timer due by now fired; its needs and requests are the case's
  // own, as the correction carries them.
  store::CaseState folded;
  std::optional<Rejection> rejection;       // the late command's, if refused
  std::vector<v1::Envelope> record_events;  // what the late command's needs decided
  // The case the correction carries (serialised): without what the late command's
  // needs did, which follows as events of their own (so the family is asked, or a fact
  // reused, openly).
  std::string carried;
};

// The case re-decided from its kept commands and `command` (null: none new), in
// business-date order, for `subject`.
Redecided Redecide(const std::string& subject, const store::CaseState& state,
                   const v1::Envelope* command, const std::string& order,
                   const std::vector<v1::Envelope>& log, TimePoint now,
                   const StepSettings& settings) {
  std::vector<std::pair<std::string, const v1::Envelope*>> commands;
  commands.reserve(log.size() + 1);
  // A trimmed history re-decides from the case as it stood at the trim (CommandsOf puts
  // that first), not from nothing.
  std::optional<store::CaseState> base;
  if (!log.empty() && log.front().has_history_trimmed()) {
    base.emplace();
    (void)base->ParseFromString(log.front().history_trimmed().state());
  }
  // Each command once: a log read after a crash may hold this very command already.
  std::set<std::string> identities;
  if (command) identities.insert(CommandIdentity(*command));
  for (const auto& c : log) {
    if (c.has_history_trimmed()) continue;
    if (identities.insert(CommandIdentity(c)).second) commands.emplace_back(CommandOrder(c), &c);
  }
  if (command) commands.emplace_back(order, command);
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  // Who the case is (aliases, holds) and the shared record (facts, consents, needs,
  // requests) are decided as commands arrive, never re-decided (decision 82): kept.
  store::CaseState folded = state;
  folded.clear_definition_version();
  folded.clear_referrals();
  folded.clear_date_of_birth();
  folded.clear_pathways();
  folded.clear_decided_through();
  folded.clear_rejected();
  if (base) {
    folded.set_definition_version(base->definition_version());
    *folded.mutable_referrals() = std::move(*base->mutable_referrals());
    if (base->has_date_of_birth()) *folded.mutable_date_of_birth() = base->date_of_birth();
    *folded.mutable_pathways() = std::move(*base->mutable_pathways());
    folded.set_decided_through(base->decided_through());
    *folded.mutable_rejected() = std::move(*base->mutable_rejected());
  }
  // Every step the commands report, with its date: none is implied earlier than that.
  std::vector<KnownStep> known;
  for (const auto& [key, c] : commands) {
    const CommandRoute* route = FindCommandRoute(*c);
    const v1::Date* date = route ? CommandDate(*route, *c) : nullptr;
    if (auto on = DateOf(date)) {
      known.push_back({route->kind, CommandReference(*route, *c), std::string(route->step), *on});
    }
  }
  // Each instance re-decided keeps the version it started with (decision 128): a case
  // re-decided from nothing would otherwise start them all on the latest definition.
  // Pins the caller gives (a migration's) win.
  std::map<std::string, uint32_t> pins;
  for (const auto& p : state.pathways()) pins.emplace(p.instance_id(), p.version());
  for (const auto& p : folded.pathways()) pins.emplace(p.instance_id(), p.version());
  if (settings.decide.versions) {
    for (const auto& [id, version] : *settings.decide.versions) pins[id] = version;
  }
  // Needs are decided for the late command only.
  DecideOptions replay = settings.decide;
  replay.decide_needs = false;
  replay.known_steps = &known;
  replay.versions = &pins;
  DecideOptions late_options = replay;
  late_options.decide_needs = true;
  replay.whole_events = false;  // only the late command's events are kept
  Redecided r;
  for (const auto& [key, c] : commands) {
    const bool late = c == command;
    // No CommandRecorded is kept from here: the correction keeps the late command.
    Folded f = FoldCommand(folded, *c, key, now, settings, late ? late_options : replay, false);
    if (!late) continue;
    r.rejection = f.rejection;
    for (auto& e : f.events) {
      if (e.has_fact_needed() || e.has_fact_reused() || e.has_information_requested()) {
        r.record_events.push_back(std::move(e));
      }
    }
  }
  std::vector<v1::Envelope> ignored;
  FireDue(subject, folded, LondonDate(now), now, settings, ignored, nullptr);
  // Made into what the correction carries in place: Diff and TimerDelta read only its
  // pathways and refusals.
  folded.set_history_length(0);
  *folded.mutable_open_needs() = state.open_needs();
  *folded.mutable_information_requests() = state.information_requests();
  r.carried = folded.SerializeAsString();
  r.folded = std::move(folded);
  return r;
}

// `state` once Correct's events are applied, as Apply folds them: the command kept, then
// the correction, which replaces the case with the one it carries (the history goes on
// counting), then what the late command's needs decided.
store::CaseState Corrected(const store::CaseState& state, const Redecided& r) {
  store::CaseState out;
  (void)out.ParseFromString(r.carried);
  out.set_history_length(state.history_length() + 2);
  for (const auto& e : r.record_events) Apply(out, e);
  return out;
}

// The step that keeps `command` and corrects the case from `state` to `r`.
// `corrected_state`: Corrected(state, r).
CaseStep Correct(const store::CaseState& state, const v1::Envelope& command,
                 const std::string& order, Redecided r, store::CaseState corrected_state,
                 TimePoint now, const StepSettings& settings) {
  v1::Envelope corrected = CausedEnvelope(command, now);
  corrected.set_event_id(DerivedEventId("corrected|" + CommandIdentity(command), 0));
  v1::CaseCorrected* c = corrected.mutable_case_corrected();
  c->set_caused_by(command.event_id());
  if (auto day = BusinessDay(command)) *c->mutable_caused_by_on() = ToProto(*day);
  Diff(state, r.folded, *c);

  CaseStep step;
  const std::optional<Rejection>& rejection = r.rejection;
  step.rejection = rejection;
  step.timers = TimerDelta(command.subject_key(), state, r.folded, settings.warning_lead_days);
  c->set_state(std::move(r.carried));
  std::vector<v1::Envelope> events;
  events.push_back(Kept(command, order, rejection, now));
  events.push_back(std::move(corrected));
  for (auto& e : r.record_events) events.push_back(std::move(e));
  TimerChanges delta = std::move(step.timers);
  step.timers = {};
  Record(step, command.subject_key(), state, std::move(events), now, settings,
         std::move(corrected_state));
  step.timers = std::move(delta);
  if (rejection) {
    step.outputs.push_back({Sink::kRejections, MakeRejection(command, *rejection, now)});
  }
  return step;
}

// `state` once every timer due by the day of `now` has fired: `state` itself if none is
// due, else `later`, a copy that fired them.
const store::CaseState& Today(const std::string& subject, const store::CaseState& state,
                              TimePoint now, const StepSettings& settings,
                              std::optional<store::CaseState>& later) {
  const CivilDate today = LondonDate(now);
  const auto first = FirstTimerToFire(state, settings.warning_lead_days);
  if (!first || std::chrono::sys_days{*first} > std::chrono::sys_days{today}) return state;
  later = state;
  std::vector<v1::Envelope> ignored;
  FireDue(subject, *later, today, now, settings, ignored, nullptr);
  return *later;
}

// Whether `command` reports a step its instance recorded as implied: the case is then
// re-decided, so that the reported date wins over the implied one in any arrival order.
bool ReportsAnImpliedStep(const store::CaseState& state, const v1::Envelope& command) {
  const CommandRoute* route = FindCommandRoute(command);
  if (!route) return false;
  const std::string reference = CommandReference(*route, command);
  for (const auto& p : state.pathways()) {
    if (p.pathway() != route->kind || p.reference() != reference) continue;
    for (const auto& s : p.implied_steps()) {
      if (s == route->step) return true;
    }
  }
  return false;
}

// The step for a command that sorts after all the case decided (or commutes with
// what it sorts before): timers due by its date, then its decision, kept.
// `folded` and `f`: FoldCommand of `command` onto `state` (with settings.decide).
CaseStep InOrder(const store::CaseState& state, const v1::Envelope& command, TimePoint now,
                 const StepSettings& settings, store::CaseState folded, Folded f) {
  if (HeldHistoryLength(state) + f.events.size() > settings.max_history_per_case) {
    return Refuse(command, HistoryLimit(state, settings), now);
  }
  CaseStep step;
  step.rejection = f.rejection;
  Record(step, command.subject_key(), state, std::move(f.events), now, settings, std::move(folded));
  for (auto& t : f.fired) step.timers.remove.push_back(std::move(t));
  if (f.rejection) {
    step.outputs.push_back({Sink::kRejections, MakeRejection(command, *f.rejection, now)});
  }
  return step;
}

// A re-drive (CaseRedriveRequested): the case re-decided from `log` without the
// commands it names, which are withdrawn for good; the differences go out as one
// CaseCorrected caused by it. Nothing at all when nothing changes, so a re-drive sent
// again (a run killed and run again) emits nothing twice.
CaseStep Redrive(const store::CaseState& state, const v1::Envelope& command,
                 const std::vector<v1::Envelope>& log, TimePoint now,
                 const StepSettings& settings) {
  const std::string& subject = command.subject_key();
  const v1::CaseRedriveRequested& request = command.case_redrive_requested();
  const std::set<std::string> named(request.withdraw_event_ids().begin(),
                                    request.withdraw_event_ids().end());
  std::vector<v1::Envelope> kept;
  std::vector<std::string> withdrawn;
  // Two partner systems may use one event id for one child: only the named system's go.
  const std::string& system = request.withdraw_source_system();
  for (const auto& c : log) {
    if (named.count(c.event_id()) && (system.empty() || c.source().system() == system)) {
      withdrawn.push_back(c.event_id());
    } else {
      kept.push_back(c);
    }
  }
  Redecided redecided = Redecide(subject, state, nullptr, "", kept, now, settings);
  std::optional<store::CaseState> later;
  const bool same =
      CanonicalCase(Today(subject, state, now, settings, later)) == CanonicalCase(redecided.folded);
  if (same && withdrawn.empty()) return CaseStep{};
  if (HeldHistoryLength(state) + 2 > settings.max_history_per_case) {
    return Refuse(command, HistoryLimit(state, settings), now);
  }
  std::vector<v1::Envelope> events;
  if (!withdrawn.empty()) {
    v1::Envelope w = CausedEnvelope(command, now);
    w.set_event_id(DerivedEventId("withdrawn|" + CommandIdentity(command), 0));
    v1::CommandsWithdrawn* marker = w.mutable_commands_withdrawn();
    for (auto& id : withdrawn) marker->add_event_ids(std::move(id));
    marker->set_operation_id(request.operation_id());
    marker->set_source_system(system);
    events.push_back(std::move(w));
  }
  TimerChanges delta;
  if (!same) {
    v1::Envelope corrected = CausedEnvelope(command, now);
    corrected.set_event_id(DerivedEventId("corrected|" + CommandIdentity(command), 0));
    v1::CaseCorrected* c = corrected.mutable_case_corrected();
    c->set_caused_by(command.event_id());
    if (auto day = CommandDay(command)) *c->mutable_caused_by_on() = ToProto(*day);
    Diff(state, redecided.folded, *c);
    delta = TimerDelta(subject, state, redecided.folded, settings.warning_lead_days);
    c->set_state(std::move(redecided.carried));
    events.push_back(std::move(corrected));
  }
  CaseStep step;
  Record(step, subject, state, std::move(events), now, settings);
  // The correction's timers are the difference of the two cases, not what Record reads
  // from its events.
  if (!same) step.timers = std::move(delta);
  return step;
}

// `state` with the instances of `versions` set to their version there.
store::CaseState WithVersions(store::CaseState state,
                              const std::map<std::string, uint32_t>& versions) {
  for (auto& p : *state.mutable_pathways()) {
    if (auto it = versions.find(p.instance_id()); it != versions.end()) p.set_version(it->second);
  }
  return state;
}

struct MigrationCore {
  Migration plan;
  std::optional<Redecided> redecided;  // set when anything moves
};

MigrationCore Migrate(const std::string& subject, const store::CaseState& state,
                      const std::vector<v1::Envelope>& log, const MigrationRequest& request,
                      TimePoint now, const StepSettings& settings) {
  MigrationCore core;
  Migration& plan = core.plan;
  std::map<std::string, uint32_t> pins;
  for (const auto& p : state.pathways()) {
    if (p.pathway() != request.kind || p.version() != request.from_version) continue;
    if (!request.instance_ids.empty() && !request.instance_ids.count(p.instance_id())) continue;
    InstanceMigration& m = plan.instances.emplace_back();
    m.instance_id = p.instance_id();
    m.state = p.state();
    auto mapped = request.mapping.find(p.state());
    if (mapped == request.mapping.end()) {
      m.why = "its state '" + p.state() + "' is not in the mapping";
      continue;
    }
    m.to_state = mapped->second;
    pins[p.instance_id()] = request.to_version;
  }
  // Each pass drops the instances that would not end in their mapped state; the rest
  // are re-decided again without them (bounded: each pass drops one or ends).
  const size_t bound = pins.size() + 1;
  for (size_t pass = 0; pass < bound && !pins.empty(); ++pass) {
    StepSettings pinned = settings;
    pinned.decide.versions = &pins;
    Redecided r = Redecide(subject, state, nullptr, "", log, now, pinned);
    bool dropped = false;
    for (auto& m : plan.instances) {
      if (!pins.count(m.instance_id)) continue;
      const store::PathwayInstance* after = nullptr;
      for (const auto& p : r.folded.pathways()) {
        if (p.instance_id() == m.instance_id) after = &p;
      }
      if (after && after->state() == m.to_state) continue;
      m.why = "re-decided under version ";
      m.why += std::to_string(request.to_version);
      if (after) {
        m.why += " it ends in '" + after->state() + "', not '" + m.to_state + "'";
      } else {
        m.why += " it does not start";
      }
      pins.erase(m.instance_id);
      dropped = true;
    }
    if (!dropped) {
      core.redecided = std::move(r);
      break;
    }
  }
  for (auto& m : plan.instances) m.moved = pins.count(m.instance_id) > 0;
  plan.before = WithVersions(FiredThrough(subject, state, now, settings), pins);
  if (core.redecided) {
    plan.after = core.redecided->folded;
    plan.after.set_history_length(state.history_length());
    plan.after.set_decided_through(state.decided_through());
    plan.changes = CanonicalCase(plan.before) != CanonicalCase(core.redecided->folded);
  } else {
    plan.after = plan.before;
  }
  plan.moved = std::move(pins);
  return core;
}

// A migration (CaseMigrateRequested): the instances that can move are recorded as moved
// (PathwaysMigrated) and what that changes goes out as one CaseCorrected caused by it.
// Nothing at all when nothing moves, so a migration sent again emits nothing twice.
CaseStep MigrateStep(const store::CaseState& state, const v1::Envelope& command,
                     const std::vector<v1::Envelope>& log, TimePoint now,
                     const StepSettings& settings) {
  const std::string& subject = command.subject_key();
  const MigrationRequest request = MigrationRequestOf(command.case_migrate_requested());
  if (auto r = CheckMigrationRequest(request)) return Refuse(command, std::move(*r), now);
  MigrationCore core = Migrate(subject, state, log, request, now, settings);
  if (core.plan.moved.empty()) return CaseStep{};
  if (HeldHistoryLength(state) + 2 > settings.max_history_per_case) {
    return Refuse(command, HistoryLimit(state, settings), now);
  }
  std::vector<v1::Envelope> events;
  v1::Envelope m = CausedEnvelope(command, now);
  m.set_event_id(DerivedEventId("migrated|" + CommandIdentity(command), 0));
  v1::PathwaysMigrated* marker = m.mutable_pathways_migrated();
  marker->set_operation_id(command.case_migrate_requested().operation_id());
  marker->set_pathway(request.kind);
  marker->set_from_version(request.from_version);
  marker->set_to_version(request.to_version);
  for (const auto& [id, version] : core.plan.moved) marker->add_instance_ids(id);
  events.push_back(std::move(m));
  TimerChanges delta;
  if (core.plan.changes) {
    Redecided& redecided = *core.redecided;
    v1::Envelope corrected = CausedEnvelope(command, now);
    corrected.set_event_id(DerivedEventId("corrected|" + CommandIdentity(command), 0));
    v1::CaseCorrected* c = corrected.mutable_case_corrected();
    c->set_caused_by(command.event_id());
    if (auto day = CommandDay(command)) *c->mutable_caused_by_on() = ToProto(*day);
    Diff(state, redecided.folded, *c);
    delta = TimerDelta(subject, state, redecided.folded, settings.warning_lead_days);
    c->set_state(std::move(redecided.carried));
    events.push_back(std::move(corrected));
  }
  CaseStep step;
  Record(step, subject, state, std::move(events), now, settings);
  // The correction's timers are the difference of the two cases (as for a re-drive).
  if (core.plan.changes) step.timers = std::move(delta);
  return step;
}

// A refusal for the command's own fields stands whatever else the case holds: such a
// command is refused and not kept (nothing a partner sent is stored for nothing).
// Every other refusal depends on the case, so a command that arrives later may make
// the command valid: it is kept.
bool Final(const Rejection& r, const v1::Envelope& command) {
  static const std::set<std::string, std::less<>> kFinal = {"date.calendar",
                                                            "date.not_in_future",
                                                            "nhs_number.format",
                                                            "nhs_number.modulus11",
                                                            "date_of_birth.not_in_future",
                                                            "payload.not_a_command",
                                                            "internal_command",
                                                            "subject_erased"};
  if (kFinal.count(r.rule)) return true;
  if (r.rule != "required") return false;
  // A field the case could supply (a date of birth it already holds, tell it once) is
  // not final; the envelope's own fields and the step's reference and date are.
  if (r.field == "occurred_at" || r.field == "event_id") return true;
  const CommandRoute* route = FindCommandRoute(command);
  return route &&
         (r.field == CommandDateField(command) ||
          r.field == std::string(route->payload) + "." + std::string(route->reference_field));
}
}  // namespace

bool IsRedecidable(const v1::Envelope& command) {
  if (IsIdentityCommand(command) || IsErasureCommand(command)) return false;
  return FindCommandRoute(command) != nullptr;
}

std::string CommandOrder(const v1::Envelope& command) {
  const auto day = BusinessDay(command).value_or(CivilDate{});
  // Two steps of one day are ordered by when the partner says each happened, so a
  // decision recorded again later that day is the repeat whatever arrives first; only
  // identical instants fall back to the content. Seconds from 0001-01-01 (what a valid
  // Timestamp may hold) keep the field non-negative and fixed-width; out of range: 0.
  constexpr int64_t kFromYearOne = 62'135'596'800;
  const auto& at = command.occurred_at();
  const bool valid = at.seconds() >= -kFromYearOne && at.seconds() <= 253'402'300'799 &&
                     at.nanos() >= 0 && at.nanos() <= 999'999'999;
  char head[64];
  std::snprintf(
      head, sizeof head, "%04d%02d%02d|%03d|%012lld%09d|", static_cast<int>(day.year()) % 10000,
      static_cast<int>(static_cast<unsigned>(day.month())) % 100,
      static_cast<int>(static_cast<unsigned>(day.day())) % 100, Rank(command) % 1000,
      valid ? static_cast<long long>(at.seconds() + kFromYearOne) : 0LL, valid ? at.nanos() : 0);
  return head + HexEncode(ContentDigest(command));
}

MigrationRequest MigrationRequestOf(const v1::CaseMigrateRequested& command) {
  MigrationRequest r;
  r.kind = command.pathway();
  r.from_version = command.from_version();
  r.to_version = command.to_version();
  for (const auto& m : command.mapping()) r.mapping[m.from_state()] = m.to_state();
  r.instance_ids.insert(command.instance_ids().begin(), command.instance_ids().end());
  return r;
}

std::optional<Rejection> CheckMigrationRequest(const MigrationRequest& request) {
  const Definition* from = FindDefinition(request.kind, request.from_version);
  const Definition* to = FindDefinition(request.kind, request.to_version);
  if (!from || !to) {
    return Rejection{"case_migrate_requested", "migrate.unknown_version",
                     "this engine has no such pathway version"};
  }
  if (from == to) {
    return Rejection{"case_migrate_requested.to_version", "migrate.same_version",
                     "an instance is migrated to another version"};
  }
  auto has = [](const Definition& d, const std::string& s) {
    return std::find(d.states.begin(), d.states.end(), s) != d.states.end();
  };
  for (const auto& [a, b] : request.mapping) {
    if (!has(*from, a)) {
      return Rejection{"case_migrate_requested.mapping", "migrate.unknown_state",
                       "'" + a + "' is not a state of version " + std::to_string(from->version)};
    }
    if (!has(*to, b)) {
      return Rejection{"case_migrate_requested.mapping", "migrate.unknown_state",
                       "'" + b + "' is not a state of version " + std::to_string(to->version)};
    }
  }
  return std::nullopt;
}

Migration PlanMigration(const std::string& subject_key, const store::CaseState& state,
                        const std::vector<v1::Envelope>& log, const MigrationRequest& request,
                        TimePoint now, const StepSettings& settings) {
  if (state.erased()) {
    Migration none;
    none.before = state;
    none.after = state;
    return none;
  }
  return Migrate(subject_key, state, log, request, now, settings).plan;
}

bool Withdraws(const v1::CommandsWithdrawn& marker, const v1::Envelope& command) {
  if (!marker.source_system().empty() && marker.source_system() != command.source().system()) {
    return false;
  }
  return std::find(marker.event_ids().begin(), marker.event_ids().end(), command.event_id()) !=
         marker.event_ids().end();
}

std::vector<v1::Envelope> CommandsOf(const std::vector<v1::Envelope>& history) {
  // An operator's re-drive withdrew some for good (CommandsWithdrawn, after them).
  std::vector<const v1::CommandsWithdrawn*> markers;
  for (const auto& e : history) {
    if (e.has_commands_withdrawn()) markers.push_back(&e.commands_withdrawn());
  }
  auto withdrawn = [&](const v1::Envelope& c) {
    return std::any_of(markers.begin(), markers.end(),
                       [&](const v1::CommandsWithdrawn* m) { return Withdraws(*m, c); });
  };
  std::vector<v1::Envelope> out;
  for (const auto& e : history) {
    if (e.has_history_trimmed()) {
      // What re-decision starts from; nothing before it is kept any more.
      out.clear();
      out.push_back(e);
      continue;
    }
    if (!e.has_command_recorded()) continue;
    v1::Envelope c;
    if (!c.ParseFromString(e.command_recorded().command())) continue;
    if (!markers.empty() && withdrawn(c)) continue;
    out.push_back(std::move(c));
  }
  return out;
}

uint64_t HeldHistoryLength(const store::CaseState& state) {
  return state.history_length() - std::min(state.history_kept_from(), state.history_length());
}

void KeepHeld(std::vector<v1::Envelope>& history, const store::CaseState& state) {
  const uint64_t held = HeldHistoryLength(state);
  if (history.size() > held) history.resize(held);
}

std::string KeptCommandId(std::string_view identity) {
  std::string cause = "recorded|";
  cause += identity;
  return DerivedEventId(cause, 0);
}

std::optional<std::string> KeptCommandDigest(const std::vector<v1::Envelope>& history,
                                             std::string_view identity) {
  // The CommandRecorded's id derives from the identity: no command is parsed but the
  // one that matches.
  const std::string kept_id = KeptCommandId(identity);
  for (const auto& e : history) {
    if (!e.has_command_recorded() || e.event_id() != kept_id) continue;
    v1::Envelope c;
    if (!c.ParseFromString(e.command_recorded().command())) continue;
    return ContentDigest(c);
  }
  return std::nullopt;
}

CaseStep DecideCommand(const store::CaseState& state, const v1::Envelope& command, TimePoint now,
                       const StepSettings& settings, const std::vector<v1::Envelope>* log) {
  if (command.has_case_redrive_requested() && !state.erased()) {
    if (command.event_id().empty())
      return Refuse(command, Rejection{"event_id", "required", "an event id is required"}, now);
    if (!CommandDay(command))
      return Refuse(command, Rejection{"occurred_at", "required", "occurred_at is required"}, now);
    if (state.history_length() == 0) return CaseStep{};  // no case: nothing to re-decide
    if (!log) {
      CaseStep step;
      step.needs_log = true;
      return step;
    }
    return Redrive(state, command, *log, now, settings);
  }
  if (command.has_case_migrate_requested() && !state.erased()) {
    if (command.event_id().empty())
      return Refuse(command, Rejection{"event_id", "required", "an event id is required"}, now);
    if (!CommandDay(command))
      return Refuse(command, Rejection{"occurred_at", "required", "occurred_at is required"}, now);
    if (state.history_length() == 0) return CaseStep{};  // no case: nothing to move
    if (!log) {
      CaseStep step;
      step.needs_log = true;
      return step;
    }
    return MigrateStep(state, command, *log, now, settings);
  }
  if (state.erased() || !IsRedecidable(command)) {
    Decision decision = Decide(state, command, now, settings.decide);
    if (decision.rejection) return Refuse(command, std::move(*decision.rejection), now);
    if (HeldHistoryLength(state) + decision.events.size() > settings.max_history_per_case) {
      return Refuse(command, HistoryLimit(state, settings), now);
    }
    CaseStep step;
    Record(step, command.subject_key(), state, std::move(decision.events), now, settings);
    return step;
  }
  // Refused for its own fields: refused in any order, and not kept.
  Decision first = Decide(state, command, now, settings.decide);
  if (first.rejection && Final(*first.rejection, command)) {
    return Refuse(command, std::move(*first.rejection), now);
  }
  const std::string order = CommandOrder(command);
  // A command is folded in order with its needs decided and no kept steps known: with
  // settings.decide itself (and the decision above) unless they say otherwise.
  std::optional<DecideOptions> adjusted;
  if (!settings.decide.decide_needs || settings.decide.known_steps) {
    adjusted = settings.decide;
    adjusted->decide_needs = true;
    adjusted->known_steps = nullptr;
  }
  const DecideOptions& in_order = adjusted ? *adjusted : settings.decide;
  Decision* reuse = adjusted ? nullptr : &first;
  if (order <= state.decided_through() || ReportsAnImpliedStep(state, command)) {
    if (!log) {
      CaseStep step;
      step.needs_log = true;
      return step;
    }
    // Retention removed the commands it would sort among: it cannot be decided in its
    // place any more, and deciding it elsewhere would be wrong (decision 127).
    if (!log->empty() && log->front().has_history_trimmed() &&
        order <= log->front().history_trimmed().through_order()) {
      return Refuse(command, TrimmedRejection(command, log->front().history_trimmed()), now);
    }
    if (HeldHistoryLength(state) + 2 > settings.max_history_per_case) {
      return Refuse(command, HistoryLimit(state, settings), now);
    }
    Redecided redecided =
        Redecide(command.subject_key(), state, &command, order, *log, now, settings);
    // A command that changes nothing else where it belongs (another pathway's step of
    // the same day, say) is recorded as it arrived: the same case, plain events.
    store::CaseState appended = state;
    Folded f = FoldCommand(appended, command, order, now, settings, in_order, true, reuse);
    store::CaseState corrected = Corrected(state, redecided);
    std::optional<store::CaseState> later;
    if (CanonicalCase(Today(command.subject_key(), appended, now, settings, later)) ==
        CanonicalCase(corrected)) {
      return InOrder(state, command, now, settings, std::move(appended), std::move(f));
    }
    return Correct(state, command, order, std::move(redecided), std::move(corrected), now,
                   settings);
  }
  store::CaseState folded = state;
  Folded f = FoldCommand(folded, command, order, now, settings, in_order, true, reuse);
  return InOrder(state, command, now, settings, std::move(folded), std::move(f));
}

CaseStep FireTimerStep(const std::string& subject_key, const store::CaseState& state,
                       const store::Timer& timer, TimePoint now, const StepSettings& settings) {
  CaseStep step;
  std::vector<v1::Envelope> events = FireTimer(state, timer, now);
  if (events.empty()) return step;
  Record(step, subject_key, state, std::move(events), now, settings);
  return step;
}

store::CaseState RedecideFromLog(const std::string& subject_key, const store::CaseState& state,
                                 const std::vector<v1::Envelope>& log, TimePoint now,
                                 const StepSettings& settings) {
  if (state.erased()) return state;
  Redecided r = Redecide(subject_key, state, nullptr, "", log, now, settings);
  // As the case keeps it: its history length and how far it decided are its own.
  r.folded.set_history_length(state.history_length());
  r.folded.set_decided_through(state.decided_through());
  return std::move(r.folded);
}

store::CaseState FiredThrough(const std::string& subject_key, const store::CaseState& state,
                              TimePoint now, const StepSettings& settings) {
  std::optional<store::CaseState> later;
  const store::CaseState& today = Today(subject_key, state, now, settings, later);
  return later ? std::move(*later) : today;
}

void DiffCases(const store::CaseState& before, const store::CaseState& after,
               v1::CaseCorrected& out) {
  Diff(before, after, out);
}

std::string CanonicalCase(const store::CaseState& state) {
  // Each part as its length, ':', its tag and its bytes; written in place (this runs
  // twice for every command re-decided).
  std::string out;
  auto part = [&out](std::string_view tag, std::string_view bytes) {
    out += std::to_string(tag.size() + bytes.size());
    out += ':';
    out.append(tag).append(bytes);
  };
  auto sorted = [](const auto& messages) {
    std::vector<std::string> serialized;
    serialized.reserve(messages.size());
    for (const auto& m : messages) serialized.push_back(m.SerializeAsString());
    std::sort(serialized.begin(), serialized.end());
    return serialized;
  };
  part("v", std::to_string(state.definition_version()));
  part("dob", state.date_of_birth().SerializeAsString());
  for (const auto& r : sorted(state.referrals())) part("r", r);
  for (const auto& r : sorted(state.rejected())) part("x", r);
  std::vector<std::string> instances;
  instances.reserve(state.pathways_size());
  for (const auto& p : state.pathways()) {
    std::string& i = instances.emplace_back();
    i.append(p.instance_id()).append("|").append(std::to_string(p.pathway())).append("|");
    i.append(std::to_string(p.version())).append("|").append(p.reference()).append("|");
    i.append(p.state()).append("|");
    p.started_on().AppendToString(&i);
    // Same-named deadlines and facts keep their order (the latest counts); the rest
    // is a set.
    std::map<std::string, std::string> deadlines;
    for (const auto& d : p.deadlines()) {
      std::string& named = deadlines[d.name()];
      d.AppendToString(&named);
      named += ';';
    }
    for (const auto& [name, ds] : deadlines) i.append("|d").append(name).append("=").append(ds);
    std::map<std::string, std::string> facts;
    for (const auto& f : p.facts()) facts[f.key()].append(f.value()).append(";");
    for (const auto& [key, values] : facts) i.append("|f").append(key).append("=").append(values);
    std::vector<std::string> sets;
    sets.reserve(p.steps_size() + p.implied_steps_size() + p.data_quality_size());
    // Appended to the tag (not "s" + bytes: GCC bug 105651 at -O3, a false -Wrestrict).
    for (const auto& st : p.steps()) st.AppendToString(&sets.emplace_back("s"));
    for (const auto& st : p.implied_steps()) sets.emplace_back("i").append(st);
    for (const auto& w : p.data_quality()) w.AppendToString(&sets.emplace_back("w"));
    std::sort(sets.begin(), sets.end());
    for (const auto& x : sets) i.append("|").append(x);
  }
  std::sort(instances.begin(), instances.end());
  for (const auto& i : instances) part("p", i);
  return out;
}

void FoldOutput(OutputView& view, const v1::Envelope& e) {
  auto deadline = [&](const std::string& instance, const std::string& name) -> std::string& {
    return view.deadlines[instance + "|" + name];
  };
  // "due status met_on", updated as Apply updates a stored deadline.
  auto parts = [](const std::string& v) {
    std::vector<std::string> p(3, "-");
    size_t a = v.find(' '), b = v.rfind(' ');
    if (a != std::string::npos && b != a)
      p = {v.substr(0, a), v.substr(a + 1, b - a - 1), v.substr(b + 1)};
    return p;
  };
  auto set = [&](std::string& v, std::optional<std::string> due, std::optional<std::string> status,
                 std::optional<std::string> met) {
    auto p = parts(v);
    if (due) p[0] = *due;
    if (status) p[1] = *status;
    if (met) p[2] = *met;
    v = p[0] + " " + p[1] + " " + p[2];
  };
  const std::string kPending = v1::DeadlineStatus_Name(v1::DEADLINE_STATUS_PENDING);
  switch (e.payload_case()) {
    case v1::Envelope::kDeadlineSet: {
      const auto& s = e.deadline_set();
      deadline(s.instance_id(), s.name()) =
          DeadlineValue(s.due(), v1::DEADLINE_STATUS_PENDING, v1::Date());
      break;
    }
    case v1::Envelope::kDeadlineMet: {
      const auto& m = e.deadline_met();
      std::string& v = deadline(m.instance_id(), m.name());
      const bool pending = parts(v)[1] == kPending;
      set(v, std::nullopt,
          pending ? std::optional(v1::DeadlineStatus_Name(v1::DEADLINE_STATUS_MET)) : std::nullopt,
          Format(m.met_on()));
      break;
    }
    case v1::Envelope::kDeadlineBreached: {
      const auto& b = e.deadline_breached();
      set(deadline(b.instance_id(), b.name()), std::nullopt,
          v1::DeadlineStatus_Name(b.excepted() ? v1::DEADLINE_STATUS_EXCEPTED
                                               : v1::DEADLINE_STATUS_BREACHED),
          std::nullopt);
      break;
    }
    case v1::Envelope::kDeadlineCancelled: {
      const auto& c = e.deadline_cancelled();
      set(deadline(c.instance_id(), c.name()), std::nullopt,
          v1::DeadlineStatus_Name(v1::DEADLINE_STATUS_CANCELLED), std::nullopt);
      break;
    }
    case v1::Envelope::kDeadlineSuperseded: {
      const auto& s = e.deadline_superseded();
      // The replacement of the same name follows in a DeadlineSet.
      set(deadline(s.instance_id(), s.name()), std::nullopt,
          v1::DeadlineStatus_Name(v1::DEADLINE_STATUS_SUPERSEDED), std::nullopt);
      break;
    }
    case v1::Envelope::kPathwayStepRecorded: {
      const auto& s = e.pathway_step_recorded();
      view.steps.insert(StepKey(s.instance_id(), s.step(), s.on(), s.implied()));
      break;
    }
    case v1::Envelope::kCommandRejected:
      view.rejected.insert(e.command_rejected().rejected_event_id());
      break;
    case v1::Envelope::kCaseCorrected: {
      const auto& c = e.case_corrected();
      for (const auto& d : c.deadlines()) {
        const std::string key = d.instance_id() + "|" + d.name();
        if (d.status() == v1::DEADLINE_STATUS_UNSPECIFIED) {
          view.deadlines.erase(key);
        } else {
          view.deadlines[key] = DeadlineValue(d.due(), d.status(), d.met_on());
        }
      }
      for (const auto& s : c.steps()) {
        const std::string key = StepKey(s.instance_id(), s.step(), s.on(), s.implied());
        if (!s.withdrawn()) {
          view.steps.insert(key);
        } else if (auto it = view.steps.find(key); it != view.steps.end()) {
          view.steps.erase(it);
        }
      }
      for (const auto& r : c.rejections()) {
        if (r.withdrawn()) {
          view.rejected.erase(r.rejected_event_id());
        } else {
          view.rejected.insert(r.rejected_event_id());
        }
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace pathway::workflow
