// libFuzzer target: a value from pathway.inbound.v1 as the engine's intake stage sees
// it (services/engine/engine.cc, Engine::HandleInbound): decode as an Envelope, route
// and key it (workflow::Intake, fixed HMAC secret), build the rejection for a refused
// command, and run the stateless validation the stateful stage applies first (Decide
// on a new case) to each routed command. Nothing may crash, hang or leak, every
// routed command must carry a subject key as the stateful stage requires, and no
// IdentifierLinked (a clear UPN or local id) may pass.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.h"
#include "pathway/store/v1/store.pb.h"
#include "pathway/v1/envelope.pb.h"
#include "workflow/identity.h"
#include "workflow/workflow.h"

namespace {

namespace v1 = pathway::v1;
namespace wf = pathway::workflow;
using pathway::fuzz::Fail;

constexpr char kTarget[] = "intake_fuzz";

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  pathway::fuzz::Initialize();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::Envelope command;
  if (!command.ParseFromArray(data, static_cast<int>(size))) return 0;  // a dead letter
  if (command.payload_case() == v1::Envelope::PAYLOAD_NOT_SET) {
    // The engine dead-letters an unknown payload and rejects a missing one; the
    // reflection call it makes for the first is exercised here.
    (void)command.GetReflection()->GetUnknownFields(command).field_count();
  }
  if (command.event_id().empty()) command.set_event_id("unidentified|fuzz");

  const pathway::TimePoint now = pathway::fuzz::FixedNow();
  wf::IntakeOutput routed = wf::Intake(command, pathway::fuzz::SubjectKey);
  if (routed.rejection) {
    if (!routed.commands.empty()) Fail(kTarget, "Intake both rejected and routed");
    v1::Envelope out = wf::MakeRejection(command, *routed.rejection, now);
    (void)out.SerializeAsString();
    return 0;
  }
  if (routed.commands.empty()) Fail(kTarget, "Intake neither rejected nor routed");

  const pathway::store::v1::CaseState empty;
  for (const v1::Envelope& c : routed.commands) {
    if (!IsLowerHex64(c.subject_key())) Fail(kTarget, "routed command without a subject key");
    if (c.event_id().empty()) Fail(kTarget, "routed command without an event id");
    // workflow/identity.h: no clear identifier passes intake (a link becomes AliasLinked).
    if (c.has_identifier_linked()) Fail(kTarget, "an IdentifierLinked passed intake");
    std::string bytes = c.SerializeAsString();
    v1::Envelope back;
    if (!back.ParseFromString(bytes)) Fail(kTarget, "a routed command does not decode");

    wf::Decision decision = wf::Decide(empty, back, now);
    if (decision.rejection.has_value() == !decision.events.empty()) {
      Fail(kTarget, "Decide must give events or a rejection, not both or neither");
    }
    if (decision.rejection) {
      (void)wf::MakeRejection(back, *decision.rejection, now).SerializeAsString();
      continue;
    }
    pathway::store::v1::CaseState state;
    for (const v1::Envelope& e : decision.events) wf::Apply(state, e);
    (void)state.SerializeAsString();
  }
  return 0;
}
