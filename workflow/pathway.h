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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pathway/v1/envelope.pb.h"
#include "pathway/v1/store.pb.h"
#include "workflow/calendar.h"
#include "workflow/rejection.h"

namespace pathway::workflow {

// What a step decided, before it becomes events (workflow.cc turns it into
// PathwayStepRecorded, DeadlineMet, DeadlineCancelled and DeadlineSet events, in that
// order, followed by what the shared record decides for the step's needs).
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
  std::vector<DeadlineSpec> set;
};

// Everything a step function may look at. `instance` is null for a starting step.
struct StepInput {
  const pathway::store::v1::CaseState& case_state;
  const pathway::store::v1::PathwayInstance* instance;
  const pathway::v1::Envelope& command;
  CivilDate on;     // the step's own date (from the command), already checked
  CivilDate today;  // London date of `now`
};

using StepResult = std::variant<Outcome, Rejection>;
using StepFunction = std::function<StepResult(const StepInput&)>;

struct Transition {
  std::string_view step;               // stable snake_case, also the command's name
  std::vector<std::string_view> from;  // empty: the step starts an instance
  std::vector<std::string_view> to;    // every state the step can lead to
  std::string_view label;              // for the diagram
  StepFunction apply;
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

struct Definition {
  pathway::v1::PathwayKind kind;
  uint32_t version;
  std::string_view name;  // stable snake_case, e.g. "ehc_needs_assessment"
  std::string_view title;
  std::vector<std::string_view> states;
  std::vector<std::string_view> terminal;
  std::vector<Transition> transitions;
  // Per step, the facts it needs from a family or another agency (data, so `pathwayctl
  // describe` lists them); at most one entry per step, naming a step of `transitions`.
  std::vector<StepNeeds> needs;

  const Transition* Find(std::string_view step) const;
  // The needs of `step` (empty if it declares none).
  std::span<const Need> NeedsOf(std::string_view step) const;
  bool IsTerminal(std::string_view state) const;
};

// Every definition, every version.
std::span<const Definition* const> AllDefinitions();
const Definition* FindDefinition(pathway::v1::PathwayKind kind, uint32_t version);
// The newest version: what a new instance starts with.
const Definition* LatestDefinition(pathway::v1::PathwayKind kind);
const Definition* FindDefinitionByName(std::string_view name);

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
