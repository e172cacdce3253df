#include "services/pathwayctl/inbound_redrive.h"

#include <algorithm>

#include "services/pathwayctl/deadletters.h"
#include "workflow/case_step.h"
#include "workflow/event_identity.h"

namespace pathway::ctl {
namespace {
namespace v1 = pathway::v1;

enum class Seen { kNo, kSame, kOther, kErased };

// Where one routed command stands, as the engine's command stage would find it: its
// dedupe entry, else (an entry past its retention, or not restored) the case's kept
// copy of it, else nothing.
Result<Seen> Lookup(const v1::Envelope& c, const std::vector<state::CaseStore*>& stores) {
  const std::string identity = workflow::CommandIdentity(c);
  const std::string digest = workflow::ContentDigest(c);
  for (state::CaseStore* store : stores) {
    auto seen = store->SeenEvent(identity);
    if (!seen) return seen.error();
    if (*seen) return (*seen)->empty() || **seen == digest ? Seen::kSame : Seen::kOther;
  }
  for (state::CaseStore* store : stores) {
    auto loaded = store->LoadCase(c.subject_key());
    if (!loaded) return loaded.error();
    if (!*loaded) continue;
    const auto& state = **loaded;
    if (state.erased()) return Seen::kErased;
    if (state.decided_through().empty() || !workflow::IsRedecidable(c) ||
        workflow::CommandOrder(c) > state.decided_through()) {
      return Seen::kNo;
    }
    auto history = store->HistoryFrom(c.subject_key(), state.history_kept_from());
    if (!history) return history.error();
    workflow::KeepHeld(*history, state);
    auto kept = workflow::KeptCommandDigest(*history, identity);
    if (!kept) return Seen::kNo;
    return *kept == digest ? Seen::kSame : Seen::kOther;
  }
  return Seen::kNo;
}

}  // namespace

std::string_view FateName(InboundFate fate) {
  switch (fate) {
    case InboundFate::kProcessed:
      return "processed";
    case InboundFate::kNew:
      return "new";
    case InboundFate::kReusedId:
      return "reused_id";
    case InboundFate::kRefused:
      return "refused";
    case InboundFate::kDeadLettered:
      return "dead_lettered";
  }
  return "unknown";
}

Result<InboundVerdict> JudgeInbound(const bus::Message& m, const workflow::KeyFunction& key,
                                    const std::vector<state::CaseStore*>& stores,
                                    size_t max_message_bytes) {
  InboundVerdict verdict;
  // The intake stage's own order of checks (services/engine/intake_stage.cc).
  auto dead = [&](std::string reason) {
    verdict.fate = InboundFate::kDeadLettered;
    verdict.reason = std::move(reason);
    return verdict;
  };
  if (m.value.size() > max_message_bytes) return dead("larger than the inbound limit");
  v1::Envelope command;
  if (!command.ParseFromString(m.value)) {
    return dead("value does not decode as a pathway.v1.Envelope");
  }
  if (command.payload_case() == v1::Envelope::PAYLOAD_NOT_SET &&
      !UnknownFieldNumbers(command).empty()) {
    return dead("unknown payload: published with a newer schema than this version knows");
  }
  if (const auto* field = v1::Envelope::descriptor()->FindFieldByNumber(command.payload_case())) {
    verdict.payload = field->name();
  }
  verdict.fate = InboundFate::kRefused;
  if (command.event_id().empty()) {
    verdict.reason = "event_id: required";
    return verdict;
  }
  workflow::IntakeOutput routed = workflow::Intake(command, key);
  if (routed.rejection) {
    verdict.reason = routed.rejection->field + ": " + routed.rejection->rule;
    return verdict;
  }
  bool fresh = false, reused = false, erased = false;
  for (const auto& c : routed.commands) {
    verdict.subjects.push_back(c.subject_key());
    auto seen = Lookup(c, stores);
    if (!seen) return seen.error();
    fresh = fresh || *seen == Seen::kNo;
    reused = reused || *seen == Seen::kOther;
    erased = erased || *seen == Seen::kErased;
  }
  if (erased) {
    verdict.reason = "subject_key: subject_erased";
  } else if (reused) {
    verdict.fate = InboundFate::kReusedId;
  } else {
    verdict.fate = fresh ? InboundFate::kNew : InboundFate::kProcessed;
  }
  return verdict;
}

}  // namespace pathway::ctl
