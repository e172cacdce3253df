// The pure, deterministic core: what a command means for a case.
//
// Decide() turns a command into events or a rejection; Apply() folds an event into
// case state and never fails. No I/O, no clock reads (time is an argument), no
// randomness: the same inputs always give byte-identical outputs, which is what
// makes rebuild and replay possible. Thread-safe (no shared state).
//
// Pathway commands are run by the definitions in workflow/pathway.h; deadlines they
// set are fired by the timers of workflow/timers.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/time_source.h"
#include "pathway/config/v1/config.pb.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/calendar.h"
#include "workflow/pathway.h"
#include "workflow/rejection.h"
#include "workflow/retention.h"

namespace pathway::workflow {

// The version of the referral definition a new case starts with.
inline constexpr uint32_t kReferralDefinitionVersion = 1;

struct Decision {
  std::vector<pathway::v1::Envelope> events;  // to record and emit, in order
  std::optional<Rejection> rejection;         // set iff events is empty
};

// The London date of `command.occurred_at`: the command's own "today", against which
// every "not after today" check runs, identically in the engine and in simulate (the
// processing time never decides a check). nullopt when unset or out of range; Decide
// rejects such a command (field occurred_at).
std::optional<CivilDate> CommandDay(const pathway::v1::Envelope& command);

// Arrival order: a place in business-date order, as a string that sorts as the places
// do ("YYYYMMDD|rank|tiebreak"). A deadline timer firing on `on` comes before every
// command dated `on` (workflow/case_step.h CommandOrder).
std::string TimerOrder(const pathway::v1::Date& on);

// Field checks that need no case state, the first violation of ReferralViolations
// (workflow/command_check.h). `today` is the command's day (CommandDay).
std::optional<Rejection> ValidateReferral(const pathway::v1::ReferralSubmitted& referral,
                                          CivilDate today);

// A step a kept command reports (workflow/case_step.h): while a case is re-decided in
// date order, a step is never implied on a date before the date a command reports for
// it (the known date wins; the implying command is refused, rule
// date.before_reported_step).
struct KnownStep {
  pathway::v1::PathwayKind kind = pathway::v1::PATHWAY_KIND_UNSPECIFIED;
  std::string reference;
  std::string step;
  CivilDate on;
};

// Deployment settings a decision depends on (the same in the engine and simulator).
inline constexpr int kDefaultIdentityHoldDays = 14;
struct DecideOptions {
  // How long a command that names only an unlinked UPN or local id waits for its link
  // before it is rejected (rule identity_unlinked).
  int identity_hold_days = kDefaultIdentityHoldDays;
  // What an erasure request is checked against (workflow/retention.h).
  std::vector<RetentionRule> retention_rules = DefaultRetentionRules();
  // Sharing the law allows without consent (workflow/sharing.h; checked by
  // ParseStatutorySharing). Null: none, so nothing is shared without consent. Not
  // owned: it must outlive every Decide that uses these options.
  const pathway::config::v1::StatutorySharing* sharing = nullptr;
  // Whether a step's needs go to the shared record. Off only while a case is re-decided
  // in date order (workflow/case_step.h): needs are decided once, when a step arrives.
  bool decide_needs = true;
  // Steps the case's kept commands report (null: none known beyond the case itself).
  const std::vector<KnownStep>* known_steps = nullptr;
  // Whether a pathway command's events are whole: with their envelope (id, subject,
  // times, source, correlation). Off only for the kept commands replayed while a case is
  // re-decided: their events are folded into the case and dropped, and Apply reads
  // only a pathway event's payload.
  bool whole_events = true;
  // Instance id -> the definition version an instance of that id starts under. A
  // running instance keeps the version it started with: a re-decision of the case
  // (workflow/case_step.h) pins each instance it holds to its own version, and a
  // migration (CaseMigrateRequested) pins the instances it moves to the new one.
  // Instance ids do not depend on the version. Null or absent: start versions below.
  // Not owned.
  const std::map<std::string, uint32_t>* versions = nullptr;
  // Pathway kind -> the version a new instance not pinned above starts under (a
  // deployment that has not yet started new instances on a newer version, and tests
  // that start on an older one). Null or absent: the latest (LatestDefinition). Not
  // owned.
  const std::map<pathway::v1::PathwayKind, uint32_t>* start_versions = nullptr;
};

// The definition a new instance of `kind` with `reference` for `subject_key` starts
// under, as `options` pin it: its pinned version, else the start version of its kind,
// else the latest (also when the version named is not in this binary).
const Definition* StartDefinition(pathway::v1::PathwayKind kind, const std::string& subject_key,
                                  const std::string& reference, const DecideOptions& options);

// The decision for `command` against `state` at `now`. `command.subject_key()` must
// be set (the intake stage sets it).
Decision Decide(const pathway::store::v1::CaseState& state, const pathway::v1::Envelope& command,
                TimePoint now, const DecideOptions& options = {});

// Folds `event` (one produced by Decide) into `state`. Unknown events only count
// towards history_length, so an older binary can still rebuild.
void Apply(pathway::store::v1::CaseState& state, const pathway::v1::Envelope& event);

// Which child a command is about: the NHS number that routes it to the child's
// partition, an alias (workflow/identity.h) or why it has neither. Checked by the
// intake stage (workflow::Intake) before anything else.
struct Routing {
  std::string nhs_number;              // set when routable by the child's NHS number
  std::string alias;                   // or the hash input of the only identifier named
  std::optional<Rejection> rejection;  // set when neither
};
Routing RouteCommand(const pathway::v1::Envelope& command);

// An event caused by `command`: envelope fields shared with it, and the deterministic
// id DerivedEventId(CommandIdentity(command), index) (workflow/event_identity.h).
pathway::v1::Envelope DerivedEnvelope(const pathway::v1::Envelope& command, uint32_t index,
                                      TimePoint now);
// The same without an event id: for an event whose id derives from something else.
pathway::v1::Envelope CausedEnvelope(const pathway::v1::Envelope& command, TimePoint now);

// `ts` set to `t` (microseconds kept).
void SetTimestamp(google::protobuf::Timestamp* ts, TimePoint t);

// The CommandRejected envelope for `command`, with a deterministic event id. Its fields
// 2-4 name `rejection`; its `violations` list `violations` (every violation of the
// command, `rejection` first: workflow/command_check.h), or `rejection` alone if empty.
pathway::v1::Envelope MakeRejection(const pathway::v1::Envelope& command,
                                    const Rejection& rejection, TimePoint now,
                                    const std::vector<Rejection>& violations = {});

}  // namespace pathway::workflow
