// Pathway definitions: each SEND pathway as a versioned state machine.
//
// A Definition is data (states, transitions, the deadlines each step sets, the facts
// each step needs) plus one step function per transition. `pathwayctl describe` draws
// the diagram and lists the needs from the data; workflow::Decide runs the step
// functions and puts each step's needs to the shared record. A running instance keeps
// the version it started with: definitions are looked up by (pathway, version), and a
// new version is added beside the old one, never edited in place. Needs are not part
// of the version (they change what the record is asked, not the state machine:
// docs/decisions.md 90).
//
// Everything here is immutable after static initialisation and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/rejection.h"

namespace pathway::workflow {

// What a step decided, before it becomes events (workflow.cc turns it into
// PathwayStepRecorded, DataQualityWarning, DeadlineMet, DeadlineCancelled,
// DeadlineSuperseded and DeadlineSet events, in that order, followed by what the
// shared record decides for the step's needs).
struct DeadlineSpec {
  std::string name;
  CivilDate due;
  std::string rule;
  bool exceptable = false;
};

struct Outcome {
  std::string to_state;
  std::vector<pathway::v1::Fact> facts;
  std::vector<std::string> met;                             // pending deadlines met today
  std::vector<std::pair<std::string, std::string>> cancel;  // name, reason
  bool cancel_all_pending = false;                          // the instance has ended
  // Deadlines replaced by a later one for the same duty: (old name, new name), the new
  // one being in `set`. The old one (unless met) ends SUPERSEDED and never breaches.
  std::vector<std::pair<std::string, std::string>> supersede;
  std::vector<DeadlineSpec> set;
  // Data-quality notes on the step (e.g. a rule that could not be checked because the
  // step was implied): recorded on PathwayStepRecorded.warnings.
  std::vector<std::string> warnings;
};

// Everything a step function may look at. `instance` is null for a starting step.
struct StepInput {
  const pathway::store::v1::CaseState& case_state;
  const pathway::store::v1::PathwayInstance* instance;
  const pathway::v1::Envelope& command;
  CivilDate on;  // the step's own date (from the command's business-date field), checked
  // For an implied step (Transition::implied): the state the step that implies it needs
  // it to leave (one of its `to`, or empty when it keeps the state). `command` is then
  // the command of the step that implies it.
  std::string_view implied_to = {};
};

using StepResult = std::variant<Outcome, Rejection>;
using StepFunction = std::function<StepResult(const StepInput&)>;

// How a command reaches its step: the Envelope payload field it arrives in and, inside
// that payload, its reference field and its business-date field (protobuf field names,
// resolved against the descriptors once; a name that does not resolve is a bug the
// command mapping test reports).
struct CommandFields {
  std::string_view payload;    // e.g. "ehc_assessment_requested"
  std::string_view reference;  // e.g. "request_id"
  std::string_view date;       // e.g. "received_on"
};

// An earlier step that a step implies when the instance has not recorded it: a meeting
// held was scheduled; a certificate issued means the adviser was contacted.
struct Implication {
  std::string_view step;  // the earlier step; its Transition has an `implied` function
  // The state the earlier step leaves the instance in; empty when it keeps the state, so
  // only `missing` can call for it.
  std::string_view state;
  // Whether the earlier step is missing although the state allows the later one (e.g. no
  // handover to this service planned). Null: only the state tells.
  bool (*missing)(const StepInput&) = nullptr;
};

struct Transition {
  std::string_view step;               // stable snake_case
  std::vector<std::string_view> from;  // empty: the step starts an instance
  std::vector<std::string_view> to;    // every state the step can lead to
  std::string_view label;              // for the diagram
  StepFunction apply;
  CommandFields command;  // the one command that records this step
  // Earlier steps this one implies when they are missing, tried in order. When the
  // instance's state does not allow this step but would after them (recursively), the
  // engine records each as implied, dated this step's date, with a data-quality warning
  // naming the message that never came, then this step. docs/pathways.md lists them.
  std::vector<Implication> implies = {};
  // Records this step when only a later step shows it happened: no command of its own,
  // so it checks only what the dates known allow. Null: never implied.
  StepFunction implied = nullptr;
  // Recorded by whoever refers the child (a GP, a school), who is not a service running
  // the pathway: the step puts the pathway on no caseload (docs/gateway.md, "Caseloads").
  bool by_referrer = false;
};

// A fact a step needs ("tell it once", docs/tell-it-once.md). The shared record serves
// it when it holds a valid fact the step's agency may use; otherwise `asked` is asked
// for it, unless anyone was already asked for that fact type within its validity
// period or the record holds it (then the need waits for consent or reconciliation).
struct Need {
  pathway::v1::FactType fact;
  pathway::v1::Respondent asked;
};

// The facts one step needs. They are put to the record when the step is recorded and
// the instance goes on; a step that ends the instance (e.g. a refusal to assess)
// needs nothing, since nothing is left to use the facts for.
struct StepNeeds {
  std::string_view step;
  std::vector<Need> needs;
};

// The pathway command an Envelope carries, as the definitions map it: which pathway and
// step it records, and its reference and business date. Built once from
// AllDefinitions(); every Envelope payload is claimed by at most one (pathway, step).
struct CommandRoute {
  pathway::v1::PathwayKind kind = pathway::v1::PATHWAY_KIND_UNSPECIFIED;
  std::string_view step;
  int payload_number = 0;            // the Envelope oneof field number
  std::string_view payload;          // its name, e.g. "annual_review_due"
  std::string_view reference_field;  // in the payload, e.g. "review_id"
  std::string_view date_field;       // in the payload, e.g. "plan_or_last_review_on"
  const google::protobuf::FieldDescriptor* payload_descriptor = nullptr;
  const google::protobuf::FieldDescriptor* reference_descriptor = nullptr;
  const google::protobuf::FieldDescriptor* date_descriptor = nullptr;
};
// The route of `command`'s payload; null when it is not a pathway command.
const CommandRoute* FindCommandRoute(const pathway::v1::Envelope& command);
// Every route, in Envelope field number order.
std::span<const CommandRoute> AllCommandRoutes();
// The payload's reference ("" when unset) and business date (null when unset).
std::string CommandReference(const CommandRoute& route, const pathway::v1::Envelope& command);
const pathway::v1::Date* CommandDate(const CommandRoute& route,
                                     const pathway::v1::Envelope& command);
// "<payload>.<date field>" of `command` (e.g. "annual_review_report_sent.sent_on"), or
// "payload" when it is not a pathway command: what a date rejection names, also for a
// step implied by `command`.
std::string CommandDateField(const pathway::v1::Envelope& command);

struct Definition {
  pathway::v1::PathwayKind kind;
  uint32_t version;
  std::string_view name;  // stable snake_case, e.g. "ehc_needs_assessment"
  std::string_view title;
  std::vector<std::string_view> states;
  std::vector<std::string_view> terminal;
  // The states in which the child waits for the service (its waiting list): none for
  // a pathway that is not a wait (an annual review).
  std::vector<std::string_view> waiting = {};
  std::vector<Transition> transitions;
  // Per step, the facts it needs from a family or another agency (data, so `pathwayctl
  // describe` lists them); at most one entry per step, naming a step of `transitions`.
  std::vector<StepNeeds> needs;

  const Transition* Find(std::string_view step) const;
  // The needs of `step` (empty if it declares none).
  std::span<const Need> NeedsOf(std::string_view step) const;
  bool IsTerminal(std::string_view state) const;
  bool IsWaiting(std::string_view state) const;
};

// Every definition, every version.
std::span<const Definition* const> AllDefinitions();
const Definition* FindDefinition(pathway::v1::PathwayKind kind, uint32_t version);
// The newest version: what a new instance starts with.
const Definition* LatestDefinition(pathway::v1::PathwayKind kind);
const Definition* FindDefinitionByName(std::string_view name);
// Adds "PATHWAY=VERSION" (a definition's name and one of its versions: which version new
// instances of that pathway start under, DecideOptions::start_versions) to `versions`.
// Else why not, naming the part at fault; a pathway named twice is refused.
std::optional<std::string> AddStartVersion(std::string_view spec,
                                           std::map<pathway::v1::PathwayKind, uint32_t>& versions);

// The Mermaid state diagram of `definition`, drawn from its data.
std::string DescribeMermaid(const Definition& definition);
// A Markdown table of the facts each step of `definition` needs: step, fact type, who
// is asked when the record cannot give it, and how long an answer stays valid.
std::string DescribeNeeds(const Definition& definition);

// Helpers for step functions.
std::string FactValue(const pathway::store::v1::PathwayInstance& instance, std::string_view key);
bool HasFact(const pathway::store::v1::PathwayInstance& instance, std::string_view key,
             std::string_view value);
const pathway::store::v1::Deadline* FindDeadline(
    const pathway::store::v1::PathwayInstance& instance, std::string_view name);
pathway::v1::Fact MakeFact(std::string key, std::string value);

}  // namespace pathway::workflow
