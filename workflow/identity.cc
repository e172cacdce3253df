#include "workflow/identity.h"

#include <algorithm>

#include "common/crypto.h"
#include "workflow/calendar.h"
#include "workflow/clock.h"
#include "workflow/command_check.h"
#include "workflow/identifiers.h"
#include "workflow/input_limits.h"
#include "workflow/shared_record.h"

namespace pathway::workflow {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;

constexpr size_t kMaxLocalIdLength = 128;

// "<system>:<id>": both parts present, printable, no spaces; the system part is the
// partner system's code, so the same number in two systems is two aliases.
bool IsValidLocalId(std::string_view id) {
  if (id.empty() || id.size() > kMaxLocalIdLength) return false;
  size_t colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

}  // namespace

std::optional<Rejection> CheckIdentifier(v1::IdentifierKind kind, const std::string& value,
                                         const std::string& field) {
  if (value.empty()) return Rejection{field, "required", "this field is required"};
  if (kind == v1::IDENTIFIER_KIND_UPN && !IsValidUpn(value)) {
    return Rejection{field, "upn.check_letter",
                     "a UPN is 13 upper-case characters whose first is the check letter of the "
                     "other twelve"};
  }
  if (kind == v1::IDENTIFIER_KIND_LOCAL_ID && !IsValidLocalId(value)) {
    return Rejection{field, "local_id.format",
                     "a local id is \"<system>:<id>\", at most 128 printable characters without "
                     "spaces"};
  }
  return std::nullopt;
}

namespace {
std::string HashInput(v1::IdentifierKind kind, const std::string& value) {
  return (kind == v1::IDENTIFIER_KIND_UPN ? "upn:" : "local:") + value;
}

const char* KindField(v1::IdentifierKind kind) {
  return kind == v1::IDENTIFIER_KIND_UPN ? "subject.upn" : "subject.local_id";
}

const v1::CommandHeld* FindHeld(const store::CaseState& state, const std::string& event_id) {
  for (const auto& h : state.held()) {
    if (h.held_event_id() == event_id) return &h;
  }
  return nullptr;
}

Decision Reject(Rejection r) { return Decision{{}, std::move(r)}; }

// The command a released hold sends on: to the child's key, without the alias (so the
// child's partition decides it as an ordinary command), under an id of its own (the
// original id is already in the alias's dedupe set, which may be the same store).
v1::Envelope Forwarded(const v1::CommandHeld& held, const std::string& subject_key) {
  v1::Envelope command;
  if (!command.ParseFromString(held.command())) return command;  // written by us: never
  command.set_event_id(DerivedEventId("forwarded|" + held.held_event_id(), 0));
  command.set_causation_id(held.held_event_id());
  command.set_subject_key(subject_key);
  command.clear_subject();
  // The partner's message was answered when it was held: one outcome per message.
  command.clear_inbound_place();
  return command;
}
}  // namespace

Alias AliasOf(const v1::SubjectRef& subject) {
  Alias alias;
  if (!subject.upn().empty()) {
    alias.kind = v1::IDENTIFIER_KIND_UPN;
    alias.rejection = CheckIdentifier(alias.kind, subject.upn(), "subject.upn");
    alias.hash_input = HashInput(alias.kind, subject.upn());
  } else if (!subject.local_id().empty()) {
    alias.kind = v1::IDENTIFIER_KIND_LOCAL_ID;
    alias.rejection = CheckIdentifier(alias.kind, subject.local_id(), "subject.local_id");
    alias.hash_input = HashInput(alias.kind, subject.local_id());
  }
  if (alias.rejection) alias.hash_input.clear();
  return alias;
}

bool IsAliasAddressed(const v1::Envelope& command) {
  return command.subject().nhs_number().empty() &&
         (!command.subject().upn().empty() || !command.subject().local_id().empty());
}

bool IsIdentityCommand(const v1::Envelope& command) {
  return command.has_alias_linked() || IsAliasAddressed(command);
}

IntakeOutput Intake(v1::Envelope command, const KeyFunction& key) {
  IntakeOutput out;
  // First, so no value outside the input limits reaches routing, keying or any case;
  // every stateless violation at once (input limits, required fields, formats).
  std::vector<Rejection> violations = CommandViolations(command);
  // The envelope's own required fields missing alone (event_id, occurred_at) are left
  // to Decide, as before: the command still reaches its case, whose history records
  // the rejection. With any other violation they are listed with it.
  const bool only_envelope = std::all_of(violations.begin(), violations.end(), [](const auto& r) {
    return r.rule == "required" && r.field.find('.') == std::string::npos;
  });
  if (!only_envelope) {
    out.rejection = violations.front();
    out.violations = std::move(violations);
    // A rejection about a child the command names validly is the child's, unless the
    // command holds values outside the input limits: hostile input stays unrouted, off
    // every child (only on this rare path is the command walked twice).
    const std::string& nhs = command.has_referral_submitted()
                                 ? command.referral_submitted().child().nhs_number()
                                 : command.subject().nhs_number();
    if (IsValidNhsNumber(nhs) && !CheckInputLimits(command)) out.subject_key = key(nhs);
    return out;
  }
  if (command.has_alias_linked()) {
    out.rejection = Rejection{"alias_linked", "internal_command",
                              "alias_linked is written by the engine; partners send "
                              "identifier_linked"};
    return out;
  }
  if (command.has_erasure_requested() &&
      !command.erasure_requested().erased_subject_key().empty()) {
    out.rejection = Rejection{"erasure_requested.erased_subject_key", "internal_command",
                              "set by the engine only; partners name the child in subject"};
    return out;
  }
  // An IdentifierLinked's kind, value and date, and every command's subject, were
  // checked with the rest (CommandViolations): all at once.
  Routing routing = RouteCommand(command);
  if (routing.rejection) {
    out.rejection = routing.rejection;
    return out;
  }
  if (command.has_identifier_linked()) {
    // The alias's partition decides the link (it alone knows whether the alias is
    // already someone else's); the identifier itself goes no further than here.
    v1::IdentifierLinked link = command.identifier_linked();
    std::string alias_key = key(HashInput(link.kind(), link.value()));
    v1::AliasLinked* linked = command.mutable_alias_linked();  // clears identifier_linked
    linked->set_kind(link.kind());
    linked->set_subject_key(key(routing.nhs_number));
    linked->set_alias_key(alias_key);
    *linked->mutable_linked_on() = link.linked_on();
    command.clear_subject();
    command.set_subject_key(alias_key);
    out.commands.push_back(std::move(command));
    return out;
  }
  command.set_subject_key(key(routing.nhs_number.empty() ? routing.alias : routing.nhs_number));
  out.commands.push_back(std::move(command));
  return out;
}

Decision DecideIdentityCommand(const store::CaseState& state, const v1::Envelope& command,
                               TimePoint now, const DecideOptions& options) {
  const v1::Date today = ToProto(LondonDate(now));
  Decision decision;
  if (command.has_alias_linked()) {
    const v1::AliasLinked& link = command.alias_linked();
    if (link.subject_key().size() != 64 || link.alias_key().size() != 64 ||
        (command.subject_key() != link.alias_key() &&
         command.subject_key() != link.subject_key())) {
      return Reject({"alias_linked", "alias_linked.keys",
                     "an alias link must name the alias and the child it is sent to"});
    }
    const bool on_alias = command.subject_key() == link.alias_key();
    if (on_alias && !state.linked_subject_key().empty() &&
        state.linked_subject_key() != link.subject_key()) {
      return Reject({"identifier_linked.value", "identity_conflict",
                     "this identifier is already linked to another child; a caseworker must "
                     "decide which link is right before it can change"});
    }
    v1::Envelope& e = decision.events.emplace_back(DerivedEnvelope(command, 0, now));
    v1::IdentityLinked* linked = e.mutable_identity_linked();
    linked->set_kind(link.kind());
    linked->set_alias_key(link.alias_key());
    linked->set_subject_key(link.subject_key());
    *linked->mutable_on() = link.linked_on();
    if (on_alias) {
      uint32_t index = 1;
      for (const auto& held : state.held()) {
        v1::Envelope& r = decision.events.emplace_back(DerivedEnvelope(command, index++, now));
        r.mutable_held_command_released()->set_held_event_id(held.held_event_id());
        r.mutable_held_command_released()->set_subject_key(link.subject_key());
        *r.mutable_held_command_released()->mutable_on() = today;
      }
    }
    return decision;
  }

  // Addressed by an alias only: hold it on the alias's partition; release at once if
  // the alias is already linked.
  Alias alias = AliasOf(command.subject());
  if (alias.rejection) return Reject(*alias.rejection);
  if (FindHeld(state, command.event_id())) {
    return Reject({"event_id", "already_held", "this command is already waiting for its link"});
  }
  v1::Envelope& e = decision.events.emplace_back(DerivedEnvelope(command, 0, now));
  v1::CommandHeld* held = e.mutable_command_held();
  held->set_held_event_id(command.event_id());
  held->set_command(command.SerializeAsString());
  *held->mutable_held_on() = today;
  *held->mutable_expires_on() = ToProto(AddDays(LondonDate(now), options.identity_hold_days));
  held->set_kind(alias.kind);
  if (!state.linked_subject_key().empty()) {
    v1::Envelope& r = decision.events.emplace_back(DerivedEnvelope(command, 1, now));
    r.mutable_held_command_released()->set_held_event_id(command.event_id());
    r.mutable_held_command_released()->set_subject_key(state.linked_subject_key());
    *r.mutable_held_command_released()->mutable_on() = today;
  }
  return decision;
}

Emissions EmissionsFor(const store::CaseState& before, const v1::Envelope& event, TimePoint now) {
  Emissions out;
  if (event.has_identity_linked()) {
    const v1::IdentityLinked& linked = event.identity_linked();
    if (event.subject_key() != linked.alias_key()) return out;  // the child's copy
    // Pass the link on to the child's case, so it lists its aliases.
    v1::Envelope command;
    command.set_event_id(DerivedEventId("linked|" + event.event_id(), 0));
    command.set_subject_key(linked.subject_key());
    *command.mutable_occurred_at() = event.occurred_at();  // the day of the link's own command
    *command.mutable_source() = event.source();
    *command.mutable_actor() = event.actor();
    command.set_correlation_id(event.correlation_id());
    command.set_causation_id(event.event_id());
    v1::AliasLinked* link = command.mutable_alias_linked();
    link->set_kind(linked.kind());
    link->set_subject_key(linked.subject_key());
    link->set_alias_key(linked.alias_key());
    *link->mutable_linked_on() = linked.on();
    out.commands.push_back(std::move(command));
  } else if (event.has_erasure_completed() &&
             before.alias_kind() == v1::IDENTIFIER_KIND_UNSPECIFIED) {
    // A child's erasure erases the aliases that name them (their held commands).
    uint32_t index = 0;
    for (const auto& alias : before.aliases()) {
      v1::Envelope command;
      command.set_event_id(DerivedEventId("erase-alias|" + event.event_id(), index++));
      command.set_subject_key(alias.alias_key());
      *command.mutable_occurred_at() = event.occurred_at();
      *command.mutable_source() = event.source();
      *command.mutable_actor() = event.actor();
      command.set_correlation_id(event.correlation_id());
      command.set_causation_id(event.event_id());
      command.mutable_erasure_requested()->set_erased_subject_key(event.subject_key());
      *command.mutable_erasure_requested()->mutable_requested_on() = event.erasure_completed().on();
      out.commands.push_back(std::move(command));
    }
  } else if (event.has_held_command_released()) {
    const auto& released = event.held_command_released();
    if (const v1::CommandHeld* held = FindHeld(before, released.held_event_id())) {
      out.commands.push_back(Forwarded(*held, released.subject_key()));
    }
  } else if (event.has_held_command_expired()) {
    const auto& expired = event.held_command_expired();
    const v1::CommandHeld* held = FindHeld(before, expired.held_event_id());
    v1::Envelope command;
    if (held && command.ParseFromString(held->command())) {
      int days = DaysBetween(StoredDate(held->held_on()), StoredDate(held->expires_on()));
      v1::Envelope rejection =
          MakeRejection(command,
                        {KindField(held->kind()), "identity_unlinked",
                         "no identifier_linked tied this identifier to an NHS number within " +
                             std::to_string(days) + " days; send the link, then the command again"},
                        now);
      // MakeRejection's id is the command's first derived id, which its CommandHeld has.
      rejection.set_event_id(DerivedEventId("unlinked|" + held->held_event_id(), 0));
      out.rejections.push_back(std::move(rejection));
    }
  }
  return out;
}

bool EmissionsReadCase(const v1::Envelope& event) {
  return event.has_erasure_completed() || event.has_held_command_released() ||
         event.has_held_command_expired();
}

v1::Envelope PublishedCopy(const v1::Envelope& event) {
  v1::Envelope copy = event;
  if (copy.has_command_held()) copy.mutable_command_held()->clear_command();
  return copy;
}

bool ApplyIdentityEvent(store::CaseState& state, const v1::Envelope& event) {
  auto drop_held = [&](const std::string& id) {
    auto* held = state.mutable_held();
    for (int i = 0; i < held->size(); ++i) {
      if (held->Get(i).held_event_id() == id) {
        held->DeleteSubrange(i, 1);
        return;
      }
    }
  };
  switch (event.payload_case()) {
    case v1::Envelope::kIdentityLinked: {
      const v1::IdentityLinked& linked = event.identity_linked();
      if (event.subject_key() == linked.alias_key()) {
        state.set_alias_kind(linked.kind());
        state.set_linked_subject_key(linked.subject_key());
        return true;
      }
      for (const auto& a : state.aliases()) {
        if (a.alias_key() == linked.alias_key()) return true;  // a repeated link
      }
      *state.add_aliases() = linked;
      return true;
    }
    case v1::Envelope::kCommandHeld:
      state.set_alias_kind(event.command_held().kind());
      *state.add_held() = event.command_held();
      return true;
    case v1::Envelope::kHeldCommandReleased:
      drop_held(event.held_command_released().held_event_id());
      return true;
    case v1::Envelope::kHeldCommandExpired:
      drop_held(event.held_command_expired().held_event_id());
      return true;
    default:
      return false;
  }
}

}  // namespace pathway::workflow
