#include "workflow/workflow.h"

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cstdio>

#include "common/crypto.h"
#include "workflow/clock.h"
#include "workflow/command_check.h"
#include "workflow/erasure.h"
#include "workflow/event_identity.h"
#include "workflow/identifiers.h"
#include "workflow/identity.h"
#include "workflow/input_limits.h"
#include "workflow/pathways/step_helpers.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using pathways::Required;

Rejection NotACommand() {
  return {"payload", "payload.not_a_command", "this payload is not a command the engine accepts"};
}

Decision Reject(Rejection r) { return Decision{{}, std::move(r)}; }

// `id` if it is within the identifier limit, else "digest:" and a digest of it.
std::string SafeId(const std::string& id) {
  return IsAcceptableIdentifier(id) ? id : "digest:" + DerivedEventId(id, 0);
}

// What the engine needs to know about a pathway command, whatever its payload: what
// its pathway definition maps it to (workflow/pathway.h, FindCommandRoute).
struct CommandInfo {
  v1::PathwayKind kind = v1::PATHWAY_KIND_UNSPECIFIED;
  std::string_view step;
  std::string reference;
  std::string reference_field;
  const v1::Date* date = nullptr;  // null: the business date is unset (rejected)
  std::string date_field;
};

std::optional<CommandInfo> Classify(const v1::Envelope& c) {
  const CommandRoute* route = FindCommandRoute(c);
  if (!route) return std::nullopt;
  CommandInfo info;
  info.kind = route->kind;
  info.step = route->step;
  info.reference = CommandReference(*route, c);
  info.reference_field = std::string(route->payload) + "." + std::string(route->reference_field);
  info.date = CommandDate(*route, c);
  info.date_field = std::string(route->payload) + "." + std::string(route->date_field);
  return info;
}

// "draft_plan_issued" -> "draft plan issued": states and steps in sentences.
std::string Words(std::string_view snake) {
  std::string out(snake);
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

const store::PathwayInstance* FindInstance(const store::CaseState& state, v1::PathwayKind kind,
                                           const std::string& reference) {
  const store::PathwayInstance* found = nullptr;
  for (const auto& p : state.pathways()) {
    if (p.pathway() == kind && p.reference() == reference) found = &p;
  }
  return found;
}

// A service that recorded a step of `instance`, added once. Steps recorded before
// PathwayStepRecorded carried the agency add nothing: such a pathway joins a caseload
// with its next step.
void AddService(store::PathwayInstance& instance, const std::string& agency,
                const std::string& team) {
  if (agency.empty()) return;
  for (const auto& s : instance.services()) {
    if (s.agency() == agency && s.team() == team) return;
  }
  store::ServiceRef* s = instance.add_services();
  s->set_agency(agency);
  s->set_team(team);
}

bool RecordedByReferrer(const v1::PathwayStepRecorded& step) {
  const Definition* def = FindDefinition(step.pathway(), step.version());
  const Transition* t = def ? def->Find(step.step()) : nullptr;
  return t && t->by_referrer;
}

store::PathwayInstance* FindInstanceById(store::CaseState& state, const std::string& id) {
  for (auto& p : *state.mutable_pathways()) {
    if (p.instance_id() == id) return &p;
  }
  return nullptr;
}

store::Deadline* FindDeadlineMutable(store::PathwayInstance& instance, const std::string& name) {
  store::Deadline* found = nullptr;
  for (auto& d : *instance.mutable_deadlines()) {
    if (d.name() == name) found = &d;
  }
  return found;
}

// An event of a pathway command: DerivedEnvelope(command, index, now), the command's
// `identity` worked out once for all its events; only the payload's place if the
// options say the events are only folded.
v1::Envelope PathwayEvent(const v1::Envelope& command, const std::string& identity, uint32_t index,
                          TimePoint now, const DecideOptions& options) {
  if (!options.whole_events) return v1::Envelope();
  v1::Envelope out = CausedEnvelope(command, now);
  out.set_event_id(DerivedEventId(identity, index));
  return out;
}

std::string InstanceId(const std::string& subject_key, const Definition& d,
                       const std::string& reference) {
  return HexEncode(Sha256("pathway.instance|" + subject_key + "|" + std::string(d.name) + "|" +
                          reference))
      .substr(0, 32);
}

}  // namespace

const Definition* StartDefinition(v1::PathwayKind kind, const std::string& subject_key,
                                  const std::string& reference, const DecideOptions& options) {
  const Definition* latest = LatestDefinition(kind);
  if (!latest) return nullptr;
  if (options.versions && !options.versions->empty()) {
    auto it = options.versions->find(InstanceId(subject_key, *latest, reference));
    if (it != options.versions->end()) {
      if (const Definition* d = FindDefinition(kind, it->second)) return d;
    }
  }
  if (options.start_versions) {
    auto it = options.start_versions->find(kind);
    if (it != options.start_versions->end()) {
      if (const Definition* d = FindDefinition(kind, it->second)) return d;
    }
  }
  return latest;
}

namespace {

// The step an Outcome records: the command's own, or one the command implies.
struct StepRecord {
  std::string_view step;
  const std::string& reference;
  std::string_view missing = {};     // implied: the Envelope payload that never came
  std::string_view implied_by = {};  // implied: the step whose command implies it
};

// The data-quality warning of an implied step. Names steps and messages, never the child.
std::string ImpliedWarning(const StepRecord& record, CivilDate on) {
  return "no " + std::string(record.missing) + " message was received: '" + Words(record.step) +
         "' is implied by '" + Words(record.implied_by) + "' and recorded as implied on " +
         FormatDate(on);
}

// Turns a step's Outcome into events, in a fixed order.
void EmitOutcome(const store::CaseState& state, const store::PathwayInstance* instance,
                 const Definition& def, const StepRecord& record, const std::string& instance_id,
                 CivilDate on, const Outcome& outcome, const v1::Envelope& command, TimePoint now,
                 const DecideOptions& options, uint32_t& index, std::vector<v1::Envelope>& events) {
  const std::string identity = options.whole_events ? CommandIdentity(command) : std::string();
  auto next = [&]() -> v1::Envelope& {
    events.push_back(PathwayEvent(command, identity, index++, now, options));
    events.back().set_pathway_instance_id(instance_id);
    return events.back();
  };
  v1::Date on_proto = ToProto(on);
  const bool implied = !record.missing.empty();
  std::vector<std::string> warnings;
  if (implied) warnings.push_back(ImpliedWarning(record, on));
  warnings.insert(warnings.end(), outcome.warnings.begin(), outcome.warnings.end());
  {
    auto* step = next().mutable_pathway_step_recorded();
    step->set_instance_id(instance_id);
    step->set_pathway(def.kind);
    step->set_version(def.version);
    step->set_step(std::string(record.step));
    if (instance) step->set_from_state(instance->state());
    step->set_to_state(outcome.to_state.empty() ? instance->state() : outcome.to_state);
    *step->mutable_on() = on_proto;
    step->set_reference(record.reference);
    for (const auto& f : outcome.facts) *step->add_facts() = f;
    step->set_implied(implied);
    for (const auto& w : warnings) step->add_warnings(w);
    step->set_agency(command.source().agency());
    step->set_team(command.actor().team());
  }
  if (implied) {
    auto* w = next().mutable_data_quality_warning();
    w->set_instance_id(instance_id);
    w->set_step(std::string(record.step));
    w->set_missing(std::string(record.missing));
    *w->mutable_on() = on_proto;
    w->set_text(warnings.front());
  }
  std::vector<std::string> closed;
  for (const auto& name : outcome.met) {
    const store::Deadline* d = instance ? FindDeadline(*instance, name) : nullptr;
    // A late completion is still recorded (met_on), on a deadline already breached.
    if (!d || d->status() == v1::DEADLINE_STATUS_CANCELLED ||
        d->status() == v1::DEADLINE_STATUS_MET || d->status() == v1::DEADLINE_STATUS_SUPERSEDED) {
      continue;
    }
    auto due = ToCivil(d->due());
    if (d->status() == v1::DEADLINE_STATUS_PENDING && due &&
        std::chrono::sys_days{on} > std::chrono::sys_days{*due}) {
      // Set and met late within this decision (a step implied before the one that meets
      // it), so no breach timer ever ran: the breach is recorded here, as the timer would.
      auto* b = next().mutable_deadline_breached();
      b->set_instance_id(instance_id);
      b->set_name(name);
      *b->mutable_due() = d->due();
      b->set_excepted(d->exceptable() && !FactValue(*instance, "exception").empty());
      *b->mutable_on() = ToProto(AddDays(*due, 1));
    }
    auto* met = next().mutable_deadline_met();
    met->set_instance_id(instance_id);
    met->set_name(name);
    *met->mutable_met_on() = on_proto;
    *met->mutable_due() = d->due();
    closed.push_back(name);
  }
  auto cancel = [&](const std::string& name, const std::string& reason) {
    auto* c = next().mutable_deadline_cancelled();
    c->set_instance_id(instance_id);
    c->set_name(name);
    c->set_reason(reason);
    *c->mutable_on() = on_proto;
    closed.push_back(name);
  };
  for (const auto& [name, reason] : outcome.cancel) cancel(name, reason);
  for (const auto& superseded : outcome.supersede) {
    // Named, not bound: lambdas may not capture structured bindings before clang 16.
    const std::string& name = superseded.first;
    const std::string& by = superseded.second;
    const store::Deadline* d = instance ? FindDeadline(*instance, name) : nullptr;
    // A deadline met stays met: only one still owed (or already missed) is replaced.
    if (!d || d->status() == v1::DEADLINE_STATUS_MET) continue;
    auto spec = std::find_if(outcome.set.begin(), outcome.set.end(),
                             [&](const DeadlineSpec& candidate) { return candidate.name == by; });
    auto* e = next().mutable_deadline_superseded();
    e->set_instance_id(instance_id);
    e->set_name(name);
    *e->mutable_due() = d->due();
    *e->mutable_on() = on_proto;
    e->set_superseded_by(by);
    if (spec != outcome.set.end()) *e->mutable_superseded_by_due() = ToProto(spec->due);
    e->set_reason("replaced by " + by +
                  (spec != outcome.set.end() ? " due " + FormatDate(spec->due) : std::string()) +
                  " after '" + Words(record.step) + "'");
    closed.push_back(name);
  }
  if (outcome.cancel_all_pending && instance) {
    for (const auto& d : instance->deadlines()) {
      if (d.status() != v1::DEADLINE_STATUS_PENDING) continue;
      if (std::find(closed.begin(), closed.end(), d.name()) != closed.end()) continue;
      cancel(d.name(), "the " + std::string(def.title) + " ended: " +
                           Words(outcome.to_state.empty() ? instance->state() : outcome.to_state));
    }
  }
  for (const auto& spec : outcome.set) {
    auto* s = next().mutable_deadline_set();
    s->set_instance_id(instance_id);
    s->set_name(spec.name);
    *s->mutable_due() = ToProto(spec.due);
    s->set_rule(spec.rule);
    *s->mutable_set_on() = on_proto;
    s->set_exceptable(spec.exceptable);
  }
  // The step's declared needs go to the shared record, which reuses what the family or
  // an agency already gave or asks once per validity period, whichever pathway or
  // agency needs the fact. A step that ends the instance needs nothing more.
  const std::string& to_state = outcome.to_state.empty() ? instance->state() : outcome.to_state;
  // Re-deciding a case in date order replays steps whose needs were decided when they
  // arrived: a request sent to a family stays sent (decision 82).
  if (def.IsTerminal(to_state) || !options.decide_needs) return;
  // The step's actor goes with what the record did for it (the audit names them).
  auto next_with_actor = [&]() -> v1::Envelope& {
    v1::Envelope& e = next();
    *e.mutable_actor() = command.actor();
    return e;
  };
  for (const Need& need : def.NeedsOf(record.step)) {
    DecideNeed(state, need.fact, need.asked, instance_id, command.source().agency(),
               std::string(def.name), on, options, next_with_actor);
  }
}

bool Allows(const Transition& t, std::string_view state) {
  return std::find(t.from.begin(), t.from.end(), state) != t.from.end();
}

// The implication by which `t` becomes allowed from `state` (directly or through the
// earlier step's own implications); null when none does (or none is needed: check
// Allows first). Depth-bounded by the number of steps, so a cycle in the data cannot hang.
const Implication* ReachingImplication(const Definition& d, std::string_view state,
                                       const Transition& t, size_t depth = 0) {
  if (depth >= d.transitions.size()) return nullptr;
  for (const Implication& i : t.implies) {
    const Transition* earlier = d.Find(i.step);
    if (!earlier || !earlier->implied || i.state.empty() || !Allows(t, i.state)) continue;
    if (Allows(*earlier, state) || ReachingImplication(d, state, *earlier, depth + 1)) return &i;
  }
  return nullptr;
}

bool Reachable(const Definition& d, std::string_view state, const Transition& t) {
  return Allows(t, state) || ReachingImplication(d, state, t) != nullptr;
}

const store::PathwayInstance* FindInstanceIn(const store::CaseState& state, const std::string& id) {
  for (const auto& p : state.pathways()) {
    if (p.instance_id() == id) return &p;
  }
  return nullptr;
}

// Records the steps a command implies (Transition::implies) before its own. Each is
// folded into a scratch copy of the case as it is recorded, so every later step (and
// the command's own) sees the state, facts and deadlines the earlier ones left: the
// clocks run as if every message had come.
class ImpliedSteps {
 public:
  ImpliedSteps(const store::CaseState& state, const store::PathwayInstance* instance,
               const Definition& def, const v1::Envelope& command, const CommandInfo& info,
               const std::string& instance_id, CivilDate on, TimePoint now,
               const DecideOptions& options, uint32_t& index, std::vector<v1::Envelope>& events)
      : original_(state),
        instance_(instance),
        def_(def),
        command_(command),
        info_(info),
        instance_id_(instance_id),
        on_(on),
        now_(now),
        options_(options),
        index_(index),
        events_(events) {}

  // Records every missing step `t` implies, earliest first; the rejection of one that
  // cannot be recorded (its own rule fails on the dates known).
  std::optional<Rejection> RecordBefore(const Transition& t, size_t depth = 0) {
    if (depth > def_.transitions.size()) return std::nullopt;
    if (!Allows(t, instance_->state())) {
      const Implication* i = ReachingImplication(def_, instance_->state(), t);
      if (!i) return std::nullopt;  // the caller rejects: not reachable
      if (auto r = RecordWithPrerequisites(*i, depth)) return r;
    }
    // Implications the state cannot show (e.g. no handover to this service planned).
    for (const Implication& i : t.implies) {
      if (!i.missing || !i.missing(StepInput{state(), instance_, command_, on_})) continue;
      const Transition* earlier = def_.Find(i.step);
      if (!earlier || !earlier->implied || !Reachable(def_, instance_->state(), *earlier)) continue;
      if (auto r = RecordWithPrerequisites(i, depth)) return r;
    }
    return std::nullopt;
  }

  const store::CaseState& state() const { return scratch_ ? *scratch_ : original_; }
  const store::PathwayInstance* instance() const { return instance_; }

 private:
  std::optional<Rejection> RecordWithPrerequisites(const Implication& i, size_t depth) {
    const Transition& earlier = *def_.Find(i.step);
    if (auto r = RecordBefore(earlier, depth + 1)) return r;
    return Record(earlier, i.state);
  }

  std::optional<Rejection> Record(const Transition& t, std::string_view to) {
    // A step a partner reported on a later date did not happen on this one: the dates
    // conflict, and the known date wins over an implied one.
    if (options_.known_steps) {
      for (const KnownStep& k : *options_.known_steps) {
        if (k.kind != def_.kind || k.reference != info_.reference || k.step != t.step) continue;
        if (std::chrono::sys_days{k.on} <= std::chrono::sys_days{on_}) continue;
        return Rejection{info_.date_field, "date.before_reported_step",
                         "this date is before the " + Words(t.step) +
                             " it follows, reported as on " + FormatDate(k.on)};
      }
    }
    StepResult r = t.implied(StepInput{state(), instance_, command_, on_, to});
    if (auto* rejection = std::get_if<Rejection>(&r)) return std::move(*rejection);
    Outcome& outcome = std::get<Outcome>(r);
    if (!to.empty()) outcome.to_state = std::string(to);
    const size_t first = events_.size();
    EmitOutcome(state(), instance_, def_,
                StepRecord{t.step, info_.reference, t.command.payload, info_.step}, instance_id_,
                on_, outcome, command_, now_, options_, index_, events_);
    if (!scratch_) scratch_ = original_;
    for (size_t k = first; k < events_.size(); ++k) Apply(*scratch_, events_[k]);
    instance_ = FindInstanceIn(*scratch_, instance_id_);
    return std::nullopt;
  }

  const store::CaseState& original_;
  std::optional<store::CaseState> scratch_;
  const store::PathwayInstance* instance_;
  const Definition& def_;
  const v1::Envelope& command_;
  const CommandInfo& info_;
  const std::string& instance_id_;
  CivilDate on_;
  TimePoint now_;
  const DecideOptions& options_;
  uint32_t& index_;
  std::vector<v1::Envelope>& events_;
};

Decision DecidePathwayCommand(const store::CaseState& state, const v1::Envelope& command,
                              const CommandInfo& info, TimePoint now, uint32_t first_index,
                              Decision decision, const DecideOptions& options) {
  CivilDate today = CommandDay(command).value_or(LondonDate(now));
  // Every command carries its reference and the date its step happened (the clocks run
  // from it, never from the day a message happened to arrive): both are marked required
  // in the schema, so Decide's MissingRequired has rejected a command without them. Kept
  // here too, so that no other way in can reach the date unset.
  if (info.reference.empty()) return Reject(Required(info.reference_field));
  if (!info.date) return Reject(Required(info.date_field));
  const auto dated = ToCivil(*info.date);
  if (!dated) return Reject({info.date_field, "date.calendar", "this is not a real calendar date"});
  if (std::chrono::sys_days{*dated} > std::chrono::sys_days{today}) {
    return Reject({info.date_field, "date.not_in_future",
                   "this date is after the message's own date (occurred_at)"});
  }
  const CivilDate on = *dated;

  const store::PathwayInstance* instance = FindInstance(state, info.kind, info.reference);
  const Definition* def =
      instance ? FindDefinition(info.kind, instance->version())
               : StartDefinition(info.kind, command.subject_key(), info.reference, options);
  const Transition* transition = def ? def->Find(info.step) : nullptr;
  if (!transition) return Reject(NotACommand());
  std::string title(def->title);

  if (transition->from.empty()) {
    if (instance) {
      return Reject({info.reference_field, "pathway.duplicate",
                     "a " + title + " with this reference already exists for the child"});
    }
  } else {
    if (!instance) {
      return Reject({info.reference_field, "pathway.unknown_reference",
                     "there is no " + title + " with this reference for the child"});
    }
    if (def->IsTerminal(instance->state())) {
      return Reject({"payload", "transition.after_end",
                     "the " + title + " has ended (" + Words(instance->state()) + ")"});
    }
    if (!Reachable(*def, instance->state(), *transition)) {
      return Reject({"payload", "transition.not_allowed",
                     "'" + std::string(transition->label) + "' is not possible while the " + title +
                         " is at '" + Words(instance->state()) + "'"});
    }
    if (auto started = ToCivil(instance->started_on());
        started && std::chrono::sys_days{on} < std::chrono::sys_days{*started}) {
      return Reject(
          {info.date_field, "date.before_start",
           "this date is before the " + title + " started (" + FormatDate(*started) + ")"});
    }
  }

  std::string instance_id =
      instance ? instance->instance_id() : InstanceId(command.subject_key(), *def, info.reference);
  uint32_t index = first_index;
  ImpliedSteps implied{state, instance, *def,    command, info,           instance_id,
                       on,    now,      options, index,   decision.events};
  if (instance) {
    if (auto r = implied.RecordBefore(*transition)) return Reject(std::move(*r));
  }
  const store::CaseState* current = &implied.state();
  const store::PathwayInstance* current_instance = implied.instance();

  StepResult result = transition->apply(StepInput{*current, current_instance, command, on});
  if (auto* rejection = std::get_if<Rejection>(&result)) return Reject(std::move(*rejection));
  const Outcome& outcome = std::get<Outcome>(result);
  EmitOutcome(*current, current_instance, *def, StepRecord{info.step, info.reference}, instance_id,
              on, outcome, command, now, options, index, decision.events);
  return decision;
}

Decision DecideReferral(const store::CaseState& state, const v1::Envelope& command,
                        const CommandInfo& info, TimePoint now, const DecideOptions& options) {
  const v1::ReferralSubmitted& referral = command.referral_submitted();
  CivilDate today = CommandDay(command).value_or(LondonDate(now));
  if (auto rejection = ValidateReferral(referral, today)) return Reject(std::move(*rejection));
  // The clocks run from the day the referral was received, however late it is sent.
  const CivilDate received_on = *ToCivil(referral.received_on());

  // The same referral sent again under a new event id (a partner's resend) is not a
  // second referral: say so rather than opening a duplicate.
  for (const auto& existing : state.referrals()) {
    if (existing.referral_id() == referral.referral_id() &&
        existing.referrer_agency() == referral.referrer().agency()) {
      return Reject({"referral_submitted.referral_id", "referral.duplicate",
                     "a referral with this id from this referrer is already open for the child"});
    }
  }

  Decision decision;
  const std::string identity = options.whole_events ? CommandIdentity(command) : std::string();
  v1::Envelope event = PathwayEvent(command, identity, 0, now, options);
  v1::ReferralReceived* received = event.mutable_referral_received();
  received->set_referral_id(referral.referral_id());
  *received->mutable_referrer() = referral.referrer();
  received->set_reason(referral.reason());
  *received->mutable_received_on() = ToProto(received_on);
  *received->mutable_date_of_birth() = referral.child().date_of_birth();
  received->set_inbound_event_id(command.event_id());
  decision.events.push_back(std::move(event));
  return DecidePathwayCommand(state, command, info, now, 1, std::move(decision), options);
}
}  // namespace

v1::Envelope DerivedEnvelope(const v1::Envelope& command, uint32_t index, TimePoint now) {
  v1::Envelope out = CausedEnvelope(command, now);
  // From the command's whole identity, not its id alone: partners' ids collide.
  out.set_event_id(DerivedEventId(CommandIdentity(command), index));
  return out;
}

v1::Envelope CausedEnvelope(const v1::Envelope& command, TimePoint now) {
  v1::Envelope out;
  out.set_subject_key(command.subject_key());
  out.set_pathway_instance_id(command.pathway_instance_id());
  // Out of range only in a command rejected at intake: its rejection must still print.
  if (command.has_occurred_at() && TimestampInRange(command.occurred_at())) {
    *out.mutable_occurred_at() = command.occurred_at();
  }
  SetTimestamp(out.mutable_recorded_at(), now);
  out.mutable_source()->set_agency("pathway");
  out.mutable_source()->set_system("pathway-engine");
  out.set_correlation_id(command.correlation_id().empty() ? command.event_id()
                                                          : command.correlation_id());
  out.set_causation_id(command.event_id());
  return out;
}

std::optional<Rejection> ValidateReferral(const v1::ReferralSubmitted& referral, CivilDate today) {
  // The required fields are the schema's (pathway.v1.required), read by MissingRequired.
  std::vector<Rejection> violations = ReferralViolations(referral, today);
  if (violations.empty()) return std::nullopt;
  return std::move(violations.front());
}

Routing RouteCommand(const v1::Envelope& command) {
  if (command.payload_case() == v1::Envelope::kReferralSubmitted) {
    const v1::ReferralSubmitted& referral = command.referral_submitted();
    if (!referral.has_child()) return {{}, {}, Required("referral_submitted.child")};
    const std::string& nhs = referral.child().nhs_number();
    if (nhs.empty()) return {{}, {}, Required("referral_submitted.child.nhs_number")};
    if (auto r = CheckNhsNumber(nhs, "referral_submitted.child.nhs_number")) return {{}, {}, r};
    return {nhs, {}, std::nullopt};
  }
  const bool link = command.has_identifier_linked();
  if (!Classify(command) && !IsRecordCommand(command) && !link && !IsErasureCommand(command)) {
    return {{}, {}, NotACommand()};
  }
  const std::string& nhs = command.subject().nhs_number();
  if (nhs.empty()) {
    // A link needs the NHS number it links to; anything else may wait for a link.
    Alias alias = link ? Alias{} : AliasOf(command.subject());
    if (alias.rejection) return {{}, {}, alias.rejection};
    if (alias.hash_input.empty()) return {{}, {}, Required("subject.nhs_number")};
    return {{}, alias.hash_input, std::nullopt};
  }
  if (auto r = CheckNhsNumber(nhs, "subject.nhs_number")) return {{}, {}, r};
  return {nhs, {}, std::nullopt};
}

std::optional<CivilDate> CommandDay(const v1::Envelope& command) {
  if (!command.has_occurred_at() || !TimestampInRange(command.occurred_at())) return std::nullopt;
  auto us = command.occurred_at().seconds() * 1'000'000 + command.occurred_at().nanos() / 1000;
  return LondonDate(TimePoint(std::chrono::microseconds(us)));
}

std::string TimerOrder(const v1::Date& on) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d|000|", static_cast<int>(on.year()) % 10000,
                static_cast<int>(on.month()) % 100, static_cast<int>(on.day()) % 100);
  return buf;
}

Decision Decide(const store::CaseState& state, const v1::Envelope& command, TimePoint now,
                const DecideOptions& options) {
  // The schema's required fields (event_id, occurred_at, a referral's): the intake stage
  // reported them all; a caller that skips it gets the first.
  if (std::vector<Rejection> missing = MissingRequired(command); !missing.empty()) {
    return Reject(std::move(missing.front()));
  }
  // Every check of "not after today" runs against the command's own day (decision 80).
  if (!CommandDay(command)) return Reject(Required("occurred_at"));
  if (auto erased = ErasedRejection(state)) return Reject(*erased);
  if (IsErasureCommand(command)) return DecideErasureCommand(state, command, now, options);
  if (IsIdentityCommand(command)) return DecideIdentityCommand(state, command, now, options);
  if (IsRecordCommand(command)) return DecideRecordCommand(state, command, now, options);
  auto info = Classify(command);
  if (!info) return Reject(NotACommand());
  if (command.payload_case() == v1::Envelope::kReferralSubmitted) {
    return DecideReferral(state, command, *info, now, options);
  }
  return DecidePathwayCommand(state, command, *info, now, 0, Decision{}, options);
}

void Apply(store::CaseState& state, const v1::Envelope& event) {
  state.set_history_length(state.history_length() + 1);
  switch (event.payload_case()) {
    case v1::Envelope::kReferralReceived: {
      const v1::ReferralReceived& received = event.referral_received();
      if (state.definition_version() == 0) {
        state.set_definition_version(kReferralDefinitionVersion);
      }
      store::ReferralRecord* record = state.add_referrals();
      record->set_referral_id(received.referral_id());
      record->set_reason(received.reason());
      *record->mutable_received_on() = received.received_on();
      record->set_referrer_agency(received.referrer().agency());
      record->set_inbound_event_id(received.inbound_event_id());
      *state.mutable_date_of_birth() = received.date_of_birth();
      break;
    }
    case v1::Envelope::kPathwayStepRecorded: {
      const auto& step = event.pathway_step_recorded();
      store::PathwayInstance* instance = FindInstanceById(state, step.instance_id());
      if (!instance) {
        instance = state.add_pathways();
        instance->set_instance_id(step.instance_id());
        instance->set_pathway(step.pathway());
        instance->set_version(step.version());
        instance->set_reference(step.reference());
        *instance->mutable_started_on() = step.on();
      }
      instance->set_state(step.to_state());
      if (!RecordedByReferrer(step)) AddService(*instance, step.agency(), step.team());
      for (const auto& f : step.facts()) *instance->add_facts() = f;
      store::StepTaken* taken = instance->add_steps();
      taken->set_step(step.step());
      *taken->mutable_on() = step.on();
      taken->set_implied(step.implied());
      if (step.implied()) instance->add_implied_steps(step.step());
      break;
    }
    case v1::Envelope::kDataQualityWarning: {
      const auto& w = event.data_quality_warning();
      if (auto* instance = FindInstanceById(state, w.instance_id())) {
        *instance->add_data_quality() = w;
      }
      break;
    }
    case v1::Envelope::kDeadlineSuperseded: {
      const auto& s = event.deadline_superseded();
      if (auto* instance = FindInstanceById(state, s.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, s.name())) {
          d->set_status(v1::DEADLINE_STATUS_SUPERSEDED);
          d->set_superseded_by(s.superseded_by());
          *d->mutable_superseded_by_due() = s.superseded_by_due();
        }
      }
      break;
    }
    case v1::Envelope::kDeadlineSet: {
      const auto& s = event.deadline_set();
      if (auto* instance = FindInstanceById(state, s.instance_id())) {
        store::Deadline* d = instance->add_deadlines();
        d->set_name(s.name());
        *d->mutable_due() = s.due();
        d->set_status(v1::DEADLINE_STATUS_PENDING);
        d->set_rule(s.rule());
        *d->mutable_set_on() = s.set_on();
        d->set_exceptable(s.exceptable());
      }
      break;
    }
    case v1::Envelope::kDeadlineMet: {
      const auto& m = event.deadline_met();
      if (auto* instance = FindInstanceById(state, m.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, m.name())) {
          if (d->status() == v1::DEADLINE_STATUS_PENDING) d->set_status(v1::DEADLINE_STATUS_MET);
          *d->mutable_met_on() = m.met_on();
        }
      }
      break;
    }
    case v1::Envelope::kDeadlineCancelled: {
      const auto& c = event.deadline_cancelled();
      if (auto* instance = FindInstanceById(state, c.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, c.name())) {
          d->set_status(v1::DEADLINE_STATUS_CANCELLED);
        }
      }
      break;
    }
    case v1::Envelope::kCommandRecorded: {
      const v1::CommandRecorded& r = event.command_recorded();
      if (r.order() > state.decided_through()) state.set_decided_through(r.order());
      if (!r.rejected_rule().empty()) {
        v1::Envelope command;
        (void)command.ParseFromString(r.command());  // written by Decide: always parses
        store::RejectedCommand* rejected = state.add_rejected();
        rejected->set_event_id(SafeId(command.event_id()));
        rejected->set_field(r.rejected_field());
        rejected->set_rule(r.rejected_rule());
      }
      break;
    }
    case v1::Envelope::kHistoryTrimmed: {
      // The case as it stood when its earlier history was removed: what that history
      // folded to. This entry is the first one kept.
      store::CaseState before;
      (void)before.ParseFromString(event.history_trimmed().state());
      const uint64_t kept_from = before.history_length();
      state = std::move(before);
      state.set_history_length(kept_from + 1);
      state.set_history_kept_from(kept_from);
      break;
    }
    case v1::Envelope::kPathwaysMigrated: {
      // An operator's migration: the instances named keep running under the new
      // version (a CaseCorrected follows when anything else changed).
      const auto& m = event.pathways_migrated();
      for (const auto& id : m.instance_ids()) {
        if (auto* instance = FindInstanceById(state, id)) instance->set_version(m.to_version());
      }
      break;
    }
    case v1::Envelope::kCaseCorrected: {
      // The re-decided state replaces the case whole; the history goes on counting.
      const uint64_t length = state.history_length();
      (void)state.ParseFromString(event.case_corrected().state());
      state.set_history_length(length);
      break;
    }
    case v1::Envelope::kDeadlineWarning: {
      const auto& w = event.deadline_warning();
      if (auto* instance = FindInstanceById(state, w.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, w.name())) d->set_warned(true);
      }
      if (auto order = TimerOrder(w.on()); order > state.decided_through()) {
        state.set_decided_through(order);
      }
      break;
    }
    case v1::Envelope::kDeadlineBreached: {
      const auto& b = event.deadline_breached();
      if (auto* instance = FindInstanceById(state, b.instance_id())) {
        if (auto* d = FindDeadlineMutable(*instance, b.name())) {
          d->set_status(b.excepted() ? v1::DEADLINE_STATUS_EXCEPTED : v1::DEADLINE_STATUS_BREACHED);
        }
      }
      if (auto order = TimerOrder(b.on()); order > state.decided_through()) {
        state.set_decided_through(order);
      }
      break;
    }
    case v1::Envelope::kInformationRequested: {
      const auto& r = event.information_requested();
      store::InformationRequest* request = state.add_information_requests();
      request->set_instance_id(r.instance_id());
      request->set_fact(r.fact());
      *request->mutable_requested_on() = r.on();
      request->set_asked(r.asked());
      break;
    }
    default:
      if (!ApplyRecordEvent(state, event) && !ApplyIdentityEvent(state, event)) {
        (void)ApplyErasureEvent(state, event);
      }
      break;
  }
}

void SetTimestamp(google::protobuf::Timestamp* ts, TimePoint t) {
  auto us = t.time_since_epoch().count();
  ts->set_seconds(us / 1'000'000);
  ts->set_nanos(static_cast<int32_t>((us % 1'000'000) * 1000));
}

v1::Envelope MakeRejection(const v1::Envelope& command, const Rejection& rejection, TimePoint now,
                           const std::vector<Rejection>& violations) {
  v1::Envelope out = DerivedEnvelope(command, 0, now);
  // A command rejected for its ids (400 KB, control characters) is named by a digest
  // of them: the rejection stays small and printable.
  out.set_causation_id(SafeId(command.event_id()));
  out.set_correlation_id(SafeId(out.correlation_id()));
  out.set_subject_key(SafeId(out.subject_key()));
  out.set_pathway_instance_id(SafeId(out.pathway_instance_id()));
  v1::CommandRejected* r = out.mutable_command_rejected();
  r->set_rejected_event_id(SafeId(command.event_id()));
  r->set_field(rejection.field);
  r->set_rule(rejection.rule);
  r->set_reason(rejection.reason);
  // Every violation; a single rejection (a rule of the case's state) lists itself.
  if (violations.empty()) {
    v1::Violation* v = r->add_violations();
    v->set_field(rejection.field);
    v->set_rule(rejection.rule);
    v->set_reason(rejection.reason);
  }
  for (const Rejection& each : violations) {
    v1::Violation* v = r->add_violations();
    v->set_field(each.field);
    v->set_rule(each.rule);
    v->set_reason(each.reason);
  }
  return out;
}

}  // namespace pathway::workflow
