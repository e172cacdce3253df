#include "services/operations/deadletter_actions.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <set>
#include <utility>

#include "common/crypto.h"
#include "services/operations/report_json.h"
#include "services/topics.h"
#include "workflow/identifiers.h"
#include "workflow/identity.h"

namespace pathway::operations {
namespace {
namespace v1 = pathway::v1;
namespace store = pathway::store::v1;
using report::Array;
using report::Json;

std::string ActionName(DeadLetterAction action) {
  switch (action) {
    case DeadLetterAction::kShow:
      return "deadletters show";
    case DeadLetterAction::kResubmit:
      return "deadletters resubmit";
    case DeadLetterAction::kDiscard:
      return "deadletters discard";
  }
  return "deadletters";
}

// `e` with the words for the operator as its detail.
Error Told(const Error& e) { return Error{e.code, DeadLetterErrorText(e)}; }

Error NotRecorded(std::string what, const Error& e) {
  what += e.ToString();
  return Error{NotAudited(), std::move(what)};
}

// Records FAILED; a record not confirmed is told, the action's own error returned.
Error Failed(const DeadLetterActor& actor, OperationAudit& audit, Error e, const Counts& counts) {
  if (Status s = audit.Fail(e.detail, counts); !s && actor.warn) {
    actor.warn("the audit record FAILED was not confirmed: " + s.error().ToString());
  }
  return e;
}

// The subject keys of the children the original names, as the engine's intake routes
// it (none if intake would reject it).
std::set<std::string> ChildrenNamed(const v1::Envelope& e, const SubjectKeyFn& subject_key) {
  workflow::IntakeOutput routed = workflow::Intake(e, subject_key);
  std::set<std::string> keys;
  for (const v1::Envelope& c : routed.commands) {
    if (!c.subject_key().empty()) keys.insert(c.subject_key());
  }
  return keys;
}

std::string OriginalJson(const DeadLetterRecord& r) {
  return Json()
      .Str("topic", r.dead().topic())
      .Num("partition", r.dead().partition())
      .Num("offset", r.dead().offset())
      .Num("bytes", static_cast<int64_t>(r.dead().original_size()))
      .Str("written_by", r.FromIntake() ? "intake" : "outbox")
      .Done();
}

std::string DispositionJson(const store::DeadLetterDisposition& d) {
  Json j;
  j.Str("operation_id", d.operation_id())
      .Str("operator", d.operator_id())
      .Str("at", UtcText(d.at_ms()));
  if (d.outcome() == store::DEAD_LETTER_OUTCOME_RESUBMITTED) {
    j.Field("resubmitted_to", Json()
                                  .Str("topic", topics::kInbound)
                                  .Num("partition", d.resubmitted_partition())
                                  .Num("offset", d.resubmitted_offset())
                                  .Done());
  }
  return j.Done();
}

}  // namespace

Result<DeadLetterRecord> FindForAction(bus::Consumer& consumer, DeadLetterPlace place,
                                       DeadLetterAction action, std::string_view kek,
                                       Deadline deadline) {
  auto found = FindDeadLetter(consumer, place, deadline);
  if (!found) return Told(found.error());
  if (action != DeadLetterAction::kShow) {
    if (auto refusal = RefusalToClose(*found, action == DeadLetterAction::kResubmit)) {
      return Error{found->disposition ? DeadLetterClosed() : Refused(), *refusal};
    }
  }
  // The key must be the deployment's, checked before an action starts, so that a reason
  // is never sealed on the audit trail under another deployment's key.
  if (!kek.empty() && !SealedUnder(*found, DeadLetterKey(kek))) {
    std::string detail = "the key-encryption key given does not open dead letter ";
    detail += place.Text();
    detail += ": it is not this deployment's (the engine's --key-encryption-key-file)";
    return Error{WrongDeadLetterKey(), std::move(detail)};
  }
  return found;
}

Status ShowDeadLetter(const DeadLetterActor& actor, const DeadLetterRecord& r,
                      bus::Consumer& consumer, const SubjectKeyFn& subject_key,
                      const std::function<void(const DeadLetterShown&)>& show) {
  auto started = OperationAudit::Start(
      actor.audit, actor.who,
      {ActionName(DeadLetterAction::kShow), "dead letter " + r.place.Text(), false}, actor.kek,
      actor.time);
  if (!started) return NotRecorded("nothing shown: ", started.error());
  OperationAudit& audit = **started;

  auto content = OpenOriginal(consumer, r, DeadLetterKey(actor.kek), actor.deadline);
  consumer.Close();
  if (!content) return Failed(actor, audit, Told(content.error()), {});
  DeadLetterShown shown;
  shown.record = r;
  shown.whole = content->full || content->bytes.size() == r.dead().original_size();
  std::optional<v1::Envelope> decoded;
  if (shown.whole) {
    v1::Envelope e;
    if (e.ParseFromString(content->bytes)) decoded = std::move(e);
  }
  std::set<std::string> children;
  if (decoded && r.FromIntake()) children = ChildrenNamed(*decoded, subject_key);
  // An engine output names its child by subject key; only the engine's own records are
  // trusted to (a partner's text never becomes a Kafka key).
  if (decoded && !r.FromIntake() && workflow::IsSubjectKey(decoded->subject_key())) {
    children.insert(decoded->subject_key());
  }
  // On each child's own trail before anything of theirs is shown.
  for (const std::string& key : children) {
    if (Status s = audit.ChildShown(key); !s) {
      std::string detail = "nothing shown: the child's audit record was not confirmed: ";
      detail += s.error().detail;
      const Error told{s.error().code, std::move(detail)};
      return Failed(actor, audit, Error{NotAudited(), told.ToString()}, {});
    }
  }
  const Counts counts = {{"bytes_shown", content->bytes.size()}, {"children", children.size()}};
  // One without a JSON form (a timestamp out of its range) is shown as its bytes.
  if (decoded) {
    if (std::optional<std::string> json = EnvelopeJson(*decoded, false)) {
      shown.envelope_json = std::move(*json);
      shown.unknown_fields = UnknownFieldNumbers(*decoded);
      shown.decoded = std::move(decoded);
    }
  }
  shown.content = std::move(*content);
  shown.children = children.size();
  shown.operation_id = audit.id();
  show(shown);
  if (Status s = audit.Finish(counts); !s) {
    return NotRecorded("the audit record FINISHED was not confirmed: ", s.error());
  }
  return Status::Ok();
}

Status CloseDeadLetter(const DeadLetterActor& actor, const DeadLetterRecord& r,
                       DeadLetterAction action, bus::Consumer& consumer, bus::Producer& producer,
                       DeliveryWaiter& waiter,
                       const std::function<void(const DeadLetterRecord& closed,
                                                const std::string& operation_id)>& done) {
  const bool resubmit = action == DeadLetterAction::kResubmit;
  auto started = OperationAudit::Start(actor.audit, actor.who,
                                       {ActionName(action), "dead letter " + r.place.Text(), false},
                                       actor.kek, actor.time);
  if (!started) return NotRecorded("nothing done: ", started.error());
  OperationAudit& audit = **started;
  const Closer closer{
      audit.id(), actor.who.operator_id,
      std::chrono::duration_cast<std::chrono::milliseconds>(actor.time.Now().time_since_epoch())
          .count()};

  DeadLetterRecord closed = r;
  Counts counts;
  if (resubmit) {
    ResubmitResult result;
    Status s = Resubmit(consumer, producer, waiter, r, closer, actor.deadline, result);
    consumer.Close();
    counts = {{"resubmitted", result.copy ? 1u : 0u}, {"bytes", result.copy ? result.bytes : 0}};
    if (!s) {
      Error e = Told(s.error());
      if (result.copy) {
        std::string detail = "the original was resubmitted as ";
        detail += topics::kInbound;
        detail += '/';
        detail += std::to_string(result.copy->partition);
        detail += '/';
        detail += std::to_string(result.copy->offset);
        detail += ", but ";
        detail += e.detail;
        detail +=
            ". The dead letter stays open; running resubmit again is safe (the engine "
            "drops a repeated event id)";
        e.detail = std::move(detail);
      }
      return Failed(actor, audit, std::move(e), counts);
    }
    closed.disposition = std::move(result.disposition);
  } else {
    consumer.Close();
    auto discarded = Discard(producer, waiter, r, closer, actor.deadline);
    counts = {{"discarded", discarded ? 1u : 0u}};
    if (!discarded) return Failed(actor, audit, Told(discarded.error()), counts);
    closed.disposition = std::move(*discarded);
  }
  const Status finished = audit.Finish(counts);
  done(closed, audit.id());
  if (!finished) {
    return NotRecorded("done, but the audit record FINISHED was not confirmed: ", finished.error());
  }
  return Status::Ok();
}

std::string DeadLetterJson(const DeadLetterRecord& r) {
  Json j;
  j.Str("place", r.place.Text())
      .Num("partition", r.place.partition)
      .Num("offset", r.place.offset)
      .Str("written", UtcText(r.timestamp_ms))
      .Str("event_id", r.envelope.event_id())
      .Str("reason", ShownReason(r.dead().reason()))
      .Field("original", OriginalJson(r))
      .Str("disposition", r.DispositionText());
  if (r.disposition) j.Field("decided", DispositionJson(*r.disposition));
  return j.Done();
}

std::string ShownJson(const DeadLetterShown& shown, bool hex) {
  const DeadLetterRecord& r = shown.record;
  const OriginalContent& content = shown.content;
  Json c;
  c.Bool("sealed", false)
      .Str("source", content.full ? "original" : "excerpt")
      .Num("bytes", static_cast<int64_t>(content.bytes.size()))
      .Num("original_bytes", static_cast<int64_t>(r.dead().original_size()))
      .Bool("sha256_verified", content.full)
      .Str("sha256", HexEncode(r.dead().original_sha256()));
  if (!content.full) c.Str("why_excerpt", content.why_excerpt);
  if (shown.decoded) {
    c.Str("payload", PayloadName(*shown.decoded)).Field("envelope", shown.envelope_json);
    std::vector<std::string> numbers;
    for (int n : shown.unknown_fields) numbers.push_back(std::to_string(n));
    c.Field("unknown_fields", Array(numbers));
  }
  if (!shown.decoded || hex) c.Str("hex", HexEncode(content.bytes));
  return Json()
      .Field("dead_letter", DeadLetterJson(r))
      .Field("content", c.Done())
      .Str("operation_id", shown.operation_id)
      .Done();
}

std::string ClosedJson(const DeadLetterRecord& closed, std::string_view operation_id) {
  return Json()
      .Field("dead_letter", DeadLetterJson(closed))
      .Str("operation_id", operation_id)
      .Done();
}

std::optional<std::string> EnvelopeJson(const v1::Envelope& e, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(e, &text, options).ok()) return std::nullopt;
  return text;
}

std::string PayloadName(const v1::Envelope& e) {
  if (e.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) return "no payload it knows";
  const auto* field = v1::Envelope::descriptor()->FindFieldByNumber(e.payload_case());
  return field ? field->name() : "field " + std::to_string(e.payload_case());
}

}  // namespace pathway::operations
