// Identity (docs/tell-it-once.md section 4): a child is keyed by the keyed hash of
// their NHS number; a UPN or a partner's local id is an *alias*, keyed the same way
// ("upn:<UPN>", "local:<system>:<id>"), and linked to the child by IdentifierLinked.
//
// A command that names only an alias is routed to the alias's partition and held
// there (CommandHeld) until the link arrives (HeldCommandReleased: the command goes on
// to the child's partition) or the hold ends (HeldCommandExpired: the command is
// rejected with rule identity_unlinked). Once linked, later alias commands are held
// and released in one decision. Pure functions, like the rest of workflow/;
// thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_source.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/rejection.h"
#include "workflow/workflow.h"

namespace pathway::workflow {

// What the intake stage publishes on pathway.commands.v1 for one inbound command,
// each keyed by its subject_key (set here), or why it publishes nothing. `key` is the
// deployment's keyed hash (SubjectKeyer::Key). An IdentifierLinked becomes an
// AliasLinked for the alias's partition, so no clear identifier passes intake. A
// command with any value outside the input limits (workflow/input_limits.h: unknown
// enum numbers, dates and timestamps out of range, over-long strings, control
// characters, invalid UTF-8), a required field missing or a referral's field in the
// wrong format (workflow/command_check.h) is rejected first, listing every such
// violation.
struct IntakeOutput {
  std::vector<pathway::v1::Envelope> commands;
  std::optional<Rejection> rejection;  // the first violation
  // Every violation, in schema order (first == *rejection), when the command broke
  // stateless rules; empty for a rejection of one rule (routing, identifiers).
  std::vector<Rejection> violations;
  // The child's subject key, when a rejected command names a valid NHS number (a
  // referral's child, any other command's subject) and holds no value outside the input
  // limits: its rejection is then the child's (CommandRejected's subject_key). Else
  // empty.
  std::string subject_key;
};
using KeyFunction = std::function<std::string(std::string_view)>;
IntakeOutput Intake(pathway::v1::Envelope command, const KeyFunction& key);

// The hash input of the alias a subject reference names ("upn:..." or "local:..."),
// empty if it names none; a rejection naming the field if the alias is malformed.
struct Alias {
  std::string hash_input;
  pathway::v1::IdentifierKind kind = pathway::v1::IDENTIFIER_KIND_UNSPECIFIED;
  std::optional<Rejection> rejection;
};
Alias AliasOf(const pathway::v1::SubjectRef& subject);

// An identifier of `kind` in its format (a UPN's check letter, a local id's
// "<system>:<id>"), naming `field`; "required" if it is empty.
std::optional<Rejection> CheckIdentifier(pathway::v1::IdentifierKind kind, const std::string& value,
                                         const std::string& field);

// A command that names a child only by an alias (no NHS number).
bool IsAliasAddressed(const pathway::v1::Envelope& command);

// Decisions for AliasLinked (on the alias or the child) and alias-addressed commands.
bool IsIdentityCommand(const pathway::v1::Envelope& command);
Decision DecideIdentityCommand(const pathway::store::v1::CaseState& state,
                               const pathway::v1::Envelope& command, TimePoint now,
                               const DecideOptions& options);

// What recording `event` sends beyond pathway.events.v1, given the case state just
// before it: commands for pathway.commands.v1 (a released command, a link passed on
// to the child) and rejections for pathway.rejections.v1 (an expired hold).
// Deterministic ids.
struct Emissions {
  std::vector<pathway::v1::Envelope> commands;
  std::vector<pathway::v1::Envelope> rejections;
};
Emissions EmissionsFor(const pathway::store::v1::CaseState& before,
                       const pathway::v1::Envelope& event, TimePoint now);
// Whether EmissionsFor(before, event, ...) reads `before` at all (for every other event
// it gives the same, whatever the case).
bool EmissionsReadCase(const pathway::v1::Envelope& event);

// The copy of `event` for pathway.events.v1: a held command's content stays in the
// alias's history and the changelog only.
pathway::v1::Envelope PublishedCopy(const pathway::v1::Envelope& event);

// Folds an identity event into `state`; false if `event` is not one.
bool ApplyIdentityEvent(pathway::store::v1::CaseState& state, const pathway::v1::Envelope& event);

}  // namespace pathway::workflow
